"""A patron's own data: loans, holds, fees, balance, blocks — and who may see them.

The patron themself, staff of the patron's library and admins see these; everyone else
gets nothing (node lookups resolve to null).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kallimachos.db.models import Branch, Fee, Hold, Library, Loan, Patron
from kallimachos.domain import holds as hold_rules
from kallimachos.domain.blocks import clearance, patron_blocks
from kallimachos.schema.circulation import Block
from kallimachos.schema.circulation import Fee as FeeType
from kallimachos.schema.circulation import Hold as HoldType
from kallimachos.schema.circulation import Loan as LoanType
from kallimachos.schema.context import Info
from kallimachos.services import circulation_facts as facts
from kallimachos.services.business_time import library_today

RECENT_RETURNS = timedelta(days=30)


async def _patron_library(
    session: AsyncSession, patron_ids: set[int]
) -> dict[int, tuple[str, str]]:
    rows = await session.execute(
        select(Patron.id, Patron.card_number, Library.code)
        .join(Library, Library.id == Patron.library_id)
        .where(Patron.id.in_(patron_ids))
    )
    return {row.id: (row.card_number, row.code) for row in rows}


def _may_see(info: Info, card_and_library: tuple[str, str] | None) -> bool:
    if card_and_library is None:
        return False
    card, library = card_and_library
    return info.context.actor.may_see_patron(card, library)


async def loans_of(info: Info, patron_id: int, include_returned: bool) -> list[LoanType]:
    async with info.context.services.sessions() as session:
        query = select(Loan).where(Loan.patron_id == patron_id)
        if include_returned:
            since = info.context.now - RECENT_RETURNS
            query = query.where((Loan.returned_at.is_(None)) | (Loan.returned_at >= since))
        else:
            query = query.where(Loan.returned_at.is_(None))
        rows = list(await session.scalars(query.order_by(Loan.due_date, Loan.id)))
    return [LoanType.from_row(r) for r in rows]


async def holds_of(info: Info, patron_id: int) -> list[HoldType]:
    async with info.context.services.sessions() as session:
        rows = list(
            await session.scalars(
                select(Hold)
                .where(Hold.patron_id == patron_id, Hold.status.in_(facts.ACTIVE_HOLD_STATUSES))
                .order_by(Hold.placed_at, Hold.id)
            )
        )
        return [HoldType.from_row(r, await _position(session, r)) for r in rows]


async def _position(session: AsyncSession, hold: Hold) -> int | None:
    if hold.status != "WAITING":
        return None
    library_id = await session.scalar(
        select(Branch.library_id).where(Branch.id == hold.pickup_branch_id)
    )
    rivals = list(
        await session.scalars(
            select(Hold)
            .join(Branch, Branch.id == Hold.pickup_branch_id)
            .where(
                Branch.library_id == library_id,
                Hold.status == "WAITING",
                (Hold.work_id == hold.work_id) if hold.work_id else (Hold.item_id == hold.item_id),
            )
        )
    )
    queue = [facts.hold_fact(h, str(h.patron_id), None) for h in rivals]
    return hold_rules.position(queue, hold.id)


async def fees_of(info: Info, patron_id: int) -> list[FeeType]:
    async with info.context.services.sessions() as session:
        rows = list(
            await session.scalars(
                select(Fee).where(Fee.patron_id == patron_id).order_by(Fee.assessed_at, Fee.id)
            )
        )
    return [FeeType.from_row(r) for r in rows]


async def balance_of(info: Info, patron_id: int) -> Decimal:
    async with info.context.services.sessions() as session:
        rows = await session.execute(
            select(Fee.amount, Fee.paid).where(Fee.patron_id == patron_id, Fee.status == "OPEN")
        )
        return sum((amount - paid for amount, paid in rows), Decimal("0.00"))


async def clearance_of(info: Info, patron_id: int) -> list[Block]:
    async with info.context.services.sessions() as session:
        patron = await session.get(Patron, patron_id)
        assert patron is not None
        code = await session.scalar(select(Library.code).where(Library.id == patron.library_id))
        library = info.context.services.policies.member(str(code))
        today = library_today(library, info.context.now)
        patron_facts = await facts.patron_facts(session, patron, today)
    found = clearance(library, patron_facts)
    return [Block(code=r.code.value, message=r.message, rule=r.rule) for r in found]


async def blocks_of(info: Info, patron_id: int) -> list[Block]:
    async with info.context.services.sessions() as session:
        patron = await session.get(Patron, patron_id)
        assert patron is not None
        library_code = await session.scalar(
            select(Library.code).where(Library.id == patron.library_id)
        )
        library = info.context.services.policies.member(str(library_code))
        today = library_today(library, info.context.now)
        patron_facts = await facts.patron_facts(session, patron, today)
    found = patron_blocks(library, patron_facts, today)
    return [Block(code=r.code.value, message=r.message, rule=r.rule) for r in found]


async def visible_loans(info: Info, ids: list[int]) -> list[LoanType | None]:
    async with info.context.services.sessions() as session:
        rows = {r.id: r for r in await session.scalars(select(Loan).where(Loan.id.in_(ids)))}
        owners = await _patron_library(session, {r.patron_id for r in rows.values()})
    return [
        LoanType.from_row(rows[i])
        if i in rows and _may_see(info, owners.get(rows[i].patron_id))
        else None
        for i in ids
    ]


async def visible_holds(info: Info, ids: list[int]) -> list[HoldType | None]:
    async with info.context.services.sessions() as session:
        rows = {r.id: r for r in await session.scalars(select(Hold).where(Hold.id.in_(ids)))}
        owners = await _patron_library(session, {r.patron_id for r in rows.values()})
        return [
            HoldType.from_row(rows[i], await _position(session, rows[i]))
            if i in rows and _may_see(info, owners.get(rows[i].patron_id))
            else None
            for i in ids
        ]


async def visible_fees(info: Info, ids: list[int]) -> list[FeeType | None]:
    async with info.context.services.sessions() as session:
        rows = {r.id: r for r in await session.scalars(select(Fee).where(Fee.id.in_(ids)))}
        owners = await _patron_library(
            session, {r.patron_id for r in rows.values() if r.patron_id is not None}
        )
    return [
        FeeType.from_row(rows[i])
        if i in rows
        and rows[i].patron_id is not None
        and _may_see(info, owners.get(rows[i].patron_id))  # type: ignore[arg-type]
        else None
        for i in ids
    ]
