"""Branch lending (UOC-6): send an available copy from its branch to the patron's pickup branch.

The request becomes a hold already matched to that copy and travelling; when the pickup
branch checks the copy in, it waits on the hold shelf for the patron (UOC-4b) and is lent
there.  On return anywhere it goes back to its home branch.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from kallimachos.db.models import Branch, Hold, Item, Patron
from kallimachos.domain.actors import Actor
from kallimachos.domain.policy import MemberLibrary
from kallimachos.services.business_time import library_today
from kallimachos.services.events import record_event
from kallimachos.services.outcome import Abort, Problem


async def send_to_pickup(
    session: AsyncSession,
    library: MemberLibrary,
    *,
    actor: Actor,
    now: datetime,
    patron: Patron,
    item: Item,
    pickup: Branch,
) -> Hold:
    """Create the travelling hold for ``patron`` and put ``item`` in transit to ``pickup``."""
    if not library.branch_lending.branch_transfers:
        raise Abort(
            Problem(
                "TRANSFER_NOT_OFFERED",
                f"{library.code} does not send copies between branches",
                ("input", "pickupBranch"),
                library.branch_lending.rule_for("branch_transfers"),
            )
        )
    if item.status != "AVAILABLE":
        raise Abort(Problem("ITEM_NOT_AVAILABLE", "the copy is no longer on the shelf"))
    today = library_today(library, now)
    hold = Hold(
        patron_id=patron.id,
        work_id=item.work_id,
        item_id=item.id,
        pickup_branch_id=pickup.id,
        status="IN_TRANSIT",
        placed_at=now,
        trapped_item_id=item.id,
        ready_at=now,
        expires_on=None,
    )
    session.add(hold)
    item.status = "IN_TRANSIT"
    item.transit_to_branch_id = pickup.id
    item.version += 1
    await session.flush()
    record_event(
        session,
        actor=actor,
        now=now,
        recorded_at=now,
        aggregate_type="hold",
        aggregate_id=hold.id,
        kind="transfer.requested",
        rule=library.branch_lending.rule_for("branch_transfers"),
        after={"item_id": item.id, "to_branch": pickup.code, "on": today.isoformat()},
        payload={"work_ids": [item.work_id], "patron_id": patron.id},
    )
    return hold
