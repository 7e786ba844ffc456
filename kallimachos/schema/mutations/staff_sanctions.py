"""``suspendPatron``, ``chargeSecurityGateFine``, ``declareItemLost``: staff decisions (AEG-8)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry

from kallimachos.schema.circulation import Fee
from kallimachos.schema.context import Info
from kallimachos.schema.mutations.common import UserError, node_id, text, user_errors
from kallimachos.schema.patron import Patron
from kallimachos.services import sanctions
from kallimachos.services.outcome import Abort, Outcome


@strawberry.input
class SuspendPatronInput:
    patron_card_number: str
    reason: str


@strawberry.input
class ChargeSecurityGateFineInput:
    patron_card_number: str
    reason: str


@strawberry.input
class DeclareItemLostInput:
    loan_id: strawberry.ID


@strawberry.type
class SanctionPayload:
    patron: Patron | None
    fees: list[Fee]
    user_errors: list[UserError]


def _payload(outcome: Outcome[sanctions.Sanctioned]) -> SanctionPayload:
    done = outcome.value
    if done is None:
        return SanctionPayload(patron=None, fees=[], user_errors=user_errors(outcome.problems))
    return SanctionPayload(
        patron=Patron.from_row(done.patron),
        fees=[Fee.from_row(f) for f in done.fees],
        user_errors=[],
    )


async def _on_patron(
    info: Info,
    card_number: str,
    reason: str,
    decide: Callable[..., Awaitable[Outcome[sanctions.Sanctioned]]],
) -> SanctionPayload:
    """A staff decision about the patron with this card, for the reason given."""
    s = info.context.services
    try:
        card = text(card_number, "patronCardNumber")
    except Abort as stop:
        return SanctionPayload(patron=None, fees=[], user_errors=user_errors(stop.problems))
    return _payload(
        await decide(
            s.sessions,
            s.policies,
            actor=info.context.actor,
            now=info.context.now,
            patron_card=card,
            reason=reason,
        )
    )


async def suspend(info: Info, input: SuspendPatronInput) -> SanctionPayload:
    return await _on_patron(info, input.patron_card_number, input.reason, sanctions.suspend_patron)


async def security_gate(
    info: Info,
    input: ChargeSecurityGateFineInput,
) -> SanctionPayload:
    return await _on_patron(
        info, input.patron_card_number, input.reason, sanctions.charge_security_gate_fine
    )


async def lost(info: Info, input: DeclareItemLostInput) -> SanctionPayload:
    s = info.context.services
    try:
        loan_id = node_id(input.loan_id, "Loan", "loanId")
    except Abort as stop:
        return SanctionPayload(patron=None, fees=[], user_errors=user_errors(stop.problems))
    return _payload(
        await sanctions.declare_item_lost(
            s.sessions,
            s.policies,
            actor=info.context.actor,
            now=info.context.now,
            loan_id=loan_id,
        )
    )
