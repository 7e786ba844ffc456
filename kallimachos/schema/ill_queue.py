"""Staff queues of interlibrary requests: outgoing (our patrons') and incoming (to supply).

Late requests come first: those waiting for processing past the forwarding deadline (CUT-A6)
and loans past the supplier's due date; then the oldest.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from zoneinfo import ZoneInfo

import strawberry
from sqlalchemy import select

from kallimachos.db.models import IllRequest as IllRequestRow
from kallimachos.db.models import Library
from kallimachos.domain.actors import ActorKind
from kallimachos.domain.ill_dates import is_late
from kallimachos.schema.context import Info
from kallimachos.schema.errors import Forbidden, InvalidArgument
from kallimachos.schema.ill import IllRequest, IllStatus
from kallimachos.services.holiday_data import calendar_for
from kallimachos.services.ill_store import OPEN_STATUSES


@strawberry.enum(description="OUTGOING: requests of our patrons; INCOMING: requests we supply.")
class IllQueueDirection(Enum):
    OUTGOING = "OUTGOING"
    INCOMING = "INCOMING"


async def ill_queue(
    info: Info,
    direction: IllQueueDirection,
    library: str | None,
    statuses: list[IllStatus] | None,
    first: int,
) -> list[IllRequest]:
    actor = info.context.actor
    if not 1 <= first <= 100:
        raise InvalidArgument("first must be between 1 and 100")
    code = library or actor.library
    if actor.kind is ActorKind.ADMIN:
        if code is None:
            raise InvalidArgument("an admin names the library")
    elif actor.kind is ActorKind.PARTNER:
        if direction is IllQueueDirection.OUTGOING or code != actor.library:
            raise Forbidden("a partner library sees only the requests addressed to it")
    elif actor.kind is not ActorKind.STAFF or code != actor.library:
        raise Forbidden("only the library's staff see its queues")
    wanted = [s.value for s in statuses] if statuses else list(OPEN_STATUSES)
    policies = info.context.services.policies
    async with info.context.services.sessions() as session:
        row = (await session.scalars(select(Library).where(Library.code == code))).first()
        if row is None:
            raise InvalidArgument(f"unknown library {code!r}")
        column = (
            IllRequestRow.requesting_library_id
            if direction is IllQueueDirection.OUTGOING
            else IllRequestRow.supplier_library_id
        )
        query = select(IllRequestRow).where(column == row.id, IllRequestRow.status.in_(wanted))
        if direction is IllQueueDirection.INCOMING:
            query = query.where(IllRequestRow.status != "AWAITING_PROCESSING")
        rows = list(await session.scalars(query.order_by(IllRequestRow.created_at)))
        codes = {lib.id: lib.code for lib in await session.scalars(select(Library))}
    now: datetime = info.context.now

    def lateness(request: IllRequestRow) -> tuple[int, datetime]:
        requesting = policies.member(codes[request.requesting_library_id])
        today = now.astimezone(ZoneInfo(requesting.calendar.timezone)).date()
        late = False
        if request.status == "AWAITING_PROCESSING":
            late = is_late(
                requesting, calendar_for(requesting), created_at=request.created_at, today=today
            )
        elif request.supplier_due_date is not None:
            late = today > request.supplier_due_date
        return (0 if late else 1, request.created_at)

    ranked = sorted(((lateness(r), r) for r in rows), key=lambda pair: pair[0])
    return [IllRequest.from_row(r, late=key[0] == 0) for key, r in ranked[:first]]
