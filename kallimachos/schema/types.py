"""GraphQL object types for libraries, branches and patrons.

Scalar fields are plain attributes (cheap); only list/relationship fields resolve
asynchronously, through the per-request loaders.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

import strawberry
from strawberry import relay

from kallimachos.db.models import Branch as BranchRow
from kallimachos.db.models import Library as LibraryRow
from kallimachos.schema.context import Info
from kallimachos.schema.ids import node_db_ids


@strawberry.enum(description="What part a library plays in the consortium.")
class LibraryRole(Enum):
    MEMBER = "member"
    EXTERNAL_SUPPLIER = "external_supplier"


@strawberry.type(description="A service point of a library.")
class Branch(relay.Node):
    db_id: relay.NodeID[int]
    code: str
    name: str
    library_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: BranchRow) -> Branch:
        return cls(db_id=row.id, code=row.code, name=row.name, library_id=row.library_id)

    @strawberry.field
    async def library(self, info: Info) -> Library:
        row = await info.context.loaders.library.load(self.library_id)
        assert row is not None
        return Library.from_row(row)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Branch | None]:
        rows = await info.context.loaders.branch.load_many(node_db_ids(node_ids))
        return [cls.from_row(r) if r is not None else None for r in rows]


@strawberry.type(description="A member library of the consortium, or an external ILL supplier.")
class Library(relay.Node):
    db_id: relay.NodeID[int]
    code: str
    name: str
    name_el: str | None = strawberry.field(description="The library's name in Greek.")
    country: str = strawberry.field(description="ISO 3166 country code: GR or CY.")
    role: LibraryRole

    @classmethod
    def from_row(cls, row: LibraryRow) -> Library:
        return cls(
            db_id=row.id,
            code=row.code,
            name=row.name,
            name_el=row.name_el,
            country=row.country,
            role=LibraryRole(row.role),
        )

    @strawberry.field
    async def branches(self, info: Info) -> list[Branch]:
        rows = await info.context.loaders.branches_of_library.load(self.db_id)
        return [Branch.from_row(r) for r in rows or []]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Library | None]:
        rows = await info.context.loaders.library.load_many(node_db_ids(node_ids))
        return [cls.from_row(r) if r is not None else None for r in rows]
