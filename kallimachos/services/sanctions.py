"""Staff decisions about a patron or a lost copy (AEG-8), each audited with its rule.

* Systematic late returns: borrowing suspended for the policy's period (one semester).
* Setting off the security gate with unborrowed material: the policy's fine.
* A copy declared lost: the lost-material fine now, and its value, waived if the patron
  replaces it in kind within the policy's window (15 days at AEG).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kallimachos.db.models import Fee, Item, Library, Loan, Patron
from kallimachos.domain import blocks, fines
from kallimachos.domain.actors import Actor
from kallimachos.policies import PolicySet
from kallimachos.services.business_time import library_today
from kallimachos.services.desk_access import may_act_at_desk
from kallimachos.services.events import record_event
from kallimachos.services.outcome import Abort, Outcome, Problem, forbidden, invalid, not_found


@dataclass
class Sanctioned:
    patron: Patron
    fees: list[Fee] = field(default_factory=list)


async def _patron_at_desk(session: AsyncSession, card: str, actor: Actor) -> tuple[Patron, Library]:
    row = (
        await session.execute(
            select(Patron, Library)
            .join(Library, Library.id == Patron.library_id)
            .where(Patron.card_number == card)
            .with_for_update(of=Patron)
        )
    ).first()
    if row is None:
        raise Abort(not_found("patron with card", card, "patronCardNumber"))
    patron, library = row
    if not may_act_at_desk(actor, library.code):
        raise Abort(forbidden(f"only staff of {library.code} may sanction this patron"))
    return patron, library


def _reason(text: str) -> str:
    cleaned = text.strip()
    if not cleaned or len(cleaned) > 500:
        raise Abort(invalid("a reason of 1-500 characters is required", "reason"))
    return cleaned


async def suspend_patron(
    sessions: async_sessionmaker[AsyncSession],
    policies: PolicySet,
    *,
    actor: Actor,
    now: datetime,
    patron_card: str,
    reason: str,
) -> Outcome[Sanctioned]:
    try:
        why = _reason(reason)
        async with sessions.begin() as session:
            patron, library_row = await _patron_at_desk(session, patron_card, actor)
            library = policies.member(library_row.code)
            until = blocks.systematic_lateness_suspension(library, library_today(library, now))
            if until is None:
                raise Abort(
                    Problem(
                        "NOT_APPLICABLE", f"{library_row.code} has no suspension for late returns"
                    )
                )
            before = {"suspended_until": str(patron.suspended_until)}
            patron.suspended_until = until
            patron.suspension_rule = library.blocks.rule_for("systematic_late_suspension_months")
            record_event(
                session,
                actor=actor,
                now=now,
                recorded_at=now,
                aggregate_type="patron",
                aggregate_id=patron.id,
                kind="patron.suspended",
                rule=patron.suspension_rule,
                before=before,
                after={"suspended_until": until.isoformat()},
                payload={"reason": why},
            )
    except Abort as stop:
        return Outcome(problems=stop.problems)
    return Outcome(value=Sanctioned(patron=patron))


async def charge_security_gate_fine(
    sessions: async_sessionmaker[AsyncSession],
    policies: PolicySet,
    *,
    actor: Actor,
    now: datetime,
    patron_card: str,
    reason: str,
) -> Outcome[Sanctioned]:
    try:
        why = _reason(reason)
        async with sessions.begin() as session:
            patron, library_row = await _patron_at_desk(session, patron_card, actor)
            fine = fines.security_gate_fine(policies.member(library_row.code))
            if fine is None:
                raise Abort(
                    Problem("NOT_APPLICABLE", f"{library_row.code} has no security-gate fine")
                )
            fee = Fee(
                patron_id=patron.id,
                library_id=library_row.id,
                kind=fine.kind,
                amount=fine.amount,
                paid=Decimal("0.00"),
                currency="EUR",
                status="OPEN",
                rule=fine.rule,
                note=why,
                assessed_at=now,
            )
            session.add(fee)
            await session.flush()
            record_event(
                session,
                actor=actor,
                now=now,
                recorded_at=now,
                aggregate_type="fee",
                aggregate_id=fee.id,
                kind="fee.assessed",
                rule=fine.rule,
                after={"amount": str(fee.amount), "kind": fee.kind},
                payload={"patron_id": patron.id, "reason": why},
            )
    except Abort as stop:
        return Outcome(problems=stop.problems)
    return Outcome(value=Sanctioned(patron=patron, fees=[fee]))


async def declare_item_lost(
    sessions: async_sessionmaker[AsyncSession],
    policies: PolicySet,
    *,
    actor: Actor,
    now: datetime,
    loan_id: int,
) -> Outcome[Sanctioned]:
    """The borrower reports a copy lost: close the loan, mark the copy, charge per policy."""
    try:
        async with sessions.begin() as session:
            row = (
                await session.execute(
                    select(Loan, Item, Patron, Library)
                    .join(Item, Item.id == Loan.item_id)
                    .join(Patron, Patron.id == Loan.patron_id)
                    .join(Library, Library.id == Loan.library_id)
                    .where(Loan.id == loan_id)
                    .with_for_update(of=Loan)
                )
            ).first()
            if row is None:
                raise Abort(not_found("loan", str(loan_id), "loanId"))
            loan, item, patron, library_row = row
            if not may_act_at_desk(actor, library_row.code):
                raise Abort(forbidden(f"only staff of {library_row.code} may declare it lost"))
            if loan.returned_at is not None:
                raise Abort(
                    Problem("LOAN_CLOSED", "the loan was already returned", ("input", "loanId"))
                )
            library = policies.member(library_row.code)
            today = library_today(library, now)
            due = fines.replacement_charges(
                library, reported_on=today, today=today, item_value=item.replacement_cost
            )
            charged: list[Fee] = []
            for charge in due.charges:
                if charge.amount <= 0:
                    continue
                note = charge.reason
                if due.replace_by is not None:
                    note += f"; waived if replaced in kind by {due.replace_by.isoformat()}"
                charged.append(
                    Fee(
                        patron_id=patron.id,
                        library_id=library_row.id,
                        loan_id=loan.id,
                        kind=charge.kind,
                        amount=charge.amount,
                        paid=Decimal("0.00"),
                        currency="EUR",
                        status="OPEN",
                        rule=charge.rule,
                        note=note,
                        assessed_at=now,
                    )
                )
            session.add_all(charged)
            loan.returned_at = now
            loan.version += 1
            item.status = "LOST"
            item.version += 1
            await session.flush()
            record_event(
                session,
                actor=actor,
                now=now,
                recorded_at=now,
                aggregate_type="item",
                aggregate_id=item.id,
                kind="item.lost",
                rule=charged[0].rule if charged else None,
                before={"status": "ON_LOAN"},
                after={
                    "status": "LOST",
                    "fees": [str(f.amount) for f in charged],
                    "replace_by": due.replace_by.isoformat() if due.replace_by else None,
                },
                payload={"work_ids": [item.work_id], "patron_id": patron.id},
            )
    except Abort as stop:
        return Outcome(problems=stop.problems)
    return Outcome(value=Sanctioned(patron=patron, fees=charged))
