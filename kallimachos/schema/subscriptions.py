"""The Subscription type: committed events, live, scoped by who is listening.

Over ``graphql-transport-ws`` on ``/graphql``; the bearer token is read from the
handshake's ``Authorization`` header like any request.

* a **patron** hears about their own loans, holds, fees and interlibrary requests;
* **staff** hear everything in their library's queues (circulation and ILL, both ways);
* a **partner** library hears about the interlibrary requests sent to it, as supplier;
* an **admin** hears everything (or one library's, with ``library``).

Events come from :class:`kallimachos.notify.broker.Broker` once committed, in commit order.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Final

import strawberry
from sqlalchemy import select
from strawberry import relay

from kallimachos.db.models import Library as LibraryRow
from kallimachos.db.models import Patron as PatronRow
from kallimachos.domain.actors import Actor, ActorKind
from kallimachos.notify.broker import Accept, LiveEvent
from kallimachos.notify.runtime import broker_for
from kallimachos.notify.webhooks import SUPPLIER_KINDS
from kallimachos.schema.context import Info
from kallimachos.schema.errors import ApiError, Forbidden, InvalidArgument

NODE_TYPES: Final = {
    "loan": "Loan",
    "hold": "Hold",
    "fee": "Fee",
    "item": "Item",
    "ill_request": "IllRequest",
    "patron": "Patron",
    "library": "Library",
}
PATRON_FAMILIES: Final = ("loan.", "hold.", "fee.", "patron.")
PATRON_KINDS: Final = frozenset(
    {
        "item.checked_in",
        "item.lost",
        "ill.requested",
        "ill.status_changed",
        "ill.notify_patron",
        "ill.pickup_deadline_set",
        "ill.patron_due_date_set",
        "ill.recalled_from_patron",
        "ill.renewed",
        "ill.charge_patron",
    }
)
MAX_KINDS = 50


class SubscriptionsUnavailable(ApiError):
    code = "SUBSCRIPTIONS_UNAVAILABLE"


@strawberry.type(description="Something that just happened to a loan, hold, fee or request.")
class Activity:
    event_id: strawberry.ID = strawberry.field(description="The audit event's number.")
    kind: str = strawberry.field(description="e.g. loan.recalled, hold.set_aside, ill.shipped.")
    subject_type: str = strawberry.field(description="loan, hold, fee, item, ill_request...")
    subject_id: strawberry.ID = strawberry.field(description="The subject's global ID.")
    occurred_at: str = strawberry.field(description="ISO 8601, business time.")
    status: str | None = strawberry.field(description="The subject's status after it.")
    rule: str | None = strawberry.field(description="The RULES.md ID applied, if any.")
    message: str | None
    on: str | None = strawberry.field(description="A date it set (due date, deadline).")

    @classmethod
    def of(cls, event: LiveEvent) -> Activity:
        node = NODE_TYPES.get(event.aggregate_type)
        subject = (
            relay.to_base64(node, event.aggregate_id)
            if node
            else f"{event.aggregate_type}:{event.aggregate_id}"
        )
        return cls(
            event_id=strawberry.ID(str(event.id)),
            kind=event.kind,
            subject_type=event.aggregate_type,
            subject_id=strawberry.ID(subject),
            occurred_at=event.occurred_at.isoformat(),
            status=event.status,
            rule=event.rule,
            message=event.message,
            on=event.on,
        )


def patron_sees(patron_id: int) -> Accept:
    def accept(event: LiveEvent) -> bool:
        if patron_id not in event.audience.patron_ids:
            return False
        return event.kind.startswith(PATRON_FAMILIES) or event.kind in PATRON_KINDS

    return accept


def staff_sees(library_id: int) -> Accept:
    return lambda event: library_id in event.audience.library_ids


def partner_sees(library_id: int) -> Accept:
    return lambda event: event.audience.supplier_id == library_id and event.kind in SUPPLIER_KINDS


def everything(event: LiveEvent) -> bool:
    return True


async def scope_of(info: Info, actor: Actor, library: str | None) -> Accept:
    """What ``actor`` may hear, as a filter over live events."""
    sessions = info.context.services.sessions
    if actor.kind is ActorKind.PATRON:
        async with sessions() as session:
            patron_id = await session.scalar(
                select(PatronRow.id).where(PatronRow.card_number == actor.card_number)
            )
        if patron_id is None:
            raise Forbidden("no patron with this card")
        return patron_sees(patron_id)
    if actor.kind is ActorKind.ANONYMOUS:
        raise Forbidden("sign in to subscribe")
    code = library or actor.library
    if actor.kind is ActorKind.ADMIN and code is None:
        return everything
    if actor.kind in (ActorKind.STAFF, ActorKind.PARTNER) and code != actor.library:
        raise Forbidden(f"a token of {actor.library} hears only {actor.library}")
    async with sessions() as session:
        library_id = await session.scalar(select(LibraryRow.id).where(LibraryRow.code == code))
    if library_id is None:
        raise InvalidArgument(f"unknown library {code!r}")
    if actor.kind is ActorKind.PARTNER:
        return partner_sees(library_id)
    return staff_sees(library_id)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description=(
            "Live activity you may see: a patron's own loans, holds, fees and requests; a "
            "library's queues (staff); requests sent to a partner library; everything "
            "(admin, or one library with `library`). `kinds` narrows to event kinds."
        )
    )
    async def activity(
        self, info: Info, kinds: list[str] | None = None, library: str | None = None
    ) -> AsyncGenerator[Activity, None]:
        if kinds is not None and not 1 <= len(kinds) <= MAX_KINDS:
            raise InvalidArgument(f"kinds must name 1-{MAX_KINDS} event kinds")
        wanted = frozenset(kinds or ())
        broker = broker_for(info.context.services.sessions)
        if broker is None:
            raise SubscriptionsUnavailable("subscriptions are not running on this server")
        allowed = await scope_of(info, info.context.actor, library)

        def accept(event: LiveEvent) -> bool:
            return (not wanted or event.kind in wanted) and allowed(event)

        async for event in broker.subscribe(accept):
            yield Activity.of(event)
