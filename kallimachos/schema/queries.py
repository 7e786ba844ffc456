"""Top-level queries: libraries, node lookup and patrons."""

from __future__ import annotations

import strawberry
from strawberry import relay

from kallimachos.db import queries
from kallimachos.domain.actors import ActorKind
from kallimachos.schema.context import Info
from kallimachos.schema.errors import Forbidden, InvalidArgument
from kallimachos.schema.types import Library, LibraryRole, Patron


@strawberry.type
class Query:
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
