"""``checkOut``: lend a copy to a patron at a branch desk (staff)."""

from __future__ import annotations

import strawberry

from kallimachos.schema.circulation import Loan
from kallimachos.schema.context import Info
from kallimachos.schema.mutations.common import UserError, iso_date, text, user_errors
from kallimachos.services.checkout import check_out
from kallimachos.services.outcome import Abort


@strawberry.input
class CheckOutInput:
    item_barcode: str
    patron_card_number: str
    branch: str = strawberry.field(description="The branch code of the desk lending it.")
    override_reason: str | None = strawberry.field(
        default=None,
        description=(
            "Staff only: set aside a limit or block with this reason (audited). Never "
            "overrides availability or loanability."
        ),
    )
    exceptional_due_date: str | None = strawberry.field(
        default=None,
        description="Staff only, with a reason: a longer loan within the category's cap (AEG-5).",
    )


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
            override_reason=input.override_reason,
            exceptional_due_on=iso_date(input.exceptional_due_date, "exceptionalDueDate"),
        )
    except Abort as stop:
        return CheckOutPayload(loan=None, user_errors=user_errors(stop.problems))
    if outcome.value is None:
        return CheckOutPayload(loan=None, user_errors=user_errors(outcome.problems))
    return CheckOutPayload(loan=Loan.from_row(outcome.value.loan), user_errors=[])
