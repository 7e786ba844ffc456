"""Renew a loan: the borrower online, or their library's staff at the desk.

The category's renewal count and period apply (UOC-5-UG two renewals; none for most other
categories); a waiting hold, a recall or a blocked borrower stops a renewal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kallimachos.db.models import Item, Library, Loan, Patron
from kallimachos.domain import circulation
from kallimachos.domain.actors import Actor
from kallimachos.policies import PolicySet
from kallimachos.services import circulation_facts as facts
from kallimachos.services.business_time import library_today
from kallimachos.services.desk_access import may_act_for_patron
from kallimachos.services.events import record_event
from kallimachos.services.holiday_data import calendar_for
from kallimachos.services.outcome import Abort, Outcome, Problem, forbidden, not_found


@dataclass(frozen=True)
class Renewed:
    loan: Loan


async def renew_loan(
    sessions: async_sessionmaker[AsyncSession],
    policies: PolicySet,
    *,
    actor: Actor,
    now: datetime,
    loan_id: int,
) -> Outcome[Renewed]:
    try:
        async with sessions.begin() as session:
            done = await _renew(session, policies, actor, now, loan_id)
    except Abort as stop:
        return Outcome(problems=stop.problems)
    return Outcome(value=done)


async def _renew(
    session: AsyncSession, policies: PolicySet, actor: Actor, now: datetime, loan_id: int
) -> Renewed:
    row = (
        await session.execute(
            select(Loan, Patron, Item, Library)
            .join(Patron, Patron.id == Loan.patron_id)
            .join(Item, Item.id == Loan.item_id)
            .join(Library, Library.id == Loan.library_id)
            .where(Loan.id == loan_id)
            .with_for_update(of=Loan)
        )
    ).first()
    if row is None:
        raise Abort(not_found("loan", str(loan_id), "loanId"))
    loan, patron, item, library_row = row
    if not may_act_for_patron(actor, patron.card_number, library_row.code):
        raise Abort(forbidden("only the borrower or their library's staff may renew this loan"))
    if loan.returned_at is not None:
        raise Abort(Problem("LOAN_CLOSED", "the loan was already returned", ("input", "loanId")))
    library = policies.member(library_row.code)
    today = library_today(library, now)
    holds = await facts.active_holds_for(session, item)
    decision = circulation.renew(
        library,
        calendar_for(library, None),
        patron=await facts.patron_facts(session, patron, today),
        item=facts.item_facts(item, holds, patron.id),
        loan=circulation.LoanFacts(
            checked_out_on=library_today(library, loan.checked_out_at),
            due_on=loan.due_date,
            renewals=loan.renewals,
            recalled=loan.recalled,
        ),
        today=today,
    )
    if isinstance(decision, circulation.Refused):
        raise Abort(*(Problem.from_refusal(r) for r in decision.refusals))
    before = {"due_date": loan.due_date.isoformat(), "renewals": loan.renewals}
    loan.due_date = decision.due_on
    loan.renewals += 1
    loan.version += 1
    record_event(
        session,
        actor=actor,
        now=now,
        recorded_at=now,
        aggregate_type="loan",
        aggregate_id=loan.id,
        kind="loan.renewed",
        rule=decision.rule,
        before=before,
        after={"due_date": loan.due_date.isoformat(), "renewals": loan.renewals},
    )
    return Renewed(loan=loan)
