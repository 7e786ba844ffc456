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

from sqlalchemy import func, select
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
from kallimachos.services.ill_store import OPEN_STATUSES, PENDING, set_cost
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
    libraries: dict[str, Library] = field(default_factory=dict)  # by code: the options' rows
    branches: dict[str, Branch] = field(default_factory=dict)


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


@dataclass(frozen=True)
class _Directory:
    """Every library and branch (a dozen rows), loaded once per request."""

    libraries: dict[int, Library]
    branches: dict[int, Branch]

    @classmethod
    async def load(cls, session: AsyncSession) -> _Directory:
        rows = (await session.execute(select(Library, Branch).outerjoin(Library.branches))).all()
        return cls(
            libraries={library.id: library for library, _ in rows},
            branches={branch.id: branch for _, branch in rows if branch is not None},
        )

    def code(self, library_id: int) -> str:
        return self.libraries[library_id].code

    def branch_code(self, branch_id: int) -> str:
        return self.branches[branch_id].code

    def branch(self, code: str | None) -> Branch | None:
        return next((b for b in self.branches.values() if b.code == code), None)


@dataclass
class _Context:
    patron: Patron
    library: Library
    pickup: Branch
    work: Work | None
    directory: _Directory


async def _context(session: AsyncSession, policies: PolicySet, actor: Actor, ask: Ask) -> _Context:
    if actor.kind in (ActorKind.ANONYMOUS, ActorKind.PARTNER) or (
        actor.kind is ActorKind.PATRON and actor.card_number != ask.patron_card
    ):
        # refused before the card is looked up: nobody learns which cards exist
        raise Abort(forbidden("only the patron or their library's staff may request for them"))
    patron = await facts.patron_by_card(session, ask.patron_card)
    if patron is None:
        raise Abort(not_found("patron with card", ask.patron_card, "patronCardNumber"))
    directory = await _Directory.load(session)
    library = directory.libraries[patron.library_id]
    if not may_act_for_patron(actor, patron.card_number, library.code):
        raise Abort(forbidden("only the patron or their library's staff may request for them"))
    pickup_code = ask.pickup_branch
    pickup = None
    if pickup_code is None:
        pickup = directory.branches.get(patron.home_branch_id)
    else:
        found = directory.branch(pickup_code)
        if found is not None and found.library_id == library.id:
            pickup = found
    if pickup is None:
        raise Abort(invalid(f"{pickup_code!r} is not a branch of {library.code}", "pickupBranch"))
    work = None
    if ask.work_id is not None:
        work = await session.get(Work, ask.work_id)
        if work is None:
            raise Abort(not_found("work", str(ask.work_id), "workId"))
    elif ask.citation is None:
        raise Abort(invalid("give a workId or a citation", "workId"))
    return _Context(patron=patron, library=library, pickup=pickup, work=work, directory=directory)


async def _route(
    session: AsyncSession, policies: PolicySet, ctx: _Context, ask: Ask, now: datetime
) -> routing.Routing:
    home = policies.member(ctx.library.code)
    today = library_today(home, now)
    directory = ctx.directory
    copies: list[routing.HeldCopy] = []
    if ctx.work is not None:
        items = list(
            await session.scalars(
                select(Item).where(Item.work_id == ctx.work.id, Item.temporary_ill.is_(False))
            )
        )
        queues = await _queues(session, items, ctx.work.id)
        copies = [
            routing.HeldCopy(
                library=directory.code(i.library_id),
                branch=directory.branch_code(i.current_branch_id or i.home_branch_id),
                copy=copy_facts(i),
                hold_queue=queues.get(i.id, 0),
            )
            for i in items
        ]
    counts, open_loan_requests = await _open_requests(session, ctx.library.id, ctx.patron.id)
    open_requests = {
        library.code: counts.get(library_id, 0)
        for library_id, library in directory.libraries.items()
        if library.code != ctx.library.code
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
            home_branch=directory.branch_code(ctx.patron.home_branch_id),
            pickup_branch=ctx.pickup.code,
            facts=await facts.patron_facts(session, ctx.patron, today),
            open_ill_loan_requests=open_loan_requests,
        ),
        copies=copies,
        service_type="copy" if ask.service_type == "copy" else "loan",
        material_type=material,
        today=today,
        open_requests=open_requests,
        max_cost=ask.max_cost,
    )


async def _queues(session: AsyncSession, items: list[Item], work_id: int) -> dict[int, int]:
    """Holds waiting for each copy (a work-level hold counts for every copy of its library)."""
    rows = (
        await session.execute(
            select(Hold.item_id, Hold.trapped_item_id, Branch.library_id)
            .join(Branch, Branch.id == Hold.pickup_branch_id)
            .where(Hold.status.in_(facts.ACTIVE_HOLD_STATUSES), Hold.work_id == work_id)
        )
    ).all()
    per_library: dict[int, int] = defaultdict(int)
    per_item: dict[int, int] = defaultdict(int)
    for item_id, trapped, library_id in rows:
        target = trapped or item_id
        if target is not None:
            per_item[target] += 1
        else:
            per_library[library_id] += 1
    return {i.id: per_item[i.id] + per_library[i.library_id] for i in items}


async def _open_requests(
    session: AsyncSession, requesting_id: int, patron_id: int
) -> tuple[dict[int, int], int]:
    """In one statement: the requesting library's requests open at each supplier (CUT-B2
    counts them), and the patron's loan requests not yet on loan (each will be a loan)."""
    at_supplier = (
        (IllRequest.requesting_library_id == requesting_id)
        & IllRequest.status.in_(OPEN_STATUSES)
        & (IllRequest.status != IllStatus.AWAITING_PROCESSING.value)
    )
    patron_loans = (
        (IllRequest.patron_id == patron_id)
        & (IllRequest.service_type == "LOAN")
        & IllRequest.status.in_([s.value for s in IllStatus if s.value in _BEFORE_LOAN])
    )
    rows = await session.execute(
        select(
            IllRequest.supplier_library_id,
            func.count().filter(at_supplier),
            func.count().filter(patron_loans),
        )
        .where(
            (IllRequest.requesting_library_id == requesting_id)
            | (IllRequest.patron_id == patron_id)
        )
        .group_by(IllRequest.supplier_library_id)
    )
    by_supplier: dict[int, int] = {}
    loan_requests = 0
    for supplier, open_there, patrons in rows:
        if supplier is not None:
            by_supplier[supplier] = int(open_there)
        loan_requests += int(patrons)
    return by_supplier, loan_requests


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
    directory = ctx.directory
    result = Requested(
        outcome=choice.kind,
        options=found.options,
        libraries={lib.code: lib for lib in directory.libraries.values()},
        branches={branch.code: branch for branch in directory.branches.values()},
    )
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
    branch = ctx.directory.branch(branch_code)
    assert branch is not None
    item = (
        await session.scalars(
            select(Item)
            .where(
                Item.work_id == ctx.work.id,
                Item.library_id == ctx.library.id,
                Item.status == "AVAILABLE",
                (Item.current_branch_id == branch.id)
                | (Item.current_branch_id.is_(None) & (Item.home_branch_id == branch.id)),
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
    ids = {library.code: library_id for library_id, library in ctx.directory.libraries.items()}
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
