"""Stored ILL requests <-> the facts the ILL rules read, and writing a step's results back.

The lifecycle itself is :mod:`kallimachos.domain.ill_states`; this module only loads the
facts it needs (the request, the rota, open requests at the supplier), and stores what a
step produced: the new state, dates, cost, charges, and one history event per effect.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kallimachos.db.models import (
    Event,
    Fee,
    IllRequest,
    Library,
    Patron,
    SupplierAttempt,
)
from kallimachos.domain.actors import Actor
from kallimachos.domain.ill_costs import CostBreakdown
from kallimachos.domain.ill_request import (
    TERMINAL,
    IllEvent,
    IllEventKind,
    IllRequestFacts,
    IllStatus,
)
from kallimachos.services.events import record_event

OPEN_STATUSES = tuple(s.value for s in IllStatus if s not in TERMINAL)
PENDING = "PENDING"


async def library_codes(session: AsyncSession) -> dict[int, str]:
    return {row.id: row.code for row in await session.scalars(select(Library))}


async def attempts_of(session: AsyncSession, request_id: int) -> list[SupplierAttempt]:
    return list(
        await session.scalars(
            select(SupplierAttempt)
            .where(SupplierAttempt.request_id == request_id)
            .order_by(SupplierAttempt.rank)
        )
    )


async def open_requests_at(
    session: AsyncSession, requesting_library_id: int, supplier_id: int
) -> int:
    """The requesting library's requests open at this supplier (CUT-B2 counts them)."""
    count = await session.scalar(
        select(func.count())
        .select_from(IllRequest)
        .where(
            IllRequest.requesting_library_id == requesting_library_id,
            IllRequest.supplier_library_id == supplier_id,
            IllRequest.status.in_(OPEN_STATUSES),
            IllRequest.status != IllStatus.AWAITING_PROCESSING.value,
        )
    )
    return int(count or 0)


def cost_of(row: IllRequest, supplier: str | None, rule: str | None) -> CostBreakdown | None:
    if row.total_cost is None or supplier is None:
        return None
    return CostBreakdown(
        supplier=supplier,
        service_type="copy" if row.service_type == "COPY" else "loan",
        supplier_charge=row.supplier_charge or Decimal("0.00"),
        shipping=row.shipping or Decimal("0.00"),
        service_charge=row.service_charge or Decimal("0.00"),
        vat=row.vat or Decimal("0.00"),
        currency="EUR",
        payer=row.payer.lower() if row.payer else None,  # type: ignore[arg-type]
        estimated=True,
        at_least=False,
        rule=rule,
    )


def set_cost(row: IllRequest, cost: CostBreakdown | None) -> None:
    if cost is None:
        return
    row.supplier_charge = cost.supplier_charge
    row.shipping = cost.shipping
    row.service_charge = cost.service_charge
    row.vat = cost.vat
    row.total_cost = cost.total
    row.payer = cost.payer.upper() if cost.payer else None


async def facts_of(
    session: AsyncSession,
    row: IllRequest,
    patron: Patron,
    codes: dict[int, str],
    *,
    supplier_id: int | None = None,
) -> IllRequestFacts:
    """The request as the rules see it, with ``supplier_id`` (default: the current one)."""
    supplier_id = supplier_id or row.supplier_library_id
    attempts = await attempts_of(session, row.id)
    current_rank = next((a.rank for a in attempts if a.supplier_library_id == supplier_id), 0)
    remaining = sum(1 for a in attempts if a.rank > current_rank and a.status == PENDING)
    supplier = codes.get(supplier_id) if supplier_id else None
    return IllRequestFacts(
        status=IllStatus(row.status),
        service_type="copy" if row.service_type == "COPY" else "loan",
        material_type=row.material_type,  # type: ignore[arg-type]
        requesting_library=codes[row.requesting_library_id],
        patron_category=patron.category,
        supplier=supplier,
        rota_remaining=remaining,
        created_at=row.created_at,
        request_received_on=row.request_received_on,
        shipped_on=row.shipped_at.date() if row.shipped_at else None,
        received_on=row.received_at.date() if row.received_at else None,
        checked_out_on=row.checked_out_on,
        return_shipped_on=row.return_shipped_on,
        supplier_due_on=row.supplier_due_date,
        patron_due_on=row.patron_due_date,
        renewals=row.renewals,
        open_requests_at_supplier=(
            await open_requests_at(session, row.requesting_library_id, supplier_id)
            if supplier_id
            else 0
        ),
        cost=cost_of(row, supplier, None),
        max_cost=row.max_cost,
        prepaid=row.prepaid,
        copyright_declared=row.copyright_declared,
        delivery_method=row.delivery_method,  # type: ignore[arg-type]
    )


def _at(day: Any, now: datetime) -> datetime | None:
    if day is None:
        return None
    return now if day == now.date() else datetime.combine(day, now.timetz())


def store_facts(row: IllRequest, facts: IllRequestFacts, now: datetime) -> None:
    """Copy what a step changed from the facts back onto the stored request."""
    row.status = facts.status.value
    row.request_received_on = facts.request_received_on
    if facts.shipped_on and row.shipped_at is None:
        row.shipped_at = _at(facts.shipped_on, now)
    if facts.received_on and row.received_at is None:
        row.received_at = _at(facts.received_on, now)
    row.checked_out_on = facts.checked_out_on
    row.return_shipped_on = facts.return_shipped_on
    row.supplier_due_date = facts.supplier_due_on
    row.patron_due_date = facts.patron_due_on
    row.renewals = facts.renewals
    row.prepaid = facts.prepaid
    row.copyright_declared = facts.copyright_declared
    row.delivery_method = facts.delivery_method
    set_cost(row, facts.cost)
    if facts.status in TERMINAL and row.closed_at is None:
        row.closed_at = now
    row.version += 1


async def apply_effects(
    session: AsyncSession,
    row: IllRequest,
    patron: Patron,
    events: tuple[IllEvent, ...],
    *,
    actor: Actor,
    now: datetime,
    before: dict[str, Any],
) -> list[Fee]:
    """One history event per effect; charges become fees on the patron or library."""
    fees: list[Fee] = []
    already_charged = await session.scalar(
        select(Fee.id).where(Fee.ill_request_id == row.id, Fee.kind == "ill_charge").limit(1)
    )
    for effect in events:
        if effect.kind is IllEventKind.PICKUP_DEADLINE_SET and effect.on is not None:
            row.pickup_deadline = effect.on
        if effect.kind is IllEventKind.CHARGE_PATRON and effect.amount and not already_charged:
            fees.append(
                Fee(
                    patron_id=patron.id,
                    library_id=row.requesting_library_id,
                    ill_request_id=row.id,
                    kind="ill_charge",
                    amount=effect.amount,
                    paid=Decimal("0.00"),
                    currency="EUR",
                    status="OPEN",
                    rule=effect.rule,
                    note=effect.message,
                    assessed_at=now,
                )
            )
        elif effect.kind is IllEventKind.CHARGE_REQUESTING_LIBRARY and effect.amount:
            fees.append(
                Fee(
                    patron_id=None,
                    library_id=row.supplier_library_id or row.requesting_library_id,
                    debtor_library_id=row.requesting_library_id,
                    ill_request_id=row.id,
                    kind="ill_library_charge",
                    amount=effect.amount,
                    paid=Decimal("0.00"),
                    currency="EUR",
                    status="OPEN",
                    rule=effect.rule,
                    note=effect.message,
                    assessed_at=now,
                )
            )
    session.add_all(fees)
    await session.flush()
    for effect in events:
        record_event(
            session,
            actor=actor,
            now=now,
            recorded_at=now,
            aggregate_type="ill_request",
            aggregate_id=row.id,
            kind=f"ill.{effect.kind.value.lower()}",
            rule=effect.rule,
            before=before if effect.kind is IllEventKind.STATUS_CHANGED else None,
            after={"status": row.status} if effect.kind is IllEventKind.STATUS_CHANGED else None,
            payload={
                "message": effect.message,
                "on": effect.on.isoformat() if effect.on else None,
                "amount": str(effect.amount) if effect.amount is not None else None,
                "patron_id": patron.id,
                "work_ids": [row.work_id] if row.work_id else [],
            },
        )
    return fees


async def history_of(session: AsyncSession, request_id: int) -> list[Event]:
    return list(
        await session.scalars(
            select(Event)
            .where(Event.aggregate_type == "ill_request", Event.aggregate_id == request_id)
            .order_by(Event.id)
        )
    )
