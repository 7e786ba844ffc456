"""``payFee``: take a (partial) payment at the desk (staff)."""

from __future__ import annotations

import strawberry

from kallimachos.schema.circulation import Fee
from kallimachos.schema.context import Info
from kallimachos.schema.mutations.common import UserError, node_id, user_errors
from kallimachos.services.fees import pay_fee
from kallimachos.services.outcome import Abort


@strawberry.input
class PayFeeInput:
    fee_id: strawberry.ID
    amount: str = strawberry.field(description='Decimal string, e.g. "2.50".')


@strawberry.type
class PayFeePayload:
    fee: Fee | None
    user_errors: list[UserError]


async def resolve(info: Info, input: PayFeeInput) -> PayFeePayload:
    try:
        outcome = await pay_fee(
            info.context.services.sessions,
            actor=info.context.actor,
            now=info.context.now,
            fee_id=node_id(input.fee_id, "Fee", "feeId"),
            amount=input.amount,
        )
    except Abort as stop:
        return PayFeePayload(fee=None, user_errors=user_errors(stop.problems))
    if outcome.value is None:
        return PayFeePayload(fee=None, user_errors=user_errors(outcome.problems))
    return PayFeePayload(fee=Fee.from_row(outcome.value.fee), user_errors=[])
