"""Top-level queries: libraries, node lookup and patrons."""

from __future__ import annotations

import strawberry
from strawberry import relay

from kallimachos.db import queries
from kallimachos.domain.actors import ActorKind
from kallimachos.schema.catalogue import Work, WorkConnection, WorkFilter
from kallimachos.schema.context import Info
from kallimachos.schema.deliveries import DeliveryQuery
from kallimachos.schema.errors import Forbidden, InvalidArgument
from kallimachos.schema.ids import db_id
from kallimachos.schema.ill import IllRequest, IllStatus
from kallimachos.schema.ill_queue import IllQueueDirection, ill_queue
from kallimachos.schema.patron import Patron
from kallimachos.schema.search_query import run_search
from kallimachos.schema.types import Library, LibraryRole


@strawberry.type
class Query(DeliveryQuery):
    node: relay.Node | None = relay.node(
        description="Any object by its global ID; objects you may not see come back null."
    )

    @strawberry.field(
        description=(
            "The business time this request runs at (ISO 8601, UTC). In sandbox mode "
            "(KALLIMACHOS_CLOCK_OVERRIDE=1) the X-Kallimachos-Now header sets it."
        )
    )
    def business_time(self, info: Info) -> str:
        return info.context.now.isoformat()

    @strawberry.field(description="The consortium's libraries with their branches (public).")
    async def libraries(
        self, info: Info, include_external_suppliers: bool = False
    ) -> list[Library]:
        roles = [LibraryRole.MEMBER.value]
        if include_external_suppliers:
            roles.append(LibraryRole.EXTERNAL_SUPPLIER.value)
        async with info.context.services.sessions() as session:
            rows = await queries.libraries(session, roles=roles)
        for row in rows:
            info.context.loaders.library.prime(row.id, row)
        return [Library.from_row(row) for row in rows]

    @strawberry.field(
        description="Search the union catalogue: every member's holdings as one result list."
    )
    async def search(
        self,
        info: Info,
        query: str | None = None,
        filter: WorkFilter | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> WorkConnection:
        return await run_search(info, query, filter, first, after)

    @strawberry.field(description="A work by its global ID.")
    async def work(self, info: Info, id: strawberry.ID) -> Work | None:
        try:
            type_name, node_id = relay.from_base64(id)
        except Exception as exc:
            raise InvalidArgument(f"id {id!r} is not a global ID") from exc
        number = db_id(node_id)
        if type_name != "Work" or number is None:
            raise InvalidArgument(f"id {id!r} is not a Work ID")
        row = await info.context.loaders.work.load(number)
        return Work.from_row(row) if row is not None else None

    @strawberry.field(
        description=(
            "Interlibrary requests for a library's staff (or a partner library's incoming "
            "requests), late ones first (CUT-A6)."
        )
    )
    async def ill_queue(
        self,
        info: Info,
        direction: IllQueueDirection,
        library: str | None = None,
        statuses: list[IllStatus] | None = None,
        first: int = 50,
    ) -> list[IllRequest]:
        return await ill_queue(info, direction, library, statuses, first)

    @strawberry.field(
        description=(
            "A patron by card number: the patron themself, staff of their library, or an admin."
        )
    )
    async def patron(self, info: Info, card_number: str) -> Patron | None:
        card = card_number.strip()
        if not card or len(card) > 64:
            raise InvalidArgument("cardNumber must be 1-64 characters")
        actor = info.context.actor
        if actor.kind in (ActorKind.ANONYMOUS, ActorKind.PARTNER):
            raise Forbidden("sign in as the patron, their library's staff or an admin")
        async with info.context.services.sessions() as session:
            row = await queries.patron_by_card(session, card)
        if row is None:
            if actor.kind is ActorKind.PATRON and actor.card_number != card:
                raise Forbidden("a patron may only see their own record")
            return None
        library = await info.context.loaders.library.load(row.library_id)
        assert library is not None
        if not actor.may_see_patron(row.card_number, library.code):
            raise Forbidden("this patron belongs to another library")
        return Patron.from_row(row)
