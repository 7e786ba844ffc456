"""What an event means to a patron: which notice, to whom, with which dates and amounts.

========================  ====================================================================
event                     notice
========================  ====================================================================
item.checked_in           HOLD_READY to the hold's patron when the copy went on the hold shelf
                          (UOC-4b, deadline = the hold's ``expires_on``); FEE_ASSESSED to the
                          borrower for fines charged at the return
hold.set_aside            HOLD_READY (a copy put aside at once by ``requestItem``)
hold.expired/cancelled    HOLD_READY to the next patron whose hold the freed copy filled
loan.recalled             LOAN_RECALLED with the new due date (UOC-4a)
ill.notify_patron         by the status the step left: RECEIVED -> ILL_ARRIVED with the pickup
                          deadline (TUC-ILL-4, CUT-A9); COPY_DELIVERED -> ILL_COPY_ARRIVED;
                          OVERDUE -> ILL_OVERDUE; CANCELLED -> ILL_CANCELLED
ill.recalled_from_patron  ILL_RECALLED with the new due date (CUT-A10)
ill.charge_patron         FEE_ASSESSED (when the step did charge)
fee.assessed, item.lost   FEE_ASSESSED
loan.due_soon/.overdue    DUE_SOON / OVERDUE (written by :mod:`kallimachos.notify.reminders`)
========================  ====================================================================

Several fees charged by one event make one notice with their total.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kallimachos.db.models import Event, Fee, Hold, IllRequest, Item, Library, Loan
from kallimachos.notify.audience import statuses_until
from kallimachos.notify.templates import Notice
from kallimachos.policies import PolicySet


@dataclass(frozen=True, kw_only=True)
class PatronNotice:
    """One notice for one patron, with the facts it needs (not yet in words)."""

    patron_id: int
    notice: Notice
    work_id: int | None = None
    title: str | None = None
    branch_id: int | None = None
    on: date | None = None
    amount: Decimal | None = None
    currency: str = "EUR"
    fee_kind: str | None = None
    rule: str | None = None


Planner = Callable[[AsyncSession, Event, PolicySet], Awaitable[list[PatronNotice]]]


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


async def _hold_rule(session: AsyncSession, policies: PolicySet, library_id: int) -> str | None:
    code = await session.scalar(select(Library.code).where(Library.id == library_id))
    if code is None:
        return None
    try:
        return policies.member(code).holds.rule_for("hold_shelf_days")
    except KeyError:
        return None


async def _hold_ready(
    session: AsyncSession, policies: PolicySet, hold: Hold, item: Item | None
) -> PatronNotice:
    return PatronNotice(
        patron_id=hold.patron_id,
        notice=Notice.HOLD_READY,
        work_id=item.work_id if item else hold.work_id,
        branch_id=hold.pickup_branch_id,
        on=hold.expires_on,
        rule=await _hold_rule(session, policies, item.library_id) if item else None,
    )


def _fees(fees: list[Fee], work_id: int | None) -> list[PatronNotice]:
    charged = [f for f in fees if f.patron_id is not None and f.amount > 0]
    if not charged:
        return []
    return [
        PatronNotice(
            patron_id=patron_id,
            notice=Notice.FEE_ASSESSED,
            work_id=work_id,
            amount=sum((f.amount for f in mine), Decimal("0.00")),
            currency=mine[0].currency,
            fee_kind=mine[0].kind,
            rule=mine[0].rule,
        )
        for patron_id in sorted({f.patron_id for f in charged if f.patron_id is not None})
        if (mine := [f for f in charged if f.patron_id == patron_id])
    ]


async def _checked_in(
    session: AsyncSession, event: Event, policies: PolicySet
) -> list[PatronNotice]:
    after = event.after or {}
    notices: list[PatronNotice] = []
    item = await session.get(Item, event.aggregate_id)
    hold_id = _int(after.get("hold_id"))
    if hold_id is not None and after.get("status") == "ON_HOLD_SHELF":
        hold = await session.get(Hold, hold_id)
        if hold is not None:
            notices.append(await _hold_ready(session, policies, hold, item))
    loan_id = _int(after.get("loan_id"))
    if loan_id is not None and after.get("fees"):
        fees = await session.scalars(
            select(Fee)
            .where(Fee.loan_id == loan_id, Fee.assessed_at == event.occurred_at)
            .order_by(Fee.id)
        )
        notices += _fees(list(fees), item.work_id if item else None)
    return notices


async def _set_aside(
    session: AsyncSession, event: Event, policies: PolicySet
) -> list[PatronNotice]:
    hold = await session.get(Hold, event.aggregate_id)
    if hold is None or hold.trapped_item_id is None:
        return []
    return [
        await _hold_ready(session, policies, hold, await session.get(Item, hold.trapped_item_id))
    ]


async def _freed(session: AsyncSession, event: Event, policies: PolicySet) -> list[PatronNotice]:
    """A hold ended; the copy kept for it went straight onto the next hold's shelf."""
    ended = await session.get(Hold, event.aggregate_id)
    if ended is None or ended.trapped_item_id is None:
        return []
    filled = await session.scalars(
        select(Hold).where(
            Hold.trapped_item_id == ended.trapped_item_id,
            Hold.id != ended.id,
            Hold.status == "READY",
            Hold.ready_at == event.occurred_at,
        )
    )
    item = await session.get(Item, ended.trapped_item_id)
    return [await _hold_ready(session, policies, hold, item) for hold in filled]


async def _recalled(session: AsyncSession, event: Event, _: PolicySet) -> list[PatronNotice]:
    loan = await session.get(Loan, event.aggregate_id)
    if loan is None:
        return []
    item = await session.get(Item, loan.item_id)
    return [
        PatronNotice(
            patron_id=loan.patron_id,
            notice=Notice.LOAN_RECALLED,
            work_id=item.work_id if item else None,
            on=_date((event.after or {}).get("due_date")) or loan.due_date,
            rule=event.rule,
        )
    ]


async def _reminder(session: AsyncSession, event: Event, _: PolicySet) -> list[PatronNotice]:
    loan = await session.get(Loan, event.aggregate_id)
    if loan is None:
        return []
    item = await session.get(Item, loan.item_id)
    return [
        PatronNotice(
            patron_id=loan.patron_id,
            notice=Notice.DUE_SOON if event.kind == "loan.due_soon" else Notice.OVERDUE,
            work_id=item.work_id if item else None,
            on=_date((event.payload or {}).get("due_date")) or loan.due_date,
            rule=event.rule,
        )
    ]


async def _fee_assessed(session: AsyncSession, event: Event, _: PolicySet) -> list[PatronNotice]:
    fee = await session.get(Fee, event.aggregate_id)
    return _fees([fee] if fee is not None else [], None)


async def _lost(session: AsyncSession, event: Event, _: PolicySet) -> list[PatronNotice]:
    patron_id = _int((event.payload or {}).get("patron_id"))
    if patron_id is None:
        return []
    item = await session.get(Item, event.aggregate_id)
    fees = await session.scalars(
        select(Fee)
        .where(Fee.patron_id == patron_id, Fee.assessed_at == event.occurred_at)
        .order_by(Fee.id)
    )
    return _fees(list(fees), item.work_id if item else None)


_ILL_NOTICES = {
    "RECEIVED": Notice.ILL_ARRIVED,
    "COPY_DELIVERED": Notice.ILL_COPY_ARRIVED,
    "OVERDUE": Notice.ILL_OVERDUE,
    "CANCELLED": Notice.ILL_CANCELLED,
}


def _ill_title(row: IllRequest) -> str | None:
    citation = row.citation or {}
    title = citation.get("title")
    return str(title) if title else None


async def _ill_patron(session: AsyncSession, event: Event, _: PolicySet) -> list[PatronNotice]:
    row = await session.get(IllRequest, event.aggregate_id)
    if row is None:
        return []
    statuses = await statuses_until(session, event)
    status = statuses[-1] if statuses else row.status
    if status == "COMPLETED" and row.service_type == "COPY":
        status = "COPY_DELIVERED"
    notice = _ILL_NOTICES.get(status)
    if notice is None:
        return []
    deadline = None
    if notice is Notice.ILL_ARRIVED:
        deadline = await _same_step_date(session, event, "ill.pickup_deadline_set")
        deadline = deadline or row.pickup_deadline
    return [
        PatronNotice(
            patron_id=row.patron_id,
            notice=notice,
            work_id=row.work_id,
            title=_ill_title(row),
            branch_id=row.pickup_branch_id,
            on=deadline,
            rule=event.rule,
        )
    ]


async def _same_step_date(session: AsyncSession, event: Event, kind: str) -> date | None:
    """The ``on`` date of the ``kind`` event written right after ``event`` by the same step."""
    rows = await session.execute(
        select(Event.kind, Event.payload)
        .where(
            Event.aggregate_type == event.aggregate_type,
            Event.aggregate_id == event.aggregate_id,
            Event.id > event.id,
            Event.recorded_at == event.recorded_at,
        )
        .order_by(Event.id)
        .limit(20)
    )
    for found, payload in rows:
        if found == "ill.status_changed":
            return None  # the next step began
        if found == kind:
            return _date((payload or {}).get("on"))
    return None


async def _ill_recalled(session: AsyncSession, event: Event, _: PolicySet) -> list[PatronNotice]:
    row = await session.get(IllRequest, event.aggregate_id)
    if row is None:
        return []
    return [
        PatronNotice(
            patron_id=row.patron_id,
            notice=Notice.ILL_RECALLED,
            work_id=row.work_id,
            title=_ill_title(row),
            on=_date((event.payload or {}).get("on")) or row.patron_due_date,
            rule=event.rule,
        )
    ]


async def _ill_charge(session: AsyncSession, event: Event, _: PolicySet) -> list[PatronNotice]:
    row = await session.get(IllRequest, event.aggregate_id)
    amount = _amount((event.payload or {}).get("amount"))
    if row is None or amount is None:
        return []
    fees = await session.scalars(
        select(Fee)
        .where(
            Fee.ill_request_id == row.id,
            Fee.patron_id.is_not(None),
            Fee.assessed_at == event.occurred_at,
            Fee.amount == amount,
        )
        .order_by(Fee.id)
        .limit(1)
    )
    notices = _fees(list(fees), row.work_id)
    return [replace(n, title=_ill_title(row)) if n.work_id is None else n for n in notices]


PLANNERS: dict[str, Planner] = {
    "item.checked_in": _checked_in,
    "hold.set_aside": _set_aside,
    "hold.expired": _freed,
    "hold.cancelled": _freed,
    "loan.recalled": _recalled,
    "loan.due_soon": _reminder,
    "loan.overdue": _reminder,
    "fee.assessed": _fee_assessed,
    "item.lost": _lost,
    "ill.notify_patron": _ill_patron,
    "ill.recalled_from_patron": _ill_recalled,
    "ill.charge_patron": _ill_charge,
}


async def patron_notices(
    session: AsyncSession, event: Event, policies: PolicySet
) -> list[PatronNotice]:
    """The notices ``event`` owes patrons (none for most events)."""
    planner = PLANNERS.get(event.kind)
    return await planner(session, event, policies) if planner is not None else []
