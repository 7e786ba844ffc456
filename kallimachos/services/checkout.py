"""Check a copy out to a patron at a branch desk.

The owning library's policy decides (loan terms follow the item's owner; limits and blocks
the patron's library — the same library here, since a desk lends its own copies to its own
patrons; other libraries' readers go through interlibrary loan).  A patron may borrow at
any branch of their library (UOC-6); the copy later goes back to its home branch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kallimachos.db.models import Hold, Item, Loan, Patron
from kallimachos.domain import circulation
from kallimachos.domain.actors import Actor
from kallimachos.policies import PolicySet
from kallimachos.services import circulation_facts as facts
from kallimachos.services.business_time import library_today
from kallimachos.services.desk_access import may_act_at_desk
from kallimachos.services.events import record_event
from kallimachos.services.holiday_data import calendar_for
from kallimachos.services.outcome import Abort, Outcome, Problem, forbidden, not_found


@dataclass(frozen=True)
class CheckedOut:
    loan: Loan
    item: Item
    patron: Patron


async def check_out(
    sessions: async_sessionmaker[AsyncSession],
    policies: PolicySet,
    *,
    actor: Actor,
    now: datetime,
    item_barcode: str,
    patron_card: str,
    branch_code: str,
) -> Outcome[CheckedOut]:
    try:
        async with sessions.begin() as session:
            done = await _check_out(
                session, policies, actor, now, item_barcode, patron_card, branch_code
            )
    except Abort as stop:
        return Outcome(problems=stop.problems)
    return Outcome(value=done)


async def _check_out(
    session: AsyncSession,
    policies: PolicySet,
    actor: Actor,
    now: datetime,
    item_barcode: str,
    patron_card: str,
    branch_code: str,
) -> CheckedOut:
    found = await facts.branch_by_code(session, branch_code)
    if found is None:
        raise Abort(not_found("branch", branch_code, "branch"))
    branch, library_row = found
    if not may_act_at_desk(actor, library_row.code, branch.code):
        raise Abort(forbidden(f"only staff of {library_row.code} may lend at {branch.code}"))
    patron = await facts.patron_by_card(session, patron_card, lock=True)
    if patron is None:
        raise Abort(not_found("patron with card", patron_card, "patronCardNumber"))
    if patron.library_id != library_row.id:
        raise Abort(
            Problem(
                "PATRON_OF_ANOTHER_LIBRARY",
                f"{patron_card} is a reader of another library: request the copy through "
                "interlibrary loan instead",
                ("input", "patronCardNumber"),
                "CONS-2",
            )
        )
    item = await facts.item_by_barcode(session, library_row.id, item_barcode, lock=True)
    if item is None:
        raise Abort(not_found(f"{library_row.code} copy with barcode", item_barcode, "itemBarcode"))
    library = policies.member(library_row.code)
    today = library_today(library, now)
    holds = await facts.active_holds_for(session, item, lock=True)
    decision = circulation.checkout(
        library,
        calendar_for(library, branch.code),
        patron=await facts.patron_facts(session, patron, today),
        item=facts.item_facts(item, holds, patron.id),
        today=today,
    )
    if isinstance(decision, circulation.Refused):
        raise Abort(*(Problem.from_refusal(r) for r in decision.refusals))
    before = {"status": item.status}
    loan = Loan(
        item_id=item.id,
        patron_id=patron.id,
        library_id=library_row.id,
        checkout_branch_id=branch.id,
        checked_out_at=now,
        due_date=decision.due_on,
        renewals=0,
        recalled=False,
        rule=decision.rule,
    )
    session.add(loan)
    item.status = "ON_LOAN"
    item.current_branch_id = branch.id
    item.version += 1
    fulfilled: Hold | None = next(
        (h for h in holds if h.patron_id == patron.id and h.trapped_item_id == item.id), None
    )
    if fulfilled is not None:
        fulfilled.status = "FULFILLED"
        fulfilled.closed_at = now
    await session.flush()
    record_event(
        session,
        actor=actor,
        now=now,
        recorded_at=now,
        aggregate_type="loan",
        aggregate_id=loan.id,
        kind="loan.checked_out",
        rule=decision.rule,
        before=before,
        after={
            "status": item.status,
            "due_date": loan.due_date.isoformat(),
            "item_id": item.id,
            "patron_id": patron.id,
            "branch": branch.code,
        },
        payload={"work_ids": [item.work_id], "reason": decision.due.reason},
    )
    return CheckedOut(loan=loan, item=item, patron=patron)
