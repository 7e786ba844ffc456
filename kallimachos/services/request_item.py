"""``requestItem``: a reader asks for a work once; the best source is chosen and set going.

The order of sources is CONS-2: a copy on the shelf at the pickup branch (set aside for the
reader), another branch of their library (UOC-6 transfer), the queue at their library (a
hold, which recalls a loan: UOC-4a), a partner library by interlibrary loan under the
supplier's own rules, then an external supplier by citation.  Each option is ranked with
the reason for its rank; ``Work.requestOptions`` shows them without creating anything.
An idempotency key makes a repeated call return the first call's result.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kallimachos.db.models import (
    Branch,
    Fee,
    Hold,
    IdempotencyKey,
    IllRequest,
    Item,
    Library,
    Patron,
    SupplierAttempt,
    Work,
)
from kallimachos.domain import request_routing as routing
from kallimachos.domain.actors import Actor, ActorKind
from kallimachos.domain.ill_costs import prepayment_required
from kallimachos.domain.ill_request import IllStatus
from kallimachos.domain.policy import IllMaterialType, MemberLibrary
from kallimachos.policies import PolicySet
from kallimachos.services import circulation_facts as facts
from kallimachos.services.business_time import library_today
from kallimachos.services.desk_access import may_act_for_patron
from kallimachos.services.events import record_event
from kallimachos.services.holds import _place
from kallimachos.services.ill_store import PENDING, library_codes, open_requests_at, set_cost
from kallimachos.services.loanable import copy_facts
from kallimachos.services.outcome import Abort, Outcome, Problem, forbidden, invalid, not_found
from kallimachos.services.transfer import send_to_pickup

MATERIAL_OF_WORK: dict[str, IllMaterialType] = {
    "book": "printed_book",
    "thesis": "doctoral_thesis",
    "article": "print_journal_article",
}
"""How a catalogued work's material type reads in the ILL terms (CUT-A3 names)."""


@dataclass(frozen=True)
class Citation:
    """Material outside the union catalogue (CUT-A4: external suppliers, by citation)."""

    title: str
    material_type: IllMaterialType
    authors: tuple[str, ...] = ()
    year: int | None = None
    isbn: str | None = None
    issn: str | None = None
    journal: str | None = None
    pages: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, ())}


@dataclass
class Requested:
    outcome: routing.RequestKind
    hold: Hold | None = None
    ill_request: IllRequest | None = None
    options: tuple[routing.RequestOption, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Ask:
    patron_card: str
    pickup_branch: str | None
    service_type: str  # "loan" | "copy"
    work_id: int | None = None
    citation: Citation | None = None
    max_cost: Decimal | None = None
    idempotency_key: str | None = None


async def request_options(
    sessions: async_sessionmaker[AsyncSession],
    policies: PolicySet,
    *,
    actor: Actor,
    now: datetime,
    ask: Ask,
) -> Outcome[routing.Routing]:
    """Every way the reader can get the work, ranked, without creating anything."""
    try:
        async with sessions() as session:
            context = await _context(session, policies, actor, ask)
            return Outcome(value=await _route(session, policies, context, ask, now))
    except Abort as stop:
        return Outcome(problems=stop.problems)


async def request_item(
    sessions: async_sessionmaker[AsyncSession],
    policies: PolicySet,
    *,
    actor: Actor,
    now: datetime,
    ask: Ask,
) -> Outcome[Requested]:
    try:
        async with sessions.begin() as session:
            done = await _request(session, policies, actor, now, ask)
    except Abort as stop:
        return Outcome(problems=stop.problems)
    except IntegrityError:
        # the same idempotency key raced us: the first call's result stands
        async with sessions() as session:
            context = await _context(session, policies, actor, ask)
            again = await _remembered(session, context.patron, ask)
        if again is None:
            raise
        return Outcome(value=again)
    return Outcome(value=done)


@dataclass
class _Context:
    patron: Patron
    library: Library
    pickup: Branch
    work: Work | None


async def _context(session: AsyncSession, policies: PolicySet, actor: Actor, ask: Ask) -> _Context:
    if actor.kind in (ActorKind.ANONYMOUS, ActorKind.PARTNER) or (
        actor.kind is ActorKind.PATRON and actor.card_number != ask.patron_card
    ):
        # refused before the card is looked up: nobody learns which cards exist
        raise Abort(forbidden("only the patron or their library's staff may request for them"))
    patron = await facts.patron_by_card(session, ask.patron_card)
    if patron is None:
        raise Abort(not_found("patron with card", ask.patron_card, "patronCardNumber"))
    library = await session.get(Library, patron.library_id)
    assert library is not None
    if not may_act_for_patron(actor, patron.card_number, library.code):
        raise Abort(forbidden("only the patron or their library's staff may request for them"))
    pickup_code = ask.pickup_branch
    pickup = None
    if pickup_code is None:
        pickup = await session.get(Branch, patron.home_branch_id)
    else:
        found = await facts.branch_by_code(session, pickup_code)
        if found is not None and found[1].id == library.id:
            pickup = found[0]
    if pickup is None:
        raise Abort(invalid(f"{pickup_code!r} is not a branch of {library.code}", "pickupBranch"))
    work = None
    if ask.work_id is not None:
        work = await session.get(Work, ask.work_id)
        if work is None:
            raise Abort(not_found("work", str(ask.work_id), "workId"))
    elif ask.citation is None:
        raise Abort(invalid("give a workId or a citation", "workId"))
    return _Context(patron=patron, library=library, pickup=pickup, work=work)


async def _route(
    session: AsyncSession, policies: PolicySet, ctx: _Context, ask: Ask, now: datetime
) -> routing.Routing:
    home = policies.member(ctx.library.code)
    today = library_today(home, now)
    codes = await library_codes(session)
    branch_codes = {b.id: b.code for b in await session.scalars(select(Branch))}
    copies: list[routing.HeldCopy] = []
    if ctx.work is not None:
        items = list(
            await session.scalars(
                select(Item).where(Item.work_id == ctx.work.id, Item.temporary_ill.is_(False))
            )
        )
        queues = await _queues(session, [i.id for i in items], ctx.work.id)
        copies = [
            routing.HeldCopy(
                library=codes[i.library_id],
                branch=branch_codes[i.current_branch_id or i.home_branch_id],
                copy=copy_facts(i),
                hold_queue=queues.get(i.id, 0),
            )
            for i in items
        ]
    open_requests = {
        code: await open_requests_at(session, ctx.library.id, library_id)
        for library_id, code in codes.items()
        if code != ctx.library.code
    }
    material = (
        ask.citation.material_type
        if ask.citation is not None
        else MATERIAL_OF_WORK.get(ctx.work.material_type)
        if ctx.work
        else None
    )
    return routing.request_options(
        policies,
        patron=routing.RoutingPatron(
            library=ctx.library.code,
            home_branch=branch_codes[ctx.patron.home_branch_id],
            pickup_branch=ctx.pickup.code,
            facts=await facts.patron_facts(session, ctx.patron, today),
            open_ill_loan_requests=await _open_loan_requests(session, ctx.patron.id),
        ),
        copies=copies,
        service_type="copy" if ask.service_type == "copy" else "loan",
        material_type=material,
        today=today,
        open_requests=open_requests,
        max_cost=ask.max_cost,
    )


async def _queues(session: AsyncSession, item_ids: list[int], work_id: int) -> dict[int, int]:
    """Holds waiting for each copy (a work-level hold counts for every copy of its library)."""
    rows = (
        await session.execute(
            select(Hold.item_id, Hold.trapped_item_id, Branch.library_id)
            .join(Branch, Branch.id == Hold.pickup_branch_id)
            .where(Hold.status.in_(facts.ACTIVE_HOLD_STATUSES), Hold.work_id == work_id)
        )
    ).all()
    items = {i.id: i for i in await session.scalars(select(Item).where(Item.id.in_(item_ids)))}
    per_library: dict[int, int] = defaultdict(int)
    per_item: dict[int, int] = defaultdict(int)
    for item_id, trapped, library_id in rows:
        target = trapped or item_id
        if target is not None:
            per_item[target] += 1
        else:
            per_library[library_id] += 1
    return {i: per_item[i] + per_library[items[i].library_id] for i in item_ids}


async def _open_loan_requests(session: AsyncSession, patron_id: int) -> int:
    rows = await session.scalars(
        select(IllRequest.id).where(
            IllRequest.patron_id == patron_id,
            IllRequest.service_type == "LOAN",
            IllRequest.status.in_([s.value for s in IllStatus if s.value in _BEFORE_LOAN]),
        )
    )
    return len(list(rows))


_BEFORE_LOAN = {
    "AWAITING_PROCESSING",
    "SENT_TO_SUPPLIER",
    "EXPECT_TO_SUPPLY",
    "WILL_SUPPLY",
    "RETRY_POSSIBLE",
    "UNFILLED",
    "END_OF_ROTA",
    "SHIPPED",
    "RECEIVED",
}


async def _remembered(session: AsyncSession, patron: Patron, ask: Ask) -> Requested | None:
    if not ask.idempotency_key:
        return None
    row = (
        await session.scalars(
            select(IdempotencyKey).where(
                IdempotencyKey.patron_id == patron.id, IdempotencyKey.key == ask.idempotency_key
            )
        )
    ).first()
    if row is None:
        return None
    hold = await session.get(Hold, row.hold_id) if row.hold_id else None
    ill = await session.get(IllRequest, row.ill_request_id) if row.ill_request_id else None
    return Requested(outcome=routing.RequestKind(row.outcome), hold=hold, ill_request=ill)


async def _request(
    session: AsyncSession, policies: PolicySet, actor: Actor, now: datetime, ask: Ask
) -> Requested:
    ctx = await _context(session, policies, actor, ask)
    remembered = await _remembered(session, ctx.patron, ask)
    if remembered is not None:
        return remembered
    found = await _route(session, policies, ctx, ask, now)
    choice = routing.choose(found.options)
    if choice is None:
        problems = [Problem.from_refusal(r) for r in found.refusals]
        if not problems:
            problems = [
                Problem(
                    "NO_SOURCE", "no library or supplier can provide it", rule=routing.ROUTING_RULE
                )
            ]
        raise Abort(*problems)
    home = policies.member(ctx.library.code)
    result = Requested(outcome=choice.kind, options=found.options)
    if choice.kind is routing.RequestKind.LOCAL_PICKUP:
        result.hold = await _set_aside(session, home, actor, now, ctx, choice)
    elif choice.kind is routing.RequestKind.BRANCH_TRANSFER:
        item = await _copy_at(session, ctx, choice.branch)
        result.hold = await send_to_pickup(
            session, home, actor=actor, now=now, patron=ctx.patron, item=item, pickup=ctx.pickup
        )
    elif choice.kind is routing.RequestKind.HOLD:
        assert ctx.work is not None
        placed = await _place(
            session,
            policies,
            actor,
            now,
            ctx.patron.card_number,
            ctx.pickup.code,
            ctx.work.id,
            None,
        )
        result.hold = placed.hold
    else:
        result.ill_request = await _create_ill(session, home, actor, now, ctx, ask, found.options)
    if ask.idempotency_key:
        session.add(
            IdempotencyKey(
                patron_id=ctx.patron.id,
                key=ask.idempotency_key,
                outcome=choice.kind.value,
                hold_id=result.hold.id if result.hold else None,
                ill_request_id=result.ill_request.id if result.ill_request else None,
                created_at=now,
            )
        )
        await session.flush()
    return result


async def _copy_at(session: AsyncSession, ctx: _Context, branch_code: str | None) -> Item:
    assert ctx.work is not None
    found = await facts.branch_by_code(session, branch_code or "")
    assert found is not None
    item = (
        await session.scalars(
            select(Item)
            .where(
                Item.work_id == ctx.work.id,
                Item.library_id == ctx.library.id,
                Item.status == "AVAILABLE",
                (Item.current_branch_id == found[0].id)
                | (Item.current_branch_id.is_(None) & (Item.home_branch_id == found[0].id)),
            )
            .order_by(Item.id)
            .with_for_update()
        )
    ).first()
    if item is None:
        raise Abort(Problem("ITEM_NOT_AVAILABLE", "the copy was just taken; ask again"))
    return item


async def _set_aside(
    session: AsyncSession,
    home: Any,
    actor: Actor,
    now: datetime,
    ctx: _Context,
    choice: routing.RequestOption,
) -> Hold:
    """An available copy at the pickup branch is kept on the hold shelf for the reader."""
    item = await _copy_at(session, ctx, choice.branch)
    today = library_today(home, now)
    hold = Hold(
        patron_id=ctx.patron.id,
        work_id=item.work_id,
        item_id=item.id,
        pickup_branch_id=ctx.pickup.id,
        status="READY",
        placed_at=now,
        trapped_item_id=item.id,
        ready_at=now,
        expires_on=today + timedelta(days=home.holds.hold_shelf_days),
    )
    session.add(hold)
    item.status = "ON_HOLD_SHELF"
    item.version += 1
    await session.flush()
    record_event(
        session,
        actor=actor,
        now=now,
        recorded_at=now,
        aggregate_type="hold",
        aggregate_id=hold.id,
        kind="hold.set_aside",
        rule=choice.rule,
        after={"status": "READY", "item_id": item.id},
        payload={"work_ids": [item.work_id], "patron_id": ctx.patron.id},
    )
    return hold


async def _create_ill(
    session: AsyncSession,
    home: MemberLibrary,
    actor: Actor,
    now: datetime,
    ctx: _Context,
    ask: Ask,
    options: tuple[routing.RequestOption, ...],
) -> IllRequest:
    """A request awaiting staff processing, with its rota of suppliers in rank order."""
    rota = [
        o
        for o in options
        if o.kind in (routing.RequestKind.INTERLIBRARY_LOAN, routing.RequestKind.EXTERNAL_SUPPLIER)
    ]
    ids = {code: lib_id for lib_id, code in (await library_codes(session)).items()}
    first = rota[0]
    work_id = ctx.work.id if ctx.work else None
    material = (
        ask.citation.material_type
        if ask.citation
        else (MATERIAL_OF_WORK.get(ctx.work.material_type) if ctx.work else None)
    )
    row = IllRequest(
        patron_id=ctx.patron.id,
        requesting_library_id=ctx.library.id,
        pickup_branch_id=ctx.pickup.id,
        work_id=work_id,
        citation=ask.citation.as_dict() if ask.citation else None,
        service_type="COPY" if ask.service_type == "copy" else "LOAN",
        material_type=material,
        status=IllStatus.AWAITING_PROCESSING.value,
        supplier_library_id=ids[first.library],
        max_cost=ask.max_cost,
        idempotency_key=ask.idempotency_key,
        created_at=now,
        renewals=0,
        copyright_declared=ask.service_type == "copy",
    )
    set_cost(row, first.estimated_cost)
    session.add(row)
    await session.flush()
    cost = first.estimated_cost
    if cost is not None and prepayment_required(home, cost):
        session.add(
            Fee(
                patron_id=ctx.patron.id,
                library_id=ctx.library.id,
                ill_request_id=row.id,
                kind="ill_charge",
                amount=cost.total,
                paid=Decimal("0.00"),
                currency="EUR",
                status="OPEN",
                rule=home.ill_requesting.cost.rule_for("personal_charge_prepaid"),
                note="personal charge, paid before the request is sent",
                assessed_at=now,
            )
        )
    for option in rota:
        session.add(
            SupplierAttempt(
                request_id=row.id,
                rank=option.rank,
                supplier_library_id=ids[option.library],
                status=PENDING,
                rank_reason=option.reason,
                created_at=now,
                updated_at=now,
            )
        )
    record_event(
        session,
        actor=actor,
        now=now,
        recorded_at=now,
        aggregate_type="ill_request",
        aggregate_id=row.id,
        kind="ill.requested",
        rule=first.rule,
        after={"status": row.status, "supplier": first.library, "service_type": row.service_type},
        payload={
            "rota": [o.library for o in rota],
            "patron_id": ctx.patron.id,
            "work_ids": [work_id] if work_id else [],
        },
    )
    await session.flush()
    return row
