"""``cancelHold``: the patron (or staff) withdraws a hold; a kept copy moves on."""

from __future__ import annotations

import strawberry

from kallimachos.schema.circulation import Hold
from kallimachos.schema.context import Info
from kallimachos.schema.mutations.common import UserError, node_id, user_errors
from kallimachos.services.holds import cancel_hold
from kallimachos.services.outcome import Abort


@strawberry.input
class CancelHoldInput:
    hold_id: strawberry.ID


@strawberry.type
class CancelHoldPayload:
    hold: Hold | None
    user_errors: list[UserError]


async def resolve(info: Info, input: CancelHoldInput) -> CancelHoldPayload:
    services = info.context.services
    try:
        outcome = await cancel_hold(
            services.sessions,
            services.policies,
            actor=info.context.actor,
            now=info.context.now,
            hold_id=node_id(input.hold_id, "Hold", "holdId"),
        )
    except Abort as stop:
        return CancelHoldPayload(hold=None, user_errors=user_errors(stop.problems))
    if outcome.value is None:
        return CancelHoldPayload(hold=None, user_errors=user_errors(outcome.problems))
    return CancelHoldPayload(hold=Hold.from_row(outcome.value.hold), user_errors=[])
