"""Running notifications inside a service: the worker and the broker as background tasks.

``async with run_notifications(sessions, policies, clock): ...`` in the application
lifespan starts both and stops them on the way out.  The broker is registered under the
service's session factory, where GraphQL subscriptions find it (:func:`broker_for`).
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kallimachos.domain.clock import Clock
from kallimachos.notify.broker import Broker
from kallimachos.notify.config import NotifySettings
from kallimachos.notify.email import EmailSender, SmtpSender
from kallimachos.notify.webhooks import HttpWebhookSender, WebhookSender
from kallimachos.notify.worker import NotificationWorker
from kallimachos.policies import PolicySet
from kallimachos.services.one_at_a_time import NOTIFICATION_WORKER_LOCK, one_at_a_time

_BROKERS: weakref.WeakKeyDictionary[async_sessionmaker[AsyncSession], Broker] = (
    weakref.WeakKeyDictionary()
)


def register_broker(sessions: async_sessionmaker[AsyncSession], broker: Broker) -> None:
    _BROKERS[sessions] = broker


def unregister_broker(sessions: async_sessionmaker[AsyncSession]) -> None:
    _BROKERS.pop(sessions, None)


def broker_for(sessions: async_sessionmaker[AsyncSession]) -> Broker | None:
    """The broker feeding subscriptions of the service whose sessions these are."""
    return _BROKERS.get(sessions)


async def _in_one_process(
    sessions: async_sessionmaker[AsyncSession], worker: NotificationWorker, clock: Clock
) -> None:
    """The worker, in one server process at a time (the others would repeat its reads and
    collide on its marks); subscriptions' brokers run in every process."""
    engine = sessions.kw.get("bind")
    if not isinstance(engine, AsyncEngine):
        await worker.run_forever(clock)
        return
    await one_at_a_time(engine, NOTIFICATION_WORKER_LOCK, lambda: worker.run_forever(clock))


@dataclass
class Notifications:
    worker: NotificationWorker
    broker: Broker


@asynccontextmanager
async def run_notifications(
    sessions: async_sessionmaker[AsyncSession],
    policies: PolicySet,
    clock: Clock,
    *,
    settings: NotifySettings | None = None,
    email: EmailSender | None = None,
    webhooks: WebhookSender | None = None,
    send: bool = True,
) -> AsyncIterator[Notifications]:
    """Start the broker (always; it reads only while someone subscribes) and the worker
    (with ``send``); stop both on exit."""
    settings = settings or NotifySettings()
    http = None
    if webhooks is None:
        http = HttpWebhookSender(settings)
        webhooks = http
    worker = NotificationWorker(
        sessions,
        policies,
        email=email or SmtpSender(settings),
        webhooks=webhooks,
        settings=settings,
    )
    broker = Broker(sessions)
    register_broker(sessions, broker)
    tasks = [asyncio.create_task(broker.run_forever())]
    if send:
        tasks.append(asyncio.create_task(_in_one_process(sessions, worker, clock)))
    try:
        yield Notifications(worker=worker, broker=broker)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        unregister_broker(sessions)
        if http is not None:
            await http.aclose()
