"""Delivery logs: what was sent, what failed, what is still being retried.

``webhookDeliveries``: a library's webhook calls, for its partner token, its staff or an
admin.  ``notificationDeliveries``: every notice of a library (e-mails to its patrons and
its webhook calls), for its staff or an admin.  Newest first.  Bodies are not shown (they
are the notice texts); the signing secret never is.
"""

from __future__ import annotations

from enum import Enum

import strawberry
from sqlalchemy import select

from kallimachos.db.models import Delivery as DeliveryRow
from kallimachos.db.models import Library as LibraryRow
from kallimachos.domain.actors import ActorKind
from kallimachos.schema.context import Info
from kallimachos.schema.errors import Forbidden, InvalidArgument


@strawberry.enum(description="How a notice travels.")
class DeliveryChannel(Enum):
    EMAIL = "EMAIL"
    WEBHOOK = "WEBHOOK"


@strawberry.enum(
    description=(
        "PENDING: not tried yet; SENT: accepted by the SMTP server or the webhook (2xx); "
        "RETRYING: failed, will be tried again at nextAttemptAt; FAILED: can never be sent "
        "(no address, address refused, webhook withdrawn)."
    )
)
class DeliveryStatus(Enum):
    PENDING = "PENDING"
    SENT = "SENT"
    RETRYING = "RETRYING"
    FAILED = "FAILED"


@strawberry.type(description="One notice of one event to one recipient, and how sending went.")
class Delivery:
    id: strawberry.ID
    event_id: strawberry.ID
    channel: DeliveryChannel
    notice: str = strawberry.field(description="hold_ready, loan_recalled... or the event kind.")
    target: str = strawberry.field(description="The e-mail address or the webhook URL.")
    status: DeliveryStatus
    attempts: int
    next_attempt_at: str | None = strawberry.field(description="Set while RETRYING (ISO 8601).")
    last_error: str | None
    created_at: str
    sent_at: str | None

    @classmethod
    def from_row(cls, row: DeliveryRow) -> Delivery:
        return cls(
            id=strawberry.ID(str(row.id)),
            event_id=strawberry.ID(str(row.event_id)),
            channel=DeliveryChannel(row.channel),
            notice=row.notice,
            target=row.target,
            status=DeliveryStatus(row.status),
            attempts=row.attempts,
            next_attempt_at=(row.next_attempt_at.isoformat() if row.status == "RETRYING" else None),
            last_error=row.last_error,
            created_at=row.created_at.isoformat(),
            sent_at=row.sent_at.isoformat() if row.sent_at else None,
        )


async def deliveries(
    info: Info,
    *,
    library: str | None,
    channel: DeliveryChannel | None,
    statuses: list[DeliveryStatus] | None,
    first: int,
    partner_may: bool,
) -> list[Delivery]:
    actor = info.context.actor
    if not 1 <= first <= 100:
        raise InvalidArgument("first must be between 1 and 100")
    code = library or actor.library
    if actor.kind is ActorKind.ADMIN:
        if code is None:
            raise InvalidArgument("an admin names the library")
    elif actor.kind is ActorKind.PARTNER and partner_may:
        if code != actor.library:
            raise Forbidden("a partner library sees only its own webhook deliveries")
    elif actor.kind is not ActorKind.STAFF or code != actor.library:
        raise Forbidden("only the library's staff see its delivery log")
    async with info.context.services.sessions() as session:
        library_id = await session.scalar(select(LibraryRow.id).where(LibraryRow.code == code))
        if library_id is None:
            raise InvalidArgument(f"unknown library {code!r}")
        query = select(DeliveryRow).where(DeliveryRow.library_id == library_id)
        if channel is not None:
            query = query.where(DeliveryRow.channel == channel.value)
        if statuses:
            query = query.where(DeliveryRow.status.in_([s.value for s in statuses]))
        rows = await session.scalars(query.order_by(DeliveryRow.id.desc()).limit(first))
        return [Delivery.from_row(row) for row in rows]


@strawberry.type
class DeliveryQuery:
    @strawberry.field(
        description=(
            "A library's webhook calls, newest first: its partner token, its staff or an admin."
        )
    )
    async def webhook_deliveries(
        self,
        info: Info,
        library: str | None = None,
        statuses: list[DeliveryStatus] | None = None,
        first: int = 50,
    ) -> list[Delivery]:
        return await deliveries(
            info,
            library=library,
            channel=DeliveryChannel.WEBHOOK,
            statuses=statuses,
            first=first,
            partner_may=True,
        )

    @strawberry.field(
        description=(
            "Every notice of a library (e-mails to its patrons, its webhook calls), newest "
            "first, with its delivery state: the library's staff or an admin."
        )
    )
    async def notification_deliveries(
        self,
        info: Info,
        library: str | None = None,
        channel: DeliveryChannel | None = None,
        statuses: list[DeliveryStatus] | None = None,
        first: int = 50,
    ) -> list[Delivery]:
        return await deliveries(
            info,
            library=library,
            channel=channel,
            statuses=statuses,
            first=first,
            partner_may=False,
        )
