"""Take one step of an ILL request for whoever speaks: requesting staff, the supplier, the patron.

Every step goes through the lifecycle table (:func:`kallimachos.domain.ill_states.apply`):
one guard per transition, refusals naming their rule, effects written as history events and
charges.  A received loan becomes a temporary copy at the pickup branch, so the desk lends
and takes it back with ordinary circulation (checkout uses the patron's ILL due date).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kallimachos.db.models import Branch, Fee, IllRequest, Item, Loan, Patron, SupplierAttempt, Work
from kallimachos.domain.actors import Actor, ActorKind
from kallimachos.domain.ill_costs import estimate_cost, prepayment_required
from kallimachos.domain.ill_request import (
    ActionDetails,
    IllAction,
    IllStatus,
    RequestingAction,
    SupplyStatus,
)
from kallimachos.domain.ill_states import apply
from kallimachos.domain.policy import IllServiceType
from kallimachos.policies import PolicySet
from kallimachos.services.holiday_data import calendar_for
from kallimachos.services.ill_store import (
    PENDING,
    apply_effects,
    attempts_of,
    facts_of,
    library_codes,
    set_cost,
    store_facts,
)
from kallimachos.services.outcome import Abort, Outcome, Problem, forbidden, not_found


@dataclass
class Stepped:
    request: IllRequest
    fees: list[Fee] = field(default_factory=list)


async def ill_step(
    sessions: async_sessionmaker[AsyncSession],
    policies: PolicySet,
    *,
    actor: Actor,
    now: datetime,
    request_id: int,
    action: IllAction,
    details: ActionDetails,
) -> Outcome[Stepped]:
    try:
        if action is RequestingAction.PROCESS:
            async with sessions.begin() as session:
                await _ask_prepayment(session, policies, request_id, now)
        async with sessions.begin() as session:
            row = await session.get(IllRequest, request_id, with_for_update=True)
            if row is None:
                raise Abort(not_found("ILL request", str(request_id), "requestId"))
            done = await take_step(session, policies, row, action, details, actor=actor, now=now)
    except Abort as stop:
        return Outcome(problems=stop.problems)
    return Outcome(value=done)


async def _ask_prepayment(
    session: AsyncSession, policies: PolicySet, request_id: int, now: datetime
) -> None:
    """Before sending to a supplier that charges the patron, the charge must be asked for
    (CUT-A4-PRE): an open personal-charge fee for the cost there, which the patron pays first.
    Written in its own transaction so it stands even when sending is refused for it."""
    row = await session.get(IllRequest, request_id, with_for_update=True)
    if row is None or row.prepaid:
        return
    attempts = await attempts_of(session, row.id)
    supplier_id = _next_supplier(row, attempts)
    codes = await library_codes(session)
    if supplier_id is None or codes.get(supplier_id) not in policies:
        return
    patron = await session.get(Patron, row.patron_id)
    assert patron is not None
    requesting = policies.member(codes[row.requesting_library_id])
    service: IllServiceType = "copy" if row.service_type == "COPY" else "loan"
    try:
        cost = estimate_cost(
            requesting,
            policies.library(codes[supplier_id]),
            service_type=service,
            category=patron.category,
        )
    except ValueError:
        return
    if not prepayment_required(requesting, cost):
        return
    fee = (
        await session.scalars(
            select(Fee).where(Fee.ill_request_id == row.id, Fee.kind == "ill_charge")
        )
    ).first()
    if fee is None:
        session.add(
            Fee(
                patron_id=patron.id,
                library_id=row.requesting_library_id,
                ill_request_id=row.id,
                kind="ill_charge",
                amount=cost.total,
                paid=Decimal("0.00"),
                currency="EUR",
                status="OPEN",
                rule=requesting.ill_requesting.cost.rule_for("personal_charge_prepaid"),
                note=f"personal charge at {codes[supplier_id]}, paid before the request is sent",
                assessed_at=now,
            )
        )
    elif fee.status == "OPEN" and fee.paid == 0 and fee.amount != cost.total:
        fee.amount = cost.total
        fee.note = f"personal charge at {codes[supplier_id]}, paid before the request is sent"
    set_cost(row, cost)


def may_see(actor: Actor, row: IllRequest, codes: dict[int, str], patron_card: str) -> bool:
    """The patron, their library's staff, the supplier of the moment (staff or partner), admins."""
    if actor.kind is ActorKind.ADMIN:
        return True
    if actor.kind is ActorKind.PATRON:
        return actor.card_number == patron_card
    library = actor.library
    if actor.kind is ActorKind.STAFF and library == codes.get(row.requesting_library_id):
        return True
    supplier = codes.get(row.supplier_library_id) if row.supplier_library_id else None
    return (
        actor.kind in (ActorKind.STAFF, ActorKind.PARTNER)
        and library == supplier
        and (row.status != IllStatus.AWAITING_PROCESSING.value)
    )


async def take_step(
    session: AsyncSession,
    policies: PolicySet,
    row: IllRequest,
    action: IllAction,
    details: ActionDetails,
    *,
    actor: Actor,
    now: datetime,
) -> Stepped:
    patron = await session.get(Patron, row.patron_id)
    assert patron is not None
    codes = await library_codes(session)
    if not may_see(actor, row, codes, patron.card_number):
        raise Abort(forbidden("this request is not addressed to you"))
    attempts = await attempts_of(session, row.id)
    supplier_id = row.supplier_library_id
    if action is RequestingAction.PROCESS:
        supplier_id = _next_supplier(row, attempts)
    requesting = policies.member(codes[row.requesting_library_id])
    local_now = now.astimezone(ZoneInfo(requesting.calendar.timezone))
    request = await facts_of(session, row, patron, codes, supplier_id=supplier_id)
    pickup = await session.get(Branch, row.pickup_branch_id)
    pickup_code = pickup.code if pickup is not None else None
    result = apply(
        request,
        action,
        actor,
        now=local_now,
        policies=policies,
        calendar=calendar_for(requesting, pickup_code),
        details=details,
    )
    if not result.ok:
        raise Abort(*(Problem.from_refusal(r) for r in result.refusals))
    before = {"status": row.status}
    store_facts(row, result.request, now)
    await _follow_on_patron_loan(session, row)
    _update_rota(row, attempts, action, details, supplier_id, now)
    if action is RequestingAction.PROCESS and row.processed_at is None:
        row.processed_at = now
    if result.new_state is IllStatus.RECEIVED and row.temporary_item_id is None:
        await _temporary_copy(session, row, now)
    if row.temporary_item_id is not None and result.new_state in (
        IllStatus.SHIPPED_RETURN,
        IllStatus.COMPLETED,
        IllStatus.RETURNED_UNCOLLECTED,
        IllStatus.LOST,
        IllStatus.COMPLETED_WITHOUT_RETURN,
    ):
        item = await session.get(Item, row.temporary_item_id)
        if item is not None and item.status != "ON_LOAN":
            item.status = "WITHDRAWN"
    await session.flush()
    fees = await apply_effects(
        session, row, patron, result.events, actor=actor, now=now, before=before
    )
    return Stepped(request=row, fees=fees)


def _next_supplier(row: IllRequest, attempts: list[SupplierAttempt]) -> int | None:
    """The supplier to send to now: the current one first, else the next one still pending."""
    pending = [a for a in attempts if a.status == PENDING]
    if row.status == IllStatus.AWAITING_PROCESSING.value or row.status == "RETRY_POSSIBLE":
        current = next(
            (
                a
                for a in attempts
                if a.supplier_library_id == row.supplier_library_id
                and a.status in (PENDING, "RETRY_POSSIBLE")
            ),
            None,
        )
        if current is not None:
            return current.supplier_library_id
    return pending[0].supplier_library_id if pending else row.supplier_library_id


def _update_rota(
    row: IllRequest,
    attempts: list[SupplierAttempt],
    action: IllAction,
    details: ActionDetails,
    supplier_id: int | None,
    now: datetime,
) -> None:
    current = next((a for a in attempts if a.supplier_library_id == supplier_id), None)
    if action is RequestingAction.PROCESS:
        row.supplier_library_id = supplier_id
        if current is not None:
            current.status = "SENT"
            current.updated_at = now
        return
    if current is None or not isinstance(action, SupplyStatus):
        return
    current.status = action.value
    current.updated_at = now
    if action in (SupplyStatus.UNFILLED, SupplyStatus.CANCELLED):
        current.reason_unfilled = details.reason or details.note


async def _temporary_copy(session: AsyncSession, row: IllRequest, now: datetime) -> None:
    """A received loan becomes a copy at the pickup branch, kept for the patron."""
    work_id = row.work_id
    if work_id is None:
        citation = row.citation or {}
        work = Work(
            title=str(citation.get("title") or "[ILL]"),
            authors=list(citation.get("authors") or []),
            material_type="book",
            updated_at=now,
        )
        session.add(work)
        await session.flush()
        work_id = work.id
    item = Item(
        barcode=f"ILL-{row.id}",
        library_id=row.requesting_library_id,
        home_branch_id=row.pickup_branch_id,
        current_branch_id=row.pickup_branch_id,
        work_id=work_id,
        collection="general",
        material_type="book",
        status="ON_HOLD_SHELF",
        temporary_ill=True,
        created_at=now,
    )
    session.add(item)
    await session.flush()
    row.temporary_item_id = item.id


async def request_of_copy(session: AsyncSession, item: Item) -> IllRequest | None:
    return (
        await session.scalars(
            select(IllRequest).where(IllRequest.temporary_item_id == item.id).with_for_update()
        )
    ).first()


async def lend_ill_copy(
    session: AsyncSession,
    policies: PolicySet,
    *,
    actor: Actor,
    now: datetime,
    item: Item,
    patron: Patron,
    branch_id: int,
) -> Loan:
    """Hand a received ILL loan to its requester: due on the patron's ILL due date (CUT-A11)."""
    row = await request_of_copy(session, item)
    if row is None or row.patron_id != patron.id:
        raise Abort(
            Problem(
                "ITEM_NOT_AVAILABLE",
                "this interlibrary loan is for another reader",
                ("input", "patronCardNumber"),
            )
        )
    if item.status != "ON_HOLD_SHELF":
        raise Abort(Problem("ITEM_NOT_AVAILABLE", f"the copy is {item.status.lower()}"))
    await take_step(
        session,
        policies,
        row,
        RequestingAction.CHECKOUT_TO_PATRON,
        ActionDetails(),
        actor=await _desk(session, actor, row),
        now=now,
    )
    assert row.patron_due_date is not None
    loan = Loan(
        item_id=item.id,
        patron_id=patron.id,
        library_id=item.library_id,
        checkout_branch_id=branch_id,
        checked_out_at=now,
        due_date=row.patron_due_date,
        renewals=0,
        recalled=False,
        rule="CUT-A11",
    )
    session.add(loan)
    item.status = "ON_LOAN"
    item.version += 1
    await session.flush()
    return loan


async def returned_ill_copy(
    session: AsyncSession, policies: PolicySet, *, actor: Actor, now: datetime, item: Item
) -> None:
    """The patron brought the ILL loan back: it waits to be shipped to the supplier."""
    row = await request_of_copy(session, item)
    if row is None:
        return
    await take_step(
        session,
        policies,
        row,
        RequestingAction.PATRON_RETURN,
        ActionDetails(),
        actor=await _desk(session, actor, row),
        now=now,
    )
    item.status = "IN_TRANSIT"
    item.transit_to_branch_id = None


async def _follow_on_patron_loan(session: AsyncSession, row: IllRequest) -> None:
    """The supplier's dates bind the patron (CONS-3): a recall or renewal moves their loan."""
    if row.temporary_item_id is None or row.patron_due_date is None:
        return
    loan = (
        await session.scalars(
            select(Loan)
            .where(Loan.item_id == row.temporary_item_id, Loan.returned_at.is_(None))
            .with_for_update()
        )
    ).first()
    if loan is None or loan.due_date == row.patron_due_date:
        return
    if row.status == IllStatus.RECALLED.value and row.patron_due_date < loan.due_date:
        loan.recalled = True
    loan.due_date = row.patron_due_date
    loan.version += 1


async def _desk(session: AsyncSession, actor: Actor, row: IllRequest) -> Actor:
    """The requesting library's desk (already authorised by circulation) takes the ILL step."""
    if actor.kind is ActorKind.STAFF:
        return actor
    codes = await library_codes(session)
    return Actor(ActorKind.STAFF, library=codes[row.requesting_library_id], token_id=actor.token_id)
