"""Interlibrary loan in GraphQL: requests with cost and history, request options, queues."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

import strawberry
from sqlalchemy import select
from strawberry import relay

from kallimachos.db.models import Branch as BranchRow
from kallimachos.db.models import IllRequest as IllRequestRow
from kallimachos.db.models import Library as LibraryRow
from kallimachos.db.models import Patron as PatronRow
from kallimachos.domain import request_routing as routing
from kallimachos.domain.ill_request import IllStatus as IllStatus
from kallimachos.domain.ill_request import SupplyStatus as IllSupplyStatus
from kallimachos.domain.request_routing import RequestKind as RequestKind
from kallimachos.schema.circulation import Money
from kallimachos.schema.context import Info
from kallimachos.schema.ids import node_db_ids
from kallimachos.schema.types import Branch, Library
from kallimachos.services.ill_actions import may_see
from kallimachos.services.ill_store import history_of, library_codes

# The lifecycle's own enums, exposed as they are: one list of values, never two to keep equal.
strawberry.enum(
    RequestKind, description="The kinds of source requestItem chooses from, in CONS-2 order."
)
strawberry.enum(
    IllStatus,
    description=(
        "Where an ILL request stands for both libraries (ISO 18626-shaped): AWAITING_PROCESSING"
        " -> SENT_TO_SUPPLIER -> EXPECT_TO_SUPPLY/WILL_SUPPLY -> SHIPPED -> RECEIVED -> "
        "CHECKED_OUT_TO_PATRON -> RETURNED_BY_PATRON -> SHIPPED_RETURN -> COMPLETED; copies end "
        "at COPY_DELIVERED -> COMPLETED; UNFILLED moves to the next supplier, END_OF_ROTA when "
        "none is left; CANCELLED, RECALLED, OVERDUE, RETURNED_UNCOLLECTED, LOST, "
        "COMPLETED_WITHOUT_RETURN as in the domain's transition table."
    ),
)
strawberry.enum(
    IllSupplyStatus,
    name="IllSupplyStatus",
    description="What the supplying library says (ISO 18626 supplying statuses).",
)


@strawberry.enum(description="Who pays for an interlibrary request (CUT-A1-PAY).")
class Payer(Enum):
    PATRON = "PATRON"
    LIBRARY = "LIBRARY"


@strawberry.enum(description="A returnable LOAN, or a COPY the patron keeps (TUC-ILL-3, CUT-A10).")
class IllServiceType(Enum):
    LOAN = "LOAN"
    COPY = "COPY"


@strawberry.enum(description="What the requesting library does.")
class IllRequestingActionKind(Enum):
    CANCEL = "CANCEL"
    RECEIVED = "RECEIVED"
    RENEW = "RENEW"
    SHIPPED_RETURN = "SHIPPED_RETURN"
    LOST = "LOST"
    NOTIFICATION = "NOTIFICATION"


@strawberry.type(description="What a request costs and who pays (CUT-A4).")
class IllCost:
    supplier_charge: Money
    shipping: Money
    service_charge: Money
    vat: Money
    total: Money
    payer: Payer | None
    prepaid: bool


@strawberry.type(description="One step in a request's history: who, when, which rule.")
class IllEvent:
    at: str
    kind: str
    actor: str
    rule: str | None
    message: str | None


@strawberry.type(description="One way to get a work (ranked, with the reason for its rank).")
class RequestOption:
    kind: RequestKind
    rank: int
    reason: str
    rule: str | None
    estimated_cost: Money | None
    payer: Payer | None
    loan_days: int | None
    library_code: strawberry.Private[str]
    branch_code: strawberry.Private[str | None]
    library_row: strawberry.Private[LibraryRow | None] = None
    branch_row: strawberry.Private[BranchRow | None] = None

    @classmethod
    def of(
        cls,
        option: routing.RequestOption,
        libraries: dict[str, LibraryRow] | None = None,
        branches: dict[str, BranchRow] | None = None,
    ) -> RequestOption:
        """The option; ``libraries``/``branches`` by code, when the caller has them loaded."""
        cost = option.estimated_cost
        return cls(
            kind=option.kind,
            rank=option.rank,
            reason=option.reason,
            rule=option.rule,
            estimated_cost=Money.of(cost.total, cost.currency) if cost else None,
            payer=Payer(option.payer.upper()) if option.payer else None,
            loan_days=option.loan_days,
            library_code=option.library,
            branch_code=option.branch,
            library_row=(libraries or {}).get(option.library),
            branch_row=(branches or {}).get(option.branch) if option.branch else None,
        )

    @strawberry.field
    async def library(self, info: Info) -> Library | None:
        row = self.library_row or await info.context.loaders.library_by_code.load(self.library_code)
        return Library.from_row(row) if row else None

    @strawberry.field
    async def branch(self, info: Info) -> Branch | None:
        if self.branch_code is None:
            return None
        row = self.branch_row or await info.context.loaders.branch_by_code.load(self.branch_code)
        return Branch.from_row(row) if row else None


@strawberry.type(description="An interlibrary loan or copy request: one intent, many suppliers.")
class IllRequest(relay.Node):
    db_id: relay.NodeID[int]
    status: IllStatus
    service_type: IllServiceType
    material_type: str | None
    supplier_due_date: str | None
    patron_due_date: str | None
    pickup_deadline: str | None
    renewals: int
    created_at: str
    citation: strawberry.scalars.JSON | None
    late: bool | None = strawberry.field(
        description="In staff queues: waiting past the forwarding deadline or the due date."
    )
    requesting_library_id: strawberry.Private[int]
    supplier_id: strawberry.Private[int | None]
    row: strawberry.Private[IllRequestRow]

    @classmethod
    def from_row(cls, row: IllRequestRow, late: bool | None = None) -> IllRequest:
        return cls(
            db_id=row.id,
            status=IllStatus(row.status),
            service_type=IllServiceType(row.service_type),
            material_type=row.material_type,
            supplier_due_date=row.supplier_due_date.isoformat() if row.supplier_due_date else None,
            patron_due_date=row.patron_due_date.isoformat() if row.patron_due_date else None,
            pickup_deadline=row.pickup_deadline.isoformat() if row.pickup_deadline else None,
            renewals=row.renewals,
            created_at=row.created_at.isoformat(),
            citation=row.citation,  # type: ignore[arg-type]
            late=late,
            requesting_library_id=row.requesting_library_id,
            supplier_id=row.supplier_library_id,
            row=row,
        )

    @strawberry.field
    async def requesting_library(self, info: Info) -> Library:
        found = await info.context.loaders.library.load(self.requesting_library_id)
        assert found is not None
        return Library.from_row(found)

    @strawberry.field(description="The supplier the request is with now (rota order).")
    async def supplier(self, info: Info) -> Library | None:
        if self.supplier_id is None:
            return None
        found = await info.context.loaders.library.load(self.supplier_id)
        return Library.from_row(found) if found else None

    @strawberry.field
    def cost(self) -> IllCost | None:
        row = self.row
        if row.total_cost is None:
            return None
        zero = Money.of(row.total_cost * 0)
        return IllCost(
            supplier_charge=Money.of(row.supplier_charge)
            if row.supplier_charge is not None
            else zero,
            shipping=Money.of(row.shipping) if row.shipping is not None else zero,
            service_charge=Money.of(row.service_charge) if row.service_charge is not None else zero,
            vat=Money.of(row.vat) if row.vat is not None else zero,
            total=Money.of(row.total_cost),
            payer=Payer(row.payer) if row.payer else None,
            prepaid=row.prepaid,
        )

    @strawberry.field(description="Every step with actor, time and rule (append-only).")
    async def history(self, info: Info) -> list[IllEvent]:
        async with info.context.services.sessions() as session:
            events = await history_of(session, self.db_id)
        return [
            IllEvent(
                at=e.occurred_at.isoformat(),
                kind=e.kind,
                actor=e.actor_kind,
                rule=e.rule,
                message=(e.payload or {}).get("message"),
            )
            for e in events
        ]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[IllRequest | None]:
        ids = node_db_ids(node_ids)
        async with info.context.services.sessions() as session:
            rows = {
                r.id: r
                for r in await session.scalars(
                    select(IllRequestRow).where(IllRequestRow.id.in_(ids))
                )
            }
            codes = await library_codes(session)
            cards = {
                p.id: p.card_number
                for p in await session.scalars(
                    select(PatronRow).where(PatronRow.id.in_([r.patron_id for r in rows.values()]))
                )
            }
        return [
            cls.from_row(rows[i])
            if i in rows and may_see(info.context.actor, rows[i], codes, cards[rows[i].patron_id])
            else None
            for i in ids
        ]
