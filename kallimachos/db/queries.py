"""Read-side SELECTs for the GraphQL loaders: rows in, rows out, no rules."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    Table,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from kallimachos.db.any_of import any_of_bound, on_postgresql
from kallimachos.db.models import BibRecord, Branch, Hold, Item, Library, Loan, Patron, Work

# Plain rows for the hot read paths: a row of a table has every column as an attribute, which
# is all the read side needs, and building one costs a fraction of a mapped instance.
_WORKS = cast(Table, Work.__table__)
_ITEMS = cast(Table, Item.__table__)


async def libraries(session: AsyncSession, *, roles: Sequence[str]) -> list[Library]:
    result = await session.scalars(
        select(Library).where(Library.role.in_(roles)).order_by(Library.code)
    )
    return list(result)


async def libraries_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, Library]:
    result = await session.scalars(select(Library).where(Library.id.in_(ids)))
    return {row.id: row for row in result}


async def branches_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, Branch]:
    result = await session.scalars(select(Branch).where(Branch.id.in_(ids)))
    return {row.id: row for row in result}


async def libraries_by_code(session: AsyncSession, codes: Sequence[str]) -> dict[str, Library]:
    result = await session.scalars(select(Library).where(Library.code.in_(codes)))
    return {row.code: row for row in result}


async def branches_by_code(session: AsyncSession, codes: Sequence[str]) -> dict[str, Branch]:
    result = await session.scalars(select(Branch).where(Branch.code.in_(codes)))
    return {row.code: row for row in result}


async def branches_by_library(
    session: AsyncSession, library_ids: Sequence[int]
) -> dict[int, list[Branch]]:
    result = await session.scalars(
        select(Branch).where(Branch.library_id.in_(library_ids)).order_by(Branch.code)
    )
    grouped: dict[int, list[Branch]] = defaultdict(list)
    for row in result:
        grouped[row.library_id].append(row)
    return grouped


async def patrons_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, Patron]:
    result = await session.scalars(select(Patron).where(Patron.id.in_(ids)))
    return {row.id: row for row in result}


async def patron_by_card(session: AsyncSession, card_number: str) -> Patron | None:
    result = await session.scalars(select(Patron).where(Patron.card_number == card_number))
    return result.first()


async def read_without_transaction(session: AsyncSession) -> None:
    """Let this session's reads run outside a transaction (PostgreSQL; call it first).

    A search page reads works and copies in two statements; opening and rolling back a
    transaction around them would cost two more round trips for nothing, since the page
    is as live as its last statement anyway.  SQLite keeps its usual transactions.
    """
    if on_postgresql(session):
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


async def works_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, Work]:
    """Works by id, as read-only rows (every column of a :class:`Work` as an attribute)."""
    connection = await session.connection()  # plain rows: no ORM loading on the way
    result = await connection.execute(_statements(session).works, {"ids": list(ids)})
    return {row.id: cast(Work, row) for row in result}


async def items_by_work(
    session: AsyncSession, work_ids: Sequence[int]
) -> dict[int, list[ItemView]]:
    """Every copy of these works with its open loan's due date and its hold queue length.

    One statement whatever the number of works.  A copy's queue is the waiting holds on
    that copy plus the waiting holds on its work that name no copy.
    """
    connection = await session.connection()  # plain rows: no ORM loading on the way
    result = await connection.execute(_statements(session).items, {"ids": list(work_ids)})
    rows = result.all()
    grouped: dict[int, list[ItemView]] = defaultdict(list)
    for row in rows:
        grouped[row.work_id].append(
            ItemView(item=cast(Item, row), due_date=row.due_date, hold_queue=row.hold_queue)
        )
    return grouped


@dataclass(frozen=True)
class _PageStatements:
    works: Select[Any]
    items: Select[Any]


def _statements(session: AsyncSession) -> _PageStatements:
    return _page_statements(on_postgresql(session))


@cache
def _page_statements(postgresql: bool) -> _PageStatements:
    """The search page's statements, built once: building and keying a statement on every
    call cost more CPU than running it (about 1 ms a page).  The ids go as one array
    parameter on PostgreSQL (:mod:`kallimachos.db.any_of`).
    """

    def among(column: ColumnElement[int]) -> ColumnElement[bool]:
        return any_of_bound(column, "ids", postgresql=postgresql)

    queue = _waiting(Hold.item_id == _ITEMS.c.id) + _waiting(
        Hold.item_id.is_(None), Hold.work_id == _ITEMS.c.work_id
    )
    return _PageStatements(
        works=select(_WORKS).where(among(_WORKS.c.id)),
        items=(
            select(_ITEMS, Loan.due_date, queue.label("hold_queue"))
            .outerjoin(Loan, (Loan.item_id == _ITEMS.c.id) & Loan.returned_at.is_(None))
            .where(among(_ITEMS.c.work_id))
            .order_by(_ITEMS.c.library_id, _ITEMS.c.home_branch_id, _ITEMS.c.id)
        ),
    )


def _waiting(*where: ColumnElement[bool]) -> ScalarSelect[int]:
    return (
        select(func.count())
        .select_from(Hold)
        .where(Hold.status.in_(("WAITING", "IN_TRANSIT")), *where)
        .scalar_subquery()
    )


@dataclass(frozen=True)
class ItemView:
    item: Item  # read-only: a row from :func:`items_by_work`, or a loaded instance
    due_date: date | None
    hold_queue: int


async def item_views_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, ItemView]:
    """Copies by id, with due date and queue length (same shape as :func:`items_by_work`)."""
    work_ids = list(await session.scalars(select(Item.work_id).where(Item.id.in_(ids)).distinct()))
    by_work = await items_by_work(session, work_ids)
    wanted = set(ids)
    return {v.item.id: v for views in by_work.values() for v in views if v.item.id in wanted}


async def records_by_work(
    session: AsyncSession, work_ids: Sequence[int]
) -> dict[int, list[BibRecord]]:
    result = await session.scalars(
        select(BibRecord).where(BibRecord.work_id.in_(work_ids)).order_by(BibRecord.id)
    )
    grouped: dict[int, list[BibRecord]] = defaultdict(list)
    for row in result:
        grouped[row.work_id].append(row)
    return grouped
