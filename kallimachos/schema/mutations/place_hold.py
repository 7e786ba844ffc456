"""``placeHold``: queue for a work or a copy at the patron's library; recalls a loan (UOC-4a)."""

from __future__ import annotations

import strawberry

from kallimachos.domain.actors import ActorKind
from kallimachos.schema.circulation import Hold, Loan
from kallimachos.schema.context import Info
from kallimachos.schema.mutations.common import UserError, node_id, text, user_errors
from kallimachos.services.holds import place_hold
from kallimachos.services.outcome import Abort


@strawberry.input
class PlaceHoldInput:
    work_id: strawberry.ID | None = None
    item_id: strawberry.ID | None = None
    patron_card_number: str
    pickup_branch: str


@strawberry.type
class PlaceHoldPayload:
    hold: Hold | None
    recalled_loan: Loan | None = strawberry.field(
        description="The loan recalled for this hold, if any (its due date only moved earlier)."
    )
    user_errors: list[UserError]


async def resolve(info: Info, input: PlaceHoldInput) -> PlaceHoldPayload:
    services = info.context.services
    try:
        outcome = await place_hold(
            services.sessions,
            services.policies,
            actor=info.context.actor,
            now=info.context.now,
            patron_card=text(input.patron_card_number, "patronCardNumber"),
            pickup_branch=text(input.pickup_branch, "pickupBranch"),
            work_id=node_id(input.work_id, "Work", "workId") if input.work_id else None,
            item_id=node_id(input.item_id, "Item", "itemId") if input.item_id else None,
        )
    except Abort as stop:
        return PlaceHoldPayload(
            hold=None, recalled_loan=None, user_errors=user_errors(stop.problems)
        )
    done = outcome.value
    if done is None:
        return PlaceHoldPayload(
            hold=None, recalled_loan=None, user_errors=user_errors(outcome.problems)
        )
    return PlaceHoldPayload(
        hold=Hold.from_row(done.hold, position=None),
        # the recalled loan is another reader's: only staff and admins may see it
        recalled_loan=Loan.from_row(done.recalled)
        if done.recalled and info.context.actor.kind in (ActorKind.STAFF, ActorKind.ADMIN)
        else None,
        user_errors=[],
    )
