"""Load what the circulation rules need to know, from the store, inside a unit of work.

Rows that a decision will change are locked (``SELECT ... FOR UPDATE`` on PostgreSQL, in
primary-key order: patron before item).  SQLite serialises writers instead (ADR 0004).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kallimachos.db.models import Branch, Fee, Hold, Item, Library, Loan, Patron
from kallimachos.domain.blocks import PatronFacts
from kallimachos.domain.circulation import ItemFacts
from kallimachos.domain.holds import Hold as HoldFact
from kallimachos.domain.holds import HoldStatus
from kallimachos.domain.policy import Requirement
from kallimachos.services.loanable import copy_facts

ACTIVE_HOLD_STATUSES = ("WAITING", "IN_TRANSIT", "READY")


async def branch_by_code(session: AsyncSession, code: str) -> tuple[Branch, Library] | None:
    row = (
        await session.execute(
            select(Branch, Library)
            .join(Library, Library.id == Branch.library_id)
            .where(Branch.code == code)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def patron_by_card(session: AsyncSession, card: str, *, lock: bool = False) -> Patron | None:
    query = select(Patron).where(Patron.card_number == card)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


async def item_by_barcode(
    session: AsyncSession, library_id: int, barcode: str, *, lock: bool = False
) -> Item | None:
    query = select(Item).where(Item.library_id == library_id, Item.barcode == barcode)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


async def open_loan_of(session: AsyncSession, item_id: int, *, lock: bool = False) -> Loan | None:
    query = select(Loan).where(Loan.item_id == item_id, Loan.returned_at.is_(None))
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


async def patron_facts(session: AsyncSession, patron: Patron, today: date) -> PatronFacts:
    """Counts and balances the blocks and limits are computed from (one statement)."""
    balance = func.sum(Fee.amount - Fee.paid)
    open_fee = (Fee.patron_id == patron.id) & (Fee.status == "OPEN")
    open_balance = select(func.coalesce(balance, 0)).where(open_fee).scalar_subquery()
    ill_charges = (
        select(func.coalesce(balance.filter(Fee.ill_request_id.is_not(None)), 0))
        .where(open_fee)
        .scalar_subquery()
    )
    rows = (
        await session.execute(  # one row per loan, or one without a loan: the balances ride along
            select(open_balance, ill_charges, Loan.due_date, Loan.returned_at, Item.temporary_ill)
            .select_from(Patron)
            .outerjoin(Loan, Loan.patron_id == Patron.id)
            .outerjoin(Item, Item.id == Loan.item_id)
            .where(Patron.id == patron.id)
        )
    ).all()
    every_loan = [(due, at, ill) for _, _, due, at, ill in rows if due is not None]
    loans = [(due, ill) for due, returned_at, ill in every_loan if returned_at is None]
    returned = [(due, at) for due, at, _ill in every_loan if at is not None]
    open_fees = rows[0][:2] if rows else (0, 0)
    return PatronFacts(
        clean_record_academic_years=clean_record_years(patron, returned, today),
        category=patron.category,
        card_expires_on=patron.expires_on,
        fee_paid_until=patron.fee_paid_until,
        visit_ends_on=patron.visit_ends_on,
        suspended_until=patron.suspended_until,
        open_loans=sum(1 for _, ill in loans if not ill),
        open_ill_loans=sum(1 for _, ill in loans if ill),
        overdue_loans=sum(1 for due, _ in loans if due < today),
        open_balance=Decimal(str(open_fees[0])).quantize(Decimal("0.01")),
        unpaid_ill_charges=Decimal(str(open_fees[1])).quantize(Decimal("0.01")),
        requirements_met=frozenset(_requirements(patron.requirements_met)),
    )


def _requirements(values: list[str]) -> list[Requirement]:
    known: tuple[Requirement, ...] = (
        "annual_fee_paid",
        "branch_head_approval",
        "police_id_deposited",
        "resides_on_branch_island",
    )
    return [r for r in known if r in values]


async def active_holds_for(session: AsyncSession, item: Item, *, lock: bool = False) -> list[Hold]:
    """Holds at the item's library waiting for this copy or any copy of its work."""
    query = (
        select(Hold)
        .join(Branch, Branch.id == Hold.pickup_branch_id)
        .where(
            Hold.status.in_(ACTIVE_HOLD_STATUSES),
            Branch.library_id == item.library_id,
            or_(Hold.item_id == item.id, (Hold.work_id == item.work_id) & Hold.item_id.is_(None)),
        )
        .order_by(Hold.placed_at, Hold.id)
    )
    if lock:
        query = query.with_for_update(of=Hold)
    return list(await session.scalars(query))


async def patron_cards(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    """Card numbers of these patrons (the hold rules know patrons by card)."""
    if not ids:
        return {}
    rows = await session.execute(select(Patron.id, Patron.card_number).where(Patron.id.in_(ids)))
    return {row.id: row.card_number for row in rows}


def hold_fact(hold: Hold, patron_card: str, pickup_code: str | None) -> HoldFact:
    return HoldFact(
        id=hold.id,
        patron=patron_card,
        placed_at=hold.placed_at,
        status=HoldStatus(hold.status),
        pickup_branch=pickup_code,
        ready_on=hold.ready_at.date() if hold.ready_at else None,
        expires_on=hold.expires_on,
    )


def item_facts(item: Item, holds: list[Hold], patron_id: int) -> ItemFacts:
    trapped_for_patron = any(
        h.status == "READY" and h.trapped_item_id == item.id and h.patron_id == patron_id
        for h in holds
    )
    waiting_for_other = any(h.patron_id != patron_id for h in holds if h.status == "WAITING")
    return ItemFacts(
        copy=copy_facts(item),
        hold_waiting_for_other=waiting_for_other,
        trapped_for_patron=trapped_for_patron,
    )


def clean_record_years(patron: Patron, returned: Sequence[Any], today: date) -> int:
    """Whole years since the patron joined, or since their last late return (AEG-5)."""
    since = patron.created_at.date()
    for due, returned_at in returned:
        if returned_at is not None and returned_at.date() > due:
            since = max(since, returned_at.date())
    return max(0, int((today - since).days // 365.25))
