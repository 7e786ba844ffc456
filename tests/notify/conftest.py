"""Fixtures: the demo consortium (caught up by the worker once), a real SMTP server, a worker
pointed at it, and the API with notifications wired in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from kallimachos.api.settings import Settings
from kallimachos.db.engine import make_engine, make_sessionmaker
from kallimachos.db.models import Patron
from kallimachos.notify.config import NotifySettings
from kallimachos.notify.email import SmtpSender
from kallimachos.notify.webhooks import HttpWebhookSender
from kallimachos.notify.worker import NotificationWorker
from kallimachos.policies import load_policies
from tests.e2e.circulation_support import Desk, build_template, copy_template
from tests.notify.app import NotifyApp, in_process
from tests.notify.servers import SmtpServer

POLICIES = load_policies()


def _prime(settings: Settings) -> None:
    """Let a worker read the demo's import history once, so tests start caught up."""

    async def run() -> None:
        engine = make_engine(settings.database_url)
        quiet = NotifySettings(settle_seconds=0)
        http = HttpWebhookSender(quiet)
        worker = NotificationWorker(
            make_sessionmaker(engine),
            POLICIES,
            email=SmtpSender(quiet),
            webhooks=http,
            settings=quiet,
        )
        try:
            await worker.dispatch(now=datetime.now(UTC))
        finally:
            await http.aclose()
            await engine.dispose()

    asyncio.run(run())


@pytest.fixture(scope="session")
def notify_template(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = build_template(tmp_path_factory.mktemp("notify-template"))
    _prime(settings)
    return settings


@pytest.fixture
def settings(notify_template: Settings, tmp_path: Path) -> Settings:
    return copy_template(notify_template, tmp_path)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def notify_settings(smtp: SmtpServer, **overrides: object) -> NotifySettings:
    values: dict[str, object] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "smtp_timeout_seconds": 5.0,
        "webhook_timeout_seconds": 5.0,
        "retry_base_seconds": 30.0,
        "retry_max_seconds": 3600.0,
        "settle_seconds": 600.0,
        "sender": "biblio@kallimachos.test",
    }
    values.update(overrides)
    return NotifySettings.model_validate(values)


@pytest.fixture
async def worker(settings: Settings, smtp: SmtpServer) -> AsyncIterator[NotificationWorker]:
    engine = make_engine(settings.database_url)
    config = notify_settings(smtp)
    http = HttpWebhookSender(config)
    try:
        yield NotificationWorker(
            make_sessionmaker(engine),
            POLICIES,
            email=SmtpSender(config),
            webhooks=http,
            settings=config,
        )
    finally:
        await http.aclose()
        await engine.dispose()


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[tuple[NotifyApp, Desk]]:
    async with in_process(settings) as (notify, http):
        yield notify, Desk(http, settings)


async def set_patron(settings: Settings, card: str, **values: object) -> None:
    """Change a demo patron's record directly (language, e-mail) for a scenario."""
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            await session.execute(update(Patron).where(Patron.card_number == card).values(values))
    finally:
        await engine.dispose()
