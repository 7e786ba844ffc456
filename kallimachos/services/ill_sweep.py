"""The nightly ILL job: loans past the supplier's date become OVERDUE; loans not collected
by the pickup deadline go back to the supplier and the patron is charged (CUT-A9).

Run by ``kallimachos ill sweep``; each request is one transaction, so one refusal does not
stop the rest.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kallimachos.db.models import IllRequest, Library
from kallimachos.domain.actors import SYSTEM
from kallimachos.domain.ill_request import ActionDetails, IllStatus, RequestingAction
from kallimachos.policies import PolicySet
from kallimachos.services.business_time import library_today
from kallimachos.services.ill_actions import take_step
from kallimachos.services.outcome import Abort


async def sweep(
    sessions: async_sessionmaker[AsyncSession], policies: PolicySet, *, now: datetime
) -> dict[str, int]:
    done = {"overdue": 0, "returned_uncollected": 0}
    async with sessions() as session:
        rows = (
            await session.execute(
                select(IllRequest.id, IllRequest.status, Library.code)
                .join(Library, Library.id == IllRequest.requesting_library_id)
                .where(IllRequest.status.in_(("RECEIVED", "CHECKED_OUT_TO_PATRON", "RECALLED")))
            )
        ).all()
    for request_id, status, code in rows:
        today = library_today(policies.member(code), now)
        action = RequestingAction.MARK_OVERDUE
        if status == IllStatus.RECEIVED.value:
            action = RequestingAction.RETURN_UNCOLLECTED
        try:
            async with sessions.begin() as session:
                row = await session.get(IllRequest, request_id, with_for_update=True)
                assert row is not None
                due = (
                    row.pickup_deadline
                    if action is RequestingAction.RETURN_UNCOLLECTED
                    else (row.supplier_due_date)
                )
                if due is None or today <= due:
                    continue
                await take_step(
                    session, policies, row, action, ActionDetails(), actor=SYSTEM, now=now
                )
        except Abort:
            continue
        key = "returned_uncollected" if action is RequestingAction.RETURN_UNCOLLECTED else "overdue"
        done[key] += 1
    return done
