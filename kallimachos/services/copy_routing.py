"""Where a copy goes when it comes free: a waiting hold, its home branch, or the shelf here.

The first waiting hold gets it (UOC-4b, UOC-4c); if that hold is collected elsewhere, or the
copy is away from its home branch, it travels (UOC-6).  A copy arriving where it was sent
ends its journey (on the hold shelf, or back on its home shelf).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kallimachos.db.models import Branch, Hold, Item
from kallimachos.domain import holds as hold_rules
from kallimachos.domain.policy import MemberLibrary
from kallimachos.services import circulation_facts as facts


async def route_copy(
    session: AsyncSession,
    library: MemberLibrary,
    item: Item,
    branch: Branch,
    today: date,
    now: datetime,
) -> Hold | None:
    """Where the copy goes next: a hold's pickup shelf, its home branch, or the shelf here."""
    item.current_branch_id = branch.id
    holds = await facts.active_holds_for(session, item, lock=True)
    # A copy already travelling to a hold arrives.
    travelling = next(
        (h for h in holds if h.status == "IN_TRANSIT" and h.trapped_item_id == item.id), None
    )
    if travelling is not None:
        if travelling.pickup_branch_id == branch.id:
            travelling.status = "READY"
            travelling.ready_at = now
            travelling.expires_on = today + timedelta(days=library.holds.hold_shelf_days)
            item.status = "ON_HOLD_SHELF"
            item.transit_to_branch_id = None
        else:
            item.status = "IN_TRANSIT"
            item.transit_to_branch_id = travelling.pickup_branch_id
        return travelling
    waiting = [h for h in holds if h.status == "WAITING"]
    if waiting:
        codes = await _branch_codes(session, {h.pickup_branch_id for h in waiting})
        cards = await facts.patron_cards(session, {h.patron_id for h in waiting})
        trapped = hold_rules.trap(
            library,
            [facts.hold_fact(h, cards[h.patron_id], codes[h.pickup_branch_id]) for h in waiting],
            returned_on=today,
            at_branch=branch.code,
        )
        if trapped is not None:
            hold = next(h for h in waiting if h.id == trapped.hold.id)
            hold.trapped_item_id = item.id
            hold.ready_at = now
            hold.expires_on = trapped.hold.expires_on
            if trapped.ship_to is None:
                hold.status = "READY"
                item.status = "ON_HOLD_SHELF"
                item.transit_to_branch_id = None
            else:
                hold.status = "IN_TRANSIT"
                item.status = "IN_TRANSIT"
                item.transit_to_branch_id = hold.pickup_branch_id
            return hold
    if item.home_branch_id != branch.id and library.branch_lending.return_to_owning_branch:
        item.status = "IN_TRANSIT"
        item.transit_to_branch_id = item.home_branch_id
    else:
        item.status = "AVAILABLE"
        item.transit_to_branch_id = None
    return None


async def _branch_codes(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    rows = await session.execute(select(Branch.id, Branch.code).where(Branch.id.in_(ids)))
    return {row.id: row.code for row in rows}
