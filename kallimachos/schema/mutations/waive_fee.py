"""``waiveFee``: cancel a charge with a recorded reason (staff); audited."""

from __future__ import annotations

import strawberry

from kallimachos.schema.circulation import Fee
from kallimachos.schema.context import Info
from kallimachos.schema.mutations.common import UserError, node_id, user_errors
from kallimachos.services.fees import waive_fee
from kallimachos.services.outcome import Abort


@strawberry.input
class WaiveFeeInput:
    fee_id: strawberry.ID
    reason: str


@strawberry.type
class WaiveFeePayload:
    fee: Fee | None
    user_errors: list[UserError]


async def resolve(info: Info, input: WaiveFeeInput) -> WaiveFeePayload:
    try:
        outcome = await waive_fee(
            info.context.services.sessions,
            actor=info.context.actor,
            now=info.context.now,
            fee_id=node_id(input.fee_id, "Fee", "feeId"),
            reason=input.reason,
        )
    except Abort as stop:
        return WaiveFeePayload(fee=None, user_errors=user_errors(stop.problems))
    if outcome.value is None:
        return WaiveFeePayload(fee=None, user_errors=user_errors(outcome.problems))
    return WaiveFeePayload(fee=Fee.from_row(outcome.value.fee), user_errors=[])
