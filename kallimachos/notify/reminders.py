"""Due-soon and overdue reminders: events written by a sweep, sent like any other notice.

No desk action marks "due in two days", so the worker's periodic sweep writes one
``loan.due_soon`` event per open loan when its due date is ``due_soon_days`` or fewer days
away (in the library's own time zone), and one ``loan.overdue`` event the first time it
finds the loan past due.  Each is written once per due date: a renewal or a recall moves
the date, and the new date gets its own reminders.  The events are the audit record of
what patrons were told.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kallimachos.db.models import Event, Library, Loan
from kallimachos.domain.actors import SYSTEM
from kallimachos.policies import PolicySet
from kallimachos.services.business_time import library_today
from kallimachos.services.events import record_event

DUE_SOON = "loan.due_soon"
OVERDUE = "loan.overdue"


async def remind(
    sessions: async_sessionmaker[AsyncSession],
    policies: PolicySet,
    *,
    now: datetime,
    due_soon_days: int,
) -> int:
    """Write the reminder events due at ``now``; returns how many were written."""
    written = 0
    async with sessions.begin() as session:
        codes = {row.id: row.code for row in await session.scalars(select(Library))}
        today = {
            library_id: library_today(policies.member(code), now)
            for library_id, code in codes.items()
            if code in {m.code for m in policies.members}
        }
        if not today:
            return 0
        horizon = max(today.values()) + timedelta(days=due_soon_days)
        loans = list(
            await session.scalars(
                select(Loan)
                .where(Loan.returned_at.is_(None), Loan.due_date <= horizon)
                .order_by(Loan.id)
            )
        )
        already = await _reminded(session, [loan.id for loan in loans])
        for loan in loans:
            day = today.get(loan.library_id)
            if day is None:
                continue
            if loan.due_date < day:
                kind = OVERDUE
            elif (loan.due_date - day).days <= due_soon_days:
                kind = DUE_SOON
            else:
                continue
            due = loan.due_date.isoformat()
            if (kind, due) in already[loan.id]:
                continue
            record_event(
                session,
                actor=SYSTEM,
                now=now,
                recorded_at=now,
                aggregate_type="loan",
                aggregate_id=loan.id,
                kind=kind,
                after={"due_date": due},
                payload={"patron_id": loan.patron_id, "due_date": due},
            )
            written += 1
    return written


async def _reminded(session: AsyncSession, loan_ids: list[int]) -> dict[int, set[tuple[str, str]]]:
    """(kind, due date) of the reminders already written for each loan."""
    found: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for chunk in (loan_ids[i : i + 500] for i in range(0, len(loan_ids), 500)):
        rows = await session.execute(
            select(Event.aggregate_id, Event.kind, Event.payload).where(
                Event.aggregate_type == "loan",
                Event.aggregate_id.in_(chunk),
                Event.kind.in_((DUE_SOON, OVERDUE)),
            )
        )
        for loan_id, kind, payload in rows:
            found[loan_id].add((kind, str((payload or {}).get("due_date"))))
    return found
