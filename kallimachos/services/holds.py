"""Place and cancel holds; a hold on a copy that is out recalls it (UOC-4a).

Holds are served first come, first served (UOC-4c).  A hold is placed at the patron's own
library, for a work (any copy) or one copy, with a pickup branch of that library.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kallimachos.db.models import Branch, Hold, Item, Library, Loan, Patron
from kallimachos.domain import holds as hold_rules
from kallimachos.domain.actors import SYSTEM, Actor
from kallimachos.domain.policy import MemberLibrary
from kallimachos.policies import PolicySet
from kallimachos.services import circulation_facts as facts
from kallimachos.services.business_time import library_today
from kallimachos.services.copy_routing import route_copy
from kallimachos.services.desk_access import may_act_for_patron
from kallimachos.services.events import record_event
from kallimachos.services.holiday_data import calendar_for
from kallimachos.services.loanable import item_loanable
from kallimachos.services.outcome import Abort, Outcome, Problem, forbidden, invalid, not_found


@dataclass(frozen=True)
class Placed:
    hold: Hold
    recalled: Loan | None


async def place_hold(
    sessions: async_sessionmaker[AsyncSession],
    policies: PolicySet,
    *,
    actor: Actor,
    now: datetime,
    patron_card: str,
    pickup_branch: str,
    work_id: int | None,
    item_id: int | None,
) -> Outcome[Placed]:
    try:
        async with sessions.begin() as session:
            done = await _place(
                session, policies, actor, now, patron_card, pickup_branch, work_id, item_id
            )
    except Abort as stop:
        return Outcome(problems=stop.problems)
    return Outcome(value=done)


async def _place(
    session: AsyncSession,
    policies: PolicySet,
    actor: Actor,
    now: datetime,
    patron_card: str,
    pickup_code: str,
    work_id: int | None,
    item_id: int | None,
) -> Placed:
    if (work_id is None) == (item_id is None):
        raise Abort(invalid("give exactly one of workId or itemId", "workId"))
    patron = await facts.patron_by_card(session, patron_card, lock=True)
    if patron is None:
        raise Abort(not_found("patron with card", patron_card, "patronCardNumber"))
    library_row = await session.get(Library, patron.library_id)
    assert library_row is not None
    if not may_act_for_patron(actor, patron.card_number, library_row.code):
        raise Abort(forbidden("only the patron or their library's staff may place this hold"))
    found = await facts.branch_by_code(session, pickup_code)
    if found is None or found[1].id != library_row.id:
        raise Abort(
            invalid(f"{pickup_code!r} is not a branch of {library_row.code}", "pickupBranch")
        )
    pickup = found[0]
    library = policies.member(library_row.code)
    copies = await _copies(session, library_row.id, work_id, item_id)
    if not copies:
        target = "itemId" if item_id is not None else "workId"
        raise Abort(
            Problem(
                "NO_LOCAL_COPY",
                f"{library_row.code} holds no copy of it: request it through interlibrary loan",
                ("input", target),
                "CONS-2",
            )
        )
    loanable = item_loanable(policies)
    lendable = [c for c in copies if loanable(library_row.code, c)]
    if not lendable:
        raise Abort(
            Problem("NOT_LOANABLE", "no copy of it is for loan here", ("input", "workId"), None)
        )
    existing = await _active_holds(session, library_row.id, lendable[0].work_id, item_id)
    cards = await facts.patron_cards(session, {h.patron_id for h in existing})
    loans = await _open_loans(session, [c.id for c in lendable])
    refusals = hold_rules.hold_refusals(
        library,
        patron=patron.card_number,
        holds=[facts.hold_fact(h, cards[h.patron_id], None) for h in existing],
        available_copies=sum(1 for c in lendable if c.status == "AVAILABLE"),
        patron_has_it_on_loan=any(loan.patron_id == patron.id for loan in loans),
    )
    if refusals:
        raise Abort(*(Problem.from_refusal(r) for r in refusals))
    hold = Hold(
        patron_id=patron.id,
        work_id=lendable[0].work_id if item_id is None else None,
        item_id=item_id,
        pickup_branch_id=pickup.id,
        status="WAITING",
        placed_at=now,
    )
    session.add(hold)
    await session.flush()
    recalled = await _recall(session, library, loans, now)
    record_event(
        session,
        actor=actor,
        now=now,
        recorded_at=now,
        aggregate_type="hold",
        aggregate_id=hold.id,
        kind="hold.placed",
        rule=hold_rules.QUEUE_RULE,
        after={"status": hold.status, "pickup_branch": pickup.code},
        payload={"work_ids": [lendable[0].work_id]},
    )
    return Placed(hold=hold, recalled=recalled)


async def _copies(
    session: AsyncSession, library_id: int, work_id: int | None, item_id: int | None
) -> list[Item]:
    query = select(Item).where(Item.library_id == library_id)
    query = (
        query.where(Item.id == item_id)
        if item_id is not None
        else query.where(Item.work_id == work_id)
    )
    return list(await session.scalars(query.order_by(Item.id)))


async def _active_holds(
    session: AsyncSession, library_id: int, work_id: int, item_id: int | None
) -> list[Hold]:
    query = (
        select(Hold)
        .join(Branch, Branch.id == Hold.pickup_branch_id)
        .where(
            Branch.library_id == library_id,
            Hold.status.in_(facts.ACTIVE_HOLD_STATUSES),
            (Hold.work_id == work_id) | (Hold.item_id == item_id if item_id else False),
        )
        .order_by(Hold.placed_at, Hold.id)
        .with_for_update(of=Hold)
    )
    return list(await session.scalars(query))


async def _open_loans(session: AsyncSession, item_ids: list[int]) -> list[Loan]:
    query = (
        select(Loan)
        .where(Loan.item_id.in_(item_ids), Loan.returned_at.is_(None))
        .order_by(Loan.checked_out_at, Loan.id)
        .with_for_update()
    )
    return list(await session.scalars(query))


async def _recall(
    session: AsyncSession, library: MemberLibrary, loans: list[Loan], now: datetime
) -> Loan | None:
    """Recall the longest-held loan not yet recalled; its due date only moves earlier."""
    candidates = [loan for loan in loans if not loan.recalled]
    if not candidates:
        return None
    loan = candidates[0]
    today = library_today(library, now)
    decision = hold_rules.recall(
        library, calendar_for(library, None), current_due_on=loan.due_date, recalled_on=today
    )
    if decision is None:
        return None
    before = {"due_date": loan.due_date.isoformat(), "recalled": loan.recalled}
    loan.due_date = decision.due_on
    loan.recalled = True
    loan.recalled_at = now
    loan.version += 1
    record_event(
        session,
        actor=SYSTEM,
        now=now,
        recorded_at=now,
        aggregate_type="loan",
        aggregate_id=loan.id,
        kind="loan.recalled",
        rule=decision.rule,
        before=before,
        after={"due_date": loan.due_date.isoformat(), "recalled": True},
        payload={"patron_id": loan.patron_id},
    )
    return loan


@dataclass(frozen=True)
class Cancelled:
    hold: Hold


async def cancel_hold(
    sessions: async_sessionmaker[AsyncSession],
    policies: PolicySet,
    *,
    actor: Actor,
    now: datetime,
    hold_id: int,
) -> Outcome[Cancelled]:
    """Cancel a hold; a copy kept on the shelf for it goes to the next hold or the shelf."""
    try:
        async with sessions.begin() as session:
            row = (
                await session.execute(
                    select(Hold, Patron, Library)
                    .join(Patron, Patron.id == Hold.patron_id)
                    .join(Library, Library.id == Patron.library_id)
                    .where(Hold.id == hold_id)
                    .with_for_update(of=Hold)
                )
            ).first()
            if row is None:
                raise Abort(not_found("hold", str(hold_id), "holdId"))
            hold, patron, library_row = row
            if not may_act_for_patron(actor, patron.card_number, library_row.code):
                raise Abort(forbidden("only the patron or their library's staff may cancel it"))
            if hold.status not in facts.ACTIVE_HOLD_STATUSES:
                raise Abort(
                    Problem(
                        "HOLD_CLOSED",
                        f"the hold is already {hold.status.lower()}",
                        ("input", "holdId"),
                    )
                )
            before = {"status": hold.status}
            hold.status = "CANCELLED"
            hold.closed_at = now
            hold.version += 1
            work_ids = [hold.work_id] if hold.work_id else []
            if hold.trapped_item_id is not None:
                item = await session.get(Item, hold.trapped_item_id, with_for_update=True)
                assert item is not None
                work_ids = [item.work_id]
                await _release(session, policies.member(library_row.code), item, now)
            record_event(
                session,
                actor=actor,
                now=now,
                recorded_at=now,
                aggregate_type="hold",
                aggregate_id=hold.id,
                kind="hold.cancelled",
                before=before,
                after={"status": hold.status},
                payload={"work_ids": work_ids},
            )
    except Abort as stop:
        return Outcome(problems=stop.problems)
    return Outcome(value=Cancelled(hold=hold))


async def _release(
    session: AsyncSession, library: MemberLibrary, item: Item, now: datetime
) -> None:
    """A copy freed from a hold goes to the next waiting hold, else back to the shelf."""
    branch = await session.get(Branch, item.current_branch_id or item.home_branch_id)
    assert branch is not None
    await route_copy(session, library, item, branch, library_today(library, now), now)
