"""Whom an event concerns: the patrons it is about, the libraries whose queues it is in, and
(for interlibrary requests) the library it is addressed to.

Events keep no personal details (ADR 0003), so the answer is looked up from the rows the
event names.  A supplier is only told about a request once it has been sent to it: before
staff forward a request the partner sees nothing (as in ``illQueue``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kallimachos.db.models import Branch, Event, Fee, Hold, IllRequest, Item, Loan, Patron


@dataclass(frozen=True)
class Audience:
    """``patron_ids``: whose own loans, holds, requests or fees it is; ``library_ids``: whose
    staff queues it belongs to; ``supplier_id``/``requesting_id``: the two sides of an ILL
    request (``supplier_id`` only once the request was sent to that supplier)."""

    patron_ids: frozenset[int] = frozenset()
    library_ids: frozenset[int] = frozenset()
    supplier_id: int | None = None
    requesting_id: int | None = None
    ill_status: str | None = None


NOBODY = Audience()


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


async def audience_of(session: AsyncSession, event: Event) -> Audience:
    """Who ``event`` concerns, from the rows it names (as they are now)."""
    after = event.after or {}
    payload = event.payload or {}
    patrons: set[int] = set()
    libraries: set[int] = set()
    if (pid := _int(payload.get("patron_id"))) is not None:
        patrons.add(pid)
    kind = event.aggregate_type
    if kind == "loan":
        loan = await session.get(Loan, event.aggregate_id)
        if loan is not None:
            patrons.add(loan.patron_id)
            libraries.add(loan.library_id)
    elif kind == "hold":
        row = (
            await session.execute(
                select(Hold.patron_id, Branch.library_id)
                .join(Branch, Branch.id == Hold.pickup_branch_id)
                .where(Hold.id == event.aggregate_id)
            )
        ).first()
        if row is not None:
            patrons.add(row.patron_id)
            libraries.add(row.library_id)
        if (nxt := _int(after.get("next_hold_id"))) is not None:
            hold = await session.get(Hold, nxt)
            if hold is not None:
                patrons.add(hold.patron_id)
    elif kind == "item":
        item = await session.get(Item, event.aggregate_id)
        if item is not None:
            libraries.add(item.library_id)
        if (loan_id := _int(after.get("loan_id"))) is not None:
            loan = await session.get(Loan, loan_id)
            if loan is not None:
                patrons.add(loan.patron_id)
        if (hold_id := _int(after.get("hold_id"))) is not None:
            hold = await session.get(Hold, hold_id)
            if hold is not None:
                patrons.add(hold.patron_id)
    elif kind == "fee":
        fee = await session.get(Fee, event.aggregate_id)
        if fee is not None:
            if fee.patron_id is not None:
                patrons.add(fee.patron_id)
            libraries.add(fee.library_id)
    elif kind == "patron":
        patron = await session.get(Patron, event.aggregate_id)
        if patron is not None:
            patrons.add(patron.id)
            libraries.add(patron.library_id)
    elif kind == "ill_request":
        return await _ill_audience(session, event, patrons)
    if not patrons and not libraries:
        return NOBODY
    return Audience(patron_ids=frozenset(patrons), library_ids=frozenset(libraries))


async def _ill_audience(session: AsyncSession, event: Event, patrons: set[int]) -> Audience:
    row = await session.get(IllRequest, event.aggregate_id)
    if row is None:
        return NOBODY
    patrons.add(row.patron_id)
    statuses = await statuses_until(session, event)
    libraries = {row.requesting_library_id}
    supplier = None
    if row.supplier_library_id is not None and any(s not in _UNSENT for s in statuses):
        supplier = row.supplier_library_id
        libraries.add(supplier)
    return Audience(
        patron_ids=frozenset(patrons),
        library_ids=frozenset(libraries),
        supplier_id=supplier,
        requesting_id=row.requesting_library_id,
        ill_status=statuses[-1] if statuses else None,
    )


_UNSENT = frozenset({"AWAITING_PROCESSING", "CANCELLED"})
_STATUS_KINDS = ("ill.requested", "ill.status_changed")


async def statuses_until(session: AsyncSession, event: Event) -> list[str]:
    """An ILL request's statuses, oldest first, up to the step that wrote ``event``.

    A step writes its status change first and its other effects after it
    (``kallimachos.domain.ill_states.apply``), so the last status up to ``event`` is the
    one the step left the request in.  A request that ever left AWAITING_PROCESSING other
    than by being cancelled has been sent to a supplier."""
    rows = await session.scalars(
        select(Event.after)
        .where(
            Event.aggregate_type == "ill_request",
            Event.aggregate_id == event.aggregate_id,
            Event.kind.in_(_STATUS_KINDS),
            Event.id <= event.id,
        )
        .order_by(Event.id)
    )
    return [str(after["status"]) for after in rows if after and after.get("status")]
