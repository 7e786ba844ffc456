"""``checkIn``: a copy comes back to a branch desk (staff); fines, damage, holds, transit."""

from __future__ import annotations

import strawberry

from kallimachos.db.queries import ItemView
from kallimachos.schema.catalogue import Item, _item
from kallimachos.schema.circulation import Fee, Hold, Loan
from kallimachos.schema.context import Info
from kallimachos.schema.mutations.common import UserError, text, user_errors
from kallimachos.services.checkin import check_in
from kallimachos.services.outcome import Abort


@strawberry.input
class CheckInInput:
    item_barcode: str
    branch: str = strawberry.field(description="The branch code of the desk receiving it.")
    damaged: bool | None = strawberry.field(
        default=None, description="Damage found at inspection: charges the replacement (UOC-3)."
    )


@strawberry.type
class CheckInPayload:
    loan: Loan | None
    item: Item | None
    fees: list[Fee]
    hold: Hold | None
    user_errors: list[UserError]


async def resolve(info: Info, input: CheckInInput) -> CheckInPayload:
    services = info.context.services
    try:
        outcome = await check_in(
            services.sessions,
            services.policies,
            actor=info.context.actor,
            now=info.context.now,
            item_barcode=text(input.item_barcode, "itemBarcode"),
            branch_code=text(input.branch, "branch"),
            damaged=bool(input.damaged),
        )
    except Abort as stop:
        return CheckInPayload(
            loan=None, item=None, fees=[], hold=None, user_errors=user_errors(stop.problems)
        )
    done = outcome.value
    if done is None:
        return CheckInPayload(
            loan=None, item=None, fees=[], hold=None, user_errors=user_errors(outcome.problems)
        )
    return CheckInPayload(
        loan=Loan.from_row(done.loan) if done.loan else None,
        item=_item(info, ItemView(item=done.item, due_date=None, hold_queue=0)),
        fees=[Fee.from_row(f) for f in done.fees],
        hold=Hold.from_row(done.hold) if done.hold else None,
        user_errors=[],
    )
