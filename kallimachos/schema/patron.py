"""The Patron type: a reader and, for those allowed to see them, their loans, holds and fees."""

from __future__ import annotations

from collections.abc import Iterable

import strawberry
from sqlalchemy import select
from strawberry import relay

from kallimachos.db.models import IllRequest as IllRequestRow
from kallimachos.db.models import Patron as PatronRow
from kallimachos.schema import patron_data
from kallimachos.schema.circulation import Block, Fee, Hold, Loan, Money
from kallimachos.schema.context import Info
from kallimachos.schema.ids import node_db_ids
from kallimachos.schema.ill import IllRequest
from kallimachos.schema.types import Branch, Library


@strawberry.type(
    description="A registered reader. Visible to themself, their library's staff and admins."
)
class Patron(relay.Node):
    db_id: relay.NodeID[int]
    card_number: str
    name: str
    email: str | None
    category: str = strawberry.field(description="The library's patron category code.")
    expires_on: str | None = strawberry.field(description="Card expiry date (ISO).")
    fee_paid_until: str | None = strawberry.field(description="Annual fee paid until (ISO).")
    library_id: strawberry.Private[int]
    home_branch_id: strawberry.Private[int]
    suspended_until_value: strawberry.Private[str | None] = None

    @classmethod
    def from_row(cls, row: PatronRow) -> Patron:
        return cls(
            db_id=row.id,
            card_number=row.card_number,
            name=row.name,
            email=row.email,
            category=row.category,
            expires_on=row.expires_on.isoformat() if row.expires_on else None,
            fee_paid_until=row.fee_paid_until.isoformat() if row.fee_paid_until else None,
            library_id=row.library_id,
            home_branch_id=row.home_branch_id,
            suspended_until_value=row.suspended_until.isoformat() if row.suspended_until else None,
        )

    @strawberry.field(description="Open loans; with includeReturned, also the last 30 days'.")
    async def loans(self, info: Info, include_returned: bool = False) -> list[Loan]:
        return await patron_data.loans_of(info, self.db_id, include_returned)

    @strawberry.field(description="Active holds with queue position and pickup deadline.")
    async def holds(self, info: Info) -> list[Hold]:
        return await patron_data.holds_of(info, self.db_id)

    @strawberry.field(description="Every fee, open, paid or waived.")
    async def fees(self, info: Info) -> list[Fee]:
        return await patron_data.fees_of(info, self.db_id)

    @strawberry.field(description="What the patron owes now (open fees).")
    async def balance(self, info: Info) -> Money:
        return Money.of(await patron_data.balance_of(info, self.db_id))

    @strawberry.field(
        description="Can the patron be cleared (e.g. to graduate)? Empty when yes (AEG-8)."
    )
    async def clearance_refusals(self, info: Info) -> list[Block]:
        return await patron_data.clearance_of(info, self.db_id)

    @strawberry.field(description="Suspended from borrowing until this day (ISO), if at all.")
    def suspended_until(self) -> str | None:
        return self.suspended_until_value

    @strawberry.field(description="The patron's interlibrary requests, newest first.")
    async def ill_requests(self, info: Info) -> list[IllRequest]:
        async with info.context.services.sessions() as session:
            rows = await session.scalars(
                select(IllRequestRow)
                .where(IllRequestRow.patron_id == self.db_id)
                .order_by(IllRequestRow.created_at.desc(), IllRequestRow.id.desc())
            )
            return [IllRequest.from_row(r) for r in rows]

    @strawberry.field(description="Why the patron may not borrow now, each with its rule.")
    async def blocks(self, info: Info) -> list[Block]:
        return await patron_data.blocks_of(info, self.db_id)

    @strawberry.field
    async def library(self, info: Info) -> Library:
        row = await info.context.loaders.library.load(self.library_id)
        assert row is not None
        return Library.from_row(row)

    @strawberry.field
    async def home_branch(self, info: Info) -> Branch:
        row = await info.context.loaders.branch.load(self.home_branch_id)
        assert row is not None
        return Branch.from_row(row)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Patron | None]:
        rows = await info.context.loaders.patron.load_many(node_db_ids(node_ids))
        actor = info.context.actor
        visible: list[Patron | None] = []
        for row in rows:
            if row is None:
                visible.append(None)
                continue
            library = await info.context.loaders.library.load(row.library_id)
            allowed = library is not None and actor.may_see_patron(row.card_number, library.code)
            visible.append(cls.from_row(row) if allowed else None)
        return visible
