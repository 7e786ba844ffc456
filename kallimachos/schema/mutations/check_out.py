"""``checkOut``: lend a copy to a patron at a branch desk (staff)."""

from __future__ import annotations

import strawberry

from kallimachos.schema.circulation import Loan
from kallimachos.schema.context import Info
from kallimachos.schema.mutations.common import UserError, text, user_errors
from kallimachos.services.checkout import check_out
from kallimachos.services.outcome import Abort


@strawberry.input
class CheckOutInput:
    item_barcode: str
    patron_card_number: str
    branch: str = strawberry.field(description="The branch code of the desk lending it.")


@strawberry.type
class CheckOutPayload:
    loan: Loan | None
    user_errors: list[UserError]


async def resolve(info: Info, input: CheckOutInput) -> CheckOutPayload:
    services = info.context.services
    try:
        outcome = await check_out(
            services.sessions,
            services.policies,
            actor=info.context.actor,
            now=info.context.now,
            item_barcode=text(input.item_barcode, "itemBarcode"),
            patron_card=text(input.patron_card_number, "patronCardNumber"),
            branch_code=text(input.branch, "branch"),
        )
    except Abort as stop:
        return CheckOutPayload(loan=None, user_errors=user_errors(stop.problems))
    if outcome.value is None:
        return CheckOutPayload(loan=None, user_errors=user_errors(outcome.problems))
    return CheckOutPayload(loan=Loan.from_row(outcome.value.loan), user_errors=[])
