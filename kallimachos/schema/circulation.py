"""Circulation objects in GraphQL: loans, holds, fees, money, blocks."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import Enum

import strawberry
from strawberry import relay

from kallimachos.db.models import Fee as FeeRow
from kallimachos.db.models import Hold as HoldRow
from kallimachos.db.models import Loan as LoanRow
from kallimachos.schema.catalogue import Item, _item
from kallimachos.schema.context import Info
from kallimachos.schema.ids import node_db_ids
from kallimachos.schema.types import Branch


@strawberry.type(description="An exact amount of money; `amount` is a decimal string.")
class Money:
    amount: str
    currency: str

    @classmethod
    def of(cls, value: Decimal, currency: str = "EUR") -> Money:
        return cls(amount=str(value.quantize(Decimal("0.01"))), currency=currency)


@strawberry.type(description="A copy lent to a patron.")
class Loan(relay.Node):
    db_id: relay.NodeID[int]
    due_date: str
    renewals: int
    recalled: bool
    checked_out_at: str
    returned_at: str | None
    item_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: LoanRow) -> Loan:
        return cls(
            db_id=row.id,
            due_date=row.due_date.isoformat(),
            renewals=row.renewals,
            recalled=row.recalled,
            checked_out_at=row.checked_out_at.isoformat(),
            returned_at=row.returned_at.isoformat() if row.returned_at else None,
            item_id=row.item_id,
        )

    @strawberry.field
    async def item(self, info: Info) -> Item:
        view = await info.context.loaders.item.load(self.item_id)
        assert view is not None
        return _item(info, view)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Loan | None]:
        from kallimachos.schema.patron_data import visible_loans

        return await visible_loans(info, node_db_ids(node_ids))


@strawberry.enum(description="Where a hold is in its life.")
class HoldStatus(Enum):
    WAITING = "WAITING"
    IN_TRANSIT = "IN_TRANSIT"
    READY = "READY"
    FULFILLED = "FULFILLED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


@strawberry.type(description="A patron's place in the queue for a work or a copy.")
class Hold(relay.Node):
    db_id: relay.NodeID[int]
    status: HoldStatus
    position: int | None = strawberry.field(
        description="Place in the queue while waiting (1 = next), first come first served."
    )
    placed_at: str
    expires_at: str | None = strawberry.field(
        description="Last day to collect a copy kept on the hold shelf (ISO date)."
    )
    pickup_branch_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: HoldRow, position: int | None = None) -> Hold:
        return cls(
            db_id=row.id,
            status=HoldStatus(row.status),
            position=position,
            placed_at=row.placed_at.isoformat(),
            expires_at=row.expires_on.isoformat() if row.expires_on else None,
            pickup_branch_id=row.pickup_branch_id,
        )

    @strawberry.field
    async def pickup_branch(self, info: Info) -> Branch:
        row = await info.context.loaders.branch.load(self.pickup_branch_id)
        assert row is not None
        return Branch.from_row(row)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Hold | None]:
        from kallimachos.schema.patron_data import visible_holds

        return await visible_holds(info, node_db_ids(node_ids))


@strawberry.type(description="Money a patron owes: overdue fine, replacement, ILL charge...")
class Fee(relay.Node):
    db_id: relay.NodeID[int]
    kind: str
    amount: Money
    paid: Money
    outstanding: Money
    status: str = strawberry.field(description="OPEN, PAID or WAIVED.")
    rule: str | None = strawberry.field(description="The RULES.md ID the charge applies.")
    note: str | None
    assessed_at: str

    @classmethod
    def from_row(cls, row: FeeRow) -> Fee:
        owed = row.amount - row.paid if row.status == "OPEN" else Decimal("0.00")
        return cls(
            db_id=row.id,
            kind=row.kind,
            amount=Money.of(row.amount, row.currency),
            paid=Money.of(row.paid, row.currency),
            outstanding=Money.of(owed, row.currency),
            status=row.status,
            rule=row.rule,
            note=row.note,
            assessed_at=row.assessed_at.isoformat(),
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Fee | None]:
        from kallimachos.schema.patron_data import visible_fees

        return await visible_fees(info, node_db_ids(node_ids))


@strawberry.type(description="Why a patron may not borrow now, and the rule that says so.")
class Block:
    code: str
    message: str
    rule: str | None
