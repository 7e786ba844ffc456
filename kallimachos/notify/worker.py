"""The notification worker: committed events -> delivery rows -> e-mails and webhook calls.

Two steps per pass, each safe to repeat and to run in several processes at once:

1. **Dispatch.**  Events not yet marked are read in id order; the deliveries each one owes
   (:mod:`~kallimachos.notify.compose`) are inserted *in the same transaction* as the
   event's :class:`~kallimachos.db.models.NotificationMark`.  A crash before the commit
   leaves the event unmarked (it is read again); after it, the deliveries exist.  Two
   workers marking one event collide on the mark's primary key and one rolls back.
   Events may commit out of id order on PostgreSQL, so marks, not a bare cursor, say what
   was read; marks older than ``settle_seconds`` fold into the floor (the lowest mark).
2. **Send.**  Each recipient's (channel, target) deliveries go out in order: only the
   oldest unsent one of a target is tried, and its successors follow once it is sent.  A
   delivery is claimed by moving its ``next_attempt_at`` forward (a lease), so two workers
   never send it at once and a worker that dies mid-send leaves it to be tried again.  A
   transient failure sets RETRYING with an exponential backoff (``retry_base_seconds``
   doubling up to ``retry_max_seconds``); only a permanent one (address refused, webhook
   gone) sets FAILED.  Nothing is dropped: a server that is down for a day gets every
   notice, in order, when it is back.

Sending is at least once: a worker that dies between the SMTP server's "250" and the
commit sends that message again (same Message-ID / ``X-Kallimachos-Delivery``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from kallimachos.db.models import Delivery, Event, NotificationMark, Webhook
from kallimachos.domain.clock import Clock
from kallimachos.notify.compose import (
    EMAIL,
    FAILED,
    RETRYING,
    SENT,
    UNSENT,
    WEBHOOK,
    deliveries_for,
    may_owe_deliveries,
)
from kallimachos.notify.config import NotifySettings
from kallimachos.notify.email import Email, EmailSender
from kallimachos.notify.failures import SendFailed
from kallimachos.notify.reminders import remind
from kallimachos.notify.webhooks import WebhookCall, WebhookSender
from kallimachos.policies import PolicySet

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_ERROR = 2000


@dataclass
class PassReport:
    """What one pass did."""

    events: int = 0
    created: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int, settings: NotifySettings) -> timedelta:
    """The wait after the ``attempts``-th failed try: base, 2 x base, 4 x base... capped."""
    seconds = settings.retry_base_seconds * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.retry_max_seconds))


class NotificationWorker:
    """Drains the outbox into deliveries and sends them; see the module docstring."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        policies: PolicySet,
        *,
        email: EmailSender,
        webhooks: WebhookSender,
        settings: NotifySettings | None = None,
    ) -> None:
        self.sessions = sessions
        self.policies = policies
        self.email = email
        self.webhooks = webhooks
        self.settings = settings or NotifySettings()

    async def run_once(self, *, now: datetime) -> PassReport:
        """Dispatch every unread event, then send every delivery that is due at ``now``."""
        report = PassReport()
        await self.dispatch(now=now, report=report)
        await self.send_due(now=now, report=report)
        return report

    async def remind(self, *, now: datetime) -> int:
        """Write due-soon and overdue reminder events (the next pass sends them)."""
        return await remind(
            self.sessions, self.policies, now=now, due_soon_days=self.settings.due_soon_days
        )

    async def run_forever(self, clock: Clock) -> None:
        """The background task of a running service; survives any outage of its channels."""
        last_reminders: datetime | None = None
        interval = timedelta(seconds=self.settings.reminder_interval_seconds)
        while True:
            now = clock.now()
            busy = False
            try:
                if last_reminders is None or now - last_reminders >= interval:
                    await self.remind(now=now)
                    last_reminders = now
                report = await self.run_once(now=now)
                busy = bool(report.events or report.sent)
            except asyncio.CancelledError:
                raise
            except Exception:  # keep the service up; nothing is marked done that was not
                log.exception("notification pass failed; will retry")
            if not busy:
                await asyncio.sleep(self.settings.idle_seconds)

    # -- dispatch -------------------------------------------------------------------------

    async def dispatch(self, *, now: datetime, report: PassReport | None = None) -> int:
        """Create the deliveries of every unread event; returns the events read."""
        report = report or PassReport()
        total = 0
        collisions = 0
        while True:
            try:
                read, created = await self._dispatch_batch(now)
            except IntegrityError:  # another worker marked one of these events first
                collisions += 1
                if collisions > 5:  # not a race: let the caller log it and come back later
                    raise
                log.info("events marked concurrently; reading again")
                continue
            total += read
            report.events += read
            report.created += created
            if read == 0:
                break
        await self._settle(now)
        return total

    async def _dispatch_batch(
        self, now: datetime, limit: int = 100, scan: int = 2000
    ) -> tuple[int, int]:
        """Mark the next unread events, planning the deliveries of up to ``limit`` of them.

        Events that cannot owe a notice (:func:`may_owe_deliveries`) are marked in bulk
        without being loaded, so the hundreds of thousands an import writes cost one
        multi-row insert per ``scan`` events, not a savepoint each.
        """
        async with self.sessions.begin() as session:
            floor = await self._floor(session, now)
            unread = (
                await session.execute(
                    select(Event.id, Event.kind, Event.aggregate_type)
                    .where(
                        Event.id > floor,
                        ~exists().where(NotificationMark.event_id == Event.id),
                    )
                    .order_by(Event.id)
                    .limit(scan)
                )
            ).all()
            skipped: list[int] = []
            planned = 0
            created = 0
            for event_id, kind, aggregate_type in unread:
                if not may_owe_deliveries(kind, aggregate_type):
                    skipped.append(event_id)
                    continue
                if planned == limit:
                    break
                event = await session.get(Event, event_id)
                assert event is not None
                rows = await self._plan(session, event, now)
                session.add_all(rows)
                session.add(NotificationMark(event_id=event_id, marked_at=now))
                planned += 1
                created += len(rows)
            if skipped:
                await session.execute(
                    insert(NotificationMark),
                    [{"event_id": i, "marked_at": now} for i in skipped],
                )
        return planned + len(skipped), created

    async def _plan(self, session: AsyncSession, event: Event, now: datetime) -> list[Delivery]:
        """The event's deliveries; a bug in planning one event skips it, loudly, rather than
        stopping every notice behind it.  Database errors abort the batch (read again)."""
        try:
            async with session.begin_nested():
                return await deliveries_for(session, event, self.policies, now=now)
        except SQLAlchemyError:
            raise
        except Exception:
            log.exception("could not work out the notices of event %s (%s)", event.id, event.kind)
            return []

    async def _floor(self, session: AsyncSession, now: datetime) -> int:
        floor = await session.scalar(select(func.min(NotificationMark.event_id)))
        if floor is not None:
            return int(floor)
        # No mark at all (the migration writes one): start from now, not from history.
        newest = int(await session.scalar(select(func.coalesce(func.max(Event.id), 0))) or 0)
        session.add(NotificationMark(event_id=newest, marked_at=now))
        return newest

    async def _settle(self, now: datetime) -> None:
        """Fold marks older than the settle window into the floor."""
        cutoff = now - timedelta(seconds=self.settings.settle_seconds)
        async with self.sessions.begin() as session:
            settled = await session.scalar(
                select(func.max(NotificationMark.event_id)).where(
                    NotificationMark.marked_at <= cutoff
                )
            )
            if settled is None:
                return
            await session.execute(
                delete(NotificationMark).where(NotificationMark.event_id < settled)
            )

    # -- send -----------------------------------------------------------------------------

    async def send_due(self, *, now: datetime, report: PassReport | None = None) -> int:
        """Send, in order per recipient, every delivery due at ``now``; returns how many went."""
        report = report or PassReport()
        tried: set[int] = set()
        while True:
            heads = await self._due_heads(now, exclude=tried)
            if not heads:
                return report.sent
            for delivery in heads:
                tried.add(delivery.id)
                await self._attempt(delivery, now, report)

    async def _due_heads(self, now: datetime, *, exclude: set[int]) -> list[Delivery]:
        """The oldest unsent delivery of each recipient, where that one is due."""
        earlier = aliased(Delivery)
        async with self.sessions() as session:
            query = (
                select(Delivery)
                .where(
                    Delivery.status.in_(UNSENT),
                    Delivery.next_attempt_at <= now,
                    ~exists().where(
                        earlier.channel == Delivery.channel,
                        earlier.target == Delivery.target,
                        earlier.status.in_(UNSENT),
                        earlier.id < Delivery.id,
                    ),
                )
                .order_by(Delivery.id)
                .limit(100)
            )
            if exclude:
                query = query.where(Delivery.id.not_in(exclude))
            return list(await session.scalars(query))

    async def _attempt(self, delivery: Delivery, now: datetime, report: PassReport) -> None:
        if not await self._claim(delivery, now):
            return
        attempts = delivery.attempts + 1
        try:
            await self._send(delivery, now)
        except SendFailed as failure:
            permanent = failure.permanent
            await self._record(
                delivery.id,
                status=FAILED if permanent else RETRYING,
                attempts=attempts,
                next_attempt_at=now if permanent else now + backoff(attempts, self.settings),
                last_error=failure.reason[:MAX_ERROR],
            )
            if permanent:
                report.failed += 1
            else:
                report.retrying += 1
            report.errors.append(failure.reason)
            log.warning("delivery %s failed (%s): %s", delivery.id, attempts, failure.reason)
            return
        await self._record(
            delivery.id, status=SENT, attempts=attempts, next_attempt_at=now, sent_at=now
        )
        report.sent += 1

    async def _claim(self, delivery: Delivery, now: datetime) -> bool:
        async with self.sessions.begin() as session:
            claimed = await session.execute(
                update(Delivery)
                .where(
                    Delivery.id == delivery.id,
                    Delivery.status == delivery.status,
                    Delivery.attempts == delivery.attempts,
                    Delivery.next_attempt_at == delivery.next_attempt_at,
                )
                .values(next_attempt_at=now + LEASE)
            )
        return bool(getattr(claimed, "rowcount", 0) == 1)

    async def _send(self, delivery: Delivery, now: datetime) -> None:
        if delivery.channel == EMAIL:
            await self.email.send(
                Email(
                    delivery_id=delivery.id,
                    notice=delivery.notice,
                    to=delivery.target,
                    subject=delivery.subject or "",
                    body=delivery.body,
                    language=delivery.language,
                )
            )
            return
        if delivery.channel == WEBHOOK and delivery.webhook_id is not None:
            async with self.sessions() as session:
                hook = await session.get(Webhook, delivery.webhook_id)
            if hook is None or not hook.active:
                raise SendFailed("the webhook was withdrawn", permanent=True)
            await self.webhooks.send(
                WebhookCall(
                    delivery_id=delivery.id,
                    event_kind=delivery.notice,
                    url=hook.url,
                    secret=hook.secret,
                    body=delivery.body,
                ),
                now=now,
            )
            return
        raise SendFailed(f"unknown channel {delivery.channel!r}", permanent=True)

    async def _record(
        self,
        delivery_id: int,
        *,
        status: str,
        attempts: int,
        next_attempt_at: datetime,
        last_error: str | None = None,
        sent_at: datetime | None = None,
    ) -> None:
        values: dict[str, object] = {
            "status": status,
            "attempts": attempts,
            "next_attempt_at": next_attempt_at,
        }
        if last_error is not None:
            values["last_error"] = last_error
        if sent_at is not None:
            values["sent_at"] = sent_at
        async with self.sessions.begin() as session:
            await session.execute(update(Delivery).where(Delivery.id == delivery_id).values(values))
