"""Holds not collected in time expire; the copy goes to the next hold or the shelf (UOC-4b).

Expiry is applied lazily whenever a desk touches a copy kept for a hold (so business time
in sandbox mode is honoured), and by ``kallimachos holds expire`` for a nightly sweep.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kallimachos.db.models import Branch, Hold, Item, Library
from kallimachos.domain.actors import SYSTEM
from kallimachos.domain.policy import MemberLibrary
from kallimachos.policies import PolicySet
from kallimachos.services.business_time import library_today
from kallimachos.services.copy_routing import route_copy
from kallimachos.services.events import record_event


async def expire_for_item(
    session: AsyncSession, library: MemberLibrary, item: Item, today: date, now: datetime
) -> bool:
    """Expire a ready hold on this copy whose pickup deadline passed; True if one did."""
    if item.status != "ON_HOLD_SHELF":
        return False
    hold = (
        await session.scalars(
            select(Hold)
            .where(Hold.trapped_item_id == item.id, Hold.status == "READY")
            .with_for_update()
        )
    ).first()
    if hold is None or hold.expires_on is None or today <= hold.expires_on:
        return False
    before = {"status": hold.status, "expires_on": hold.expires_on.isoformat()}
    hold.status = "EXPIRED"
    hold.closed_at = now
    hold.version += 1
    branch = await session.get(Branch, item.current_branch_id or item.home_branch_id)
    assert branch is not None
    await session.flush()
    nxt = await route_copy(session, library, item, branch, today, now)
    record_event(
        session,
        actor=SYSTEM,
        now=now,
        recorded_at=now,
        aggregate_type="hold",
        aggregate_id=hold.id,
        kind="hold.expired",
        rule=library.holds.rule_for("hold_shelf_days"),
        before=before,
        after={"status": hold.status, "next_hold_id": nxt.id if nxt else None},
        payload={"work_ids": [item.work_id], "patron_id": hold.patron_id},
    )
    return True


async def expire_all(
    sessions: async_sessionmaker[AsyncSession], policies: PolicySet, *, now: datetime
) -> int:
    """Sweep every library's hold shelves; returns how many holds expired."""
    expired = 0
    async with sessions.begin() as session:
        rows = (
            await session.execute(
                select(Item, Library.code)
                .join(Library, Library.id == Item.library_id)
                .where(Item.status == "ON_HOLD_SHELF")
                .order_by(Item.id)
                .with_for_update(of=Item)
            )
        ).all()
        for item, code in rows:
            library = policies.member(code)
            if await expire_for_item(session, library, item, library_today(library, now), now):
                expired += 1
    return expired
