"""In-process publish/subscribe of committed events, for GraphQL subscriptions.

Every process serving websockets runs one :class:`Broker`, which tails the ``events``
table (so it only ever publishes what was committed, whichever process committed it) and
hands each new event, with its :class:`~kallimachos.notify.audience.Audience`, to the
subscribers whose filter accepts it; while nobody is subscribed it reads nothing.  A
subscriber that falls ``queue_size`` events behind is cut off (its stream ends with
:class:`SubscriberTooSlow`) rather than holding memory for ever; a client re-reads state
and subscribes again.

The tail keeps a floor and the ids seen above it: an event that commits after a later one
(concurrent PostgreSQL writers) is still published, as long as it commits within
``settle_seconds``.  Live streams start at the newest event: subscriptions are for what
happens next, not for history.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kallimachos.db.models import Event
from kallimachos.notify.audience import Audience, audience_of

log = logging.getLogger(__name__)


class SubscriberTooSlow(Exception):
    """The subscriber did not keep up and was cut off; subscribe again."""


@dataclass(frozen=True)
class LiveEvent:
    """A committed event as subscribers see it, with whom it concerns."""

    id: int
    kind: str
    aggregate_type: str
    aggregate_id: int
    occurred_at: datetime
    rule: str | None
    status: str | None
    message: str | None
    on: str | None
    audience: Audience

    @classmethod
    def of(cls, event: Event, audience: Audience) -> LiveEvent:
        after: dict[str, Any] = event.after or {}
        payload: dict[str, Any] = event.payload or {}
        status = after.get("status")
        if status is None and event.aggregate_type == "ill_request":
            status = audience.ill_status
        return cls(
            id=event.id,
            kind=event.kind,
            aggregate_type=event.aggregate_type,
            aggregate_id=event.aggregate_id,
            occurred_at=event.occurred_at,
            rule=event.rule,
            status=str(status) if status is not None else None,
            message=payload.get("message"),
            on=payload.get("on") or after.get("due_date"),
            audience=audience,
        )


Accept = Callable[[LiveEvent], bool]
_CUT_OFF = object()


class _Subscriber:
    def __init__(self, accept: Accept, size: int) -> None:
        self.accept = accept
        self.queue: asyncio.Queue[object] = asyncio.Queue(maxsize=size)
        self.closed = False

    def offer(self, event: LiveEvent) -> None:
        if self.closed or not self.accept(event):
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.closed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(_CUT_OFF)


class Broker:
    """Tails committed events and fans them out to subscribers (see the module docstring)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        queue_size: int = 256,
        settle_seconds: float = 30.0,
        batch: int = 500,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.queue_size = queue_size
        self.settle_seconds = settle_seconds
        self.batch = batch
        self.clock = clock
        self._subscribers: set[_Subscriber] = set()
        self._floor: int | None = None
        self._seen: dict[int, float] = {}
        self._wanted = asyncio.Event()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    async def subscribe(self, accept: Accept) -> AsyncIterator[LiveEvent]:
        """The events ``accept`` lets through, from now until the caller stops reading."""
        if self._floor is None:
            await self.start()
        subscriber = _Subscriber(accept, self.queue_size)
        self._subscribers.add(subscriber)
        self._wanted.set()
        try:
            while True:
                item = await subscriber.queue.get()
                if item is _CUT_OFF:
                    raise SubscriberTooSlow("too far behind; subscribe again")
                assert isinstance(item, LiveEvent)
                yield item
        finally:
            self._subscribers.discard(subscriber)
            if not self._subscribers:  # nobody listening: stop tailing, restart live later
                self._wanted.clear()
                self._floor = None

    def publish(self, event: LiveEvent) -> None:
        for subscriber in list(self._subscribers):
            subscriber.offer(event)

    async def start(self) -> None:
        """Begin at the newest committed event."""
        async with self.sessions() as session:
            newest = await session.scalar(select(func.coalesce(func.max(Event.id), 0)))
        self._floor = int(newest or 0)
        self._seen.clear()

    async def poll_once(self) -> int:
        """Publish the events committed since the last poll; returns how many."""
        if self._floor is None:
            await self.start()
        floor = self._floor or 0
        top = max(self._seen, default=floor)
        gaps = [i for i in range(floor + 1, top) if i not in self._seen][: self.batch]
        async with self.sessions() as session:
            query = select(Event).where(Event.id > top)
            if gaps:
                query = select(Event).where((Event.id > top) | Event.id.in_(gaps))
            events = list(await session.scalars(query.order_by(Event.id).limit(self.batch)))
            live = [LiveEvent.of(e, await audience_of(session, e)) for e in events]
        seen_at = self.clock()
        for event in live:
            self._seen[event.id] = seen_at
            self.publish(event)
        self._advance(seen_at)
        return len(live)

    def _advance(self, now: float) -> None:
        """Move the floor over ids seen without gaps, and over gaps older than the window."""
        floor = self._floor or 0
        while floor + 1 in self._seen:
            floor += 1
        settled = [
            i for i, at in self._seen.items() if i > floor and now - at >= self.settle_seconds
        ]
        if settled:
            floor = max(floor, *settled)
        self._seen = {i: at for i, at in self._seen.items() if i > floor}
        self._floor = floor

    async def run_forever(self, *, idle_seconds: float = 0.25) -> None:
        """The background tail of a running service; idle (no SQL) while nobody listens."""
        while True:
            await self._wanted.wait()
            try:
                published = await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event tail for subscriptions failed; will retry")
                published = 0
            if not published:
                await asyncio.sleep(idle_seconds)
