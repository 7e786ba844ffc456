"""The pieces on their own: templates, the e-mail envelope, signatures, backoff, and how the
worker and the broker cope with events that commit out of id order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email import message_from_bytes, policy

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kallimachos.db import migrate
from kallimachos.db.engine import make_engine, make_sessionmaker
from kallimachos.db.models import Delivery, Event, NotificationMark
from kallimachos.notify import worker as worker_module
from kallimachos.notify.audience import NOBODY, Audience
from kallimachos.notify.broker import Broker, LiveEvent, SubscriberTooSlow
from kallimachos.notify.config import NotifySettings
from kallimachos.notify.email import Email, build_message
from kallimachos.notify.failures import SendFailed
from kallimachos.notify.templates import (
    TEMPLATES,
    Facts,
    Notice,
    format_amount,
    format_date,
    language_of,
    render,
)
from kallimachos.notify.webhooks import WebhookCall, sign, verify
from kallimachos.notify.worker import NotificationWorker, backoff
from kallimachos.policies import PolicySet, load_policies
from tests.notify.servers import until

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
FACTS = Facts(
    patron_name="Ελένη Παπαδάκη",
    library_el="Πανεπιστήμιο Κρήτης",
    library_en="University of Crete",
    title="Η αγορά στη Μεσόγειο",
    branch="Ηράκλειο",
    on=date(2026, 12, 3),
    amount=Decimal("1234.5"),
    fee_kind="overdue",
    rule="UOC-4b",
)


# -- templates ------------------------------------------------------------------------------


@pytest.mark.parametrize("notice", list(Notice))
@pytest.mark.parametrize("language", ["el", "en"])
def test_every_notice_has_both_languages_and_fills_every_slot(
    notice: Notice, language: str
) -> None:
    assert (notice, language) in TEMPLATES
    done = render(notice, language_of(language), FACTS)
    assert "{" not in done.subject + done.body and "}" not in done.subject + done.body
    assert done.subject and "\n" not in done.subject
    assert FACTS.patron_name in done.body
    library = FACTS.library_el if language == "el" else FACTS.library_en
    assert library in done.body


def test_dates_amounts_and_languages_are_written_the_local_way() -> None:
    assert format_date(date(2026, 12, 3), "el") == "Πέμπτη 03/12/2026"
    assert format_date(date(2026, 12, 3), "en") == "Thursday 3 December 2026"
    assert format_amount(Decimal("1234.5"), "EUR", "el") == "1.234,50 €"
    assert format_amount(Decimal("1234.5"), "EUR", "en") == "€1,234.50"
    assert format_amount(Decimal("2"), "GBP", "en") == "2.00 GBP"
    assert [language_of(v) for v in ("en", "EN-gb", "el", "", None, "fr")] == [
        "en",
        "en",
        "el",
        "el",
        "el",
        "el",
    ]


def test_a_missing_fact_drops_its_sentence_and_long_titles_are_cut_in_subjects() -> None:
    bare = Facts(patron_name="P", library_el="Β", library_en="L", title="T" * 200)
    done = render(Notice.HOLD_READY, "en", bare)
    assert "collect it by" not in done.body and " at " not in done.body.split("\n")[2]
    assert "Lending rule" not in done.body
    assert len(done.subject) < 120 and done.subject.endswith("…")
    assert "T" * 200 in done.body


def test_long_greek_subjects_survive_the_trip_through_smtp_headers() -> None:
    subject = render(Notice.ILL_ARRIVED, "el", FACTS).subject + " και ένας πολύ μακρύς τίτλος"
    email = Email(delivery_id=7, notice="ill_arrived", to="a@b.test", subject=subject, body="σώμα")
    raw = build_message(email, sender="biblio@uoc.test", sender_name="Καλλίμαχος").as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == subject
    assert parsed["Message-ID"] == "<delivery-7@uoc.test>"
    assert parsed["From"].addresses[0].display_name == "Καλλίμαχος"
    part = parsed.get_body(("plain",))
    assert part is not None and part.get_content() == "σώμα"


# -- signatures and backoff -------------------------------------------------------------------


def test_signatures_verify_only_for_the_secret_the_body_and_a_fresh_timestamp() -> None:
    body = b'{"event":{"id":1}}'
    header = sign("s" * 20, 1_800_000_000, body)
    assert verify("s" * 20, header, body, now=1_800_000_100)
    assert not verify("t" * 20, header, body, now=1_800_000_100)
    assert not verify("s" * 20, header, body + b" ", now=1_800_000_100)
    assert not verify("s" * 20, header, body, now=1_800_000_000 + 301)
    assert not verify("s" * 20, None, body, now=1_800_000_000)
    assert not verify("s" * 20, "v1=abc", body, now=1_800_000_000)


def test_backoff_doubles_from_the_base_and_stops_at_the_cap() -> None:
    config = NotifySettings(retry_base_seconds=30, retry_max_seconds=3600)
    assert [backoff(n, config).total_seconds() for n in range(1, 10)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
    ]


# -- out-of-order commits ----------------------------------------------------------------------


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=[pytest.mark.integration, pytest.mark.postgres]),
    ]
)
def database(request: pytest.FixtureRequest) -> str:
    """A migrated database: SQLite, and the real PostgreSQL when the services run."""
    url = str(request.getfixturevalue(f"{request.param}_url"))
    migrate.upgrade(url)
    return url


@pytest.fixture
async def sessions(database: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


def event(event_id: int, kind: str = "test.happened") -> Event:
    return Event(
        id=event_id,
        occurred_at=NOW,
        recorded_at=NOW,
        actor_kind="admin",
        aggregate_type="test",
        aggregate_id=event_id,
        kind=kind,
    )


async def add(sessions: async_sessionmaker[AsyncSession], *ids: int) -> None:
    async with sessions.begin() as session:
        session.add_all([event(i) for i in ids])


class NoSender:
    async def send(self, *args: object, **kwargs: object) -> None:
        raise SendFailed("not in this test")


def bare_worker(sessions: async_sessionmaker[AsyncSession], settle: float) -> NotificationWorker:
    return NotificationWorker(
        sessions,
        load_policies(),
        email=NoSender(),
        webhooks=NoSender(),
        settings=NotifySettings(settle_seconds=settle),
    )


async def marks(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(NotificationMark.event_id).order_by(NotificationMark.event_id)
            )
        )


async def test_an_event_committed_after_a_later_one_is_still_read(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    worker = bare_worker(sessions, settle=600)
    await add(sessions, 1, 2, 3, 5)  # 4 is still in flight
    assert await worker.dispatch(now=NOW) == 4
    await add(sessions, 4)
    assert await worker.dispatch(now=NOW + timedelta(seconds=5)) == 1
    assert await worker.dispatch(now=NOW + timedelta(seconds=6)) == 0
    assert await marks(sessions) == [0, 1, 2, 3, 4, 5]
    # after the settle window the marks fold into the floor
    await worker.dispatch(now=NOW + timedelta(seconds=601))
    assert await marks(sessions) == [5]
    await add(sessions, 6)
    assert await worker.dispatch(now=NOW + timedelta(seconds=602)) == 1


async def test_a_bug_in_one_events_notices_does_not_stop_the_others(
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:

    async def flaky(
        session: AsyncSession, found: Event, policies: PolicySet, *, now: datetime
    ) -> list[Delivery]:
        if found.id == 2:
            raise KeyError("a bug")
        return []

    monkeypatch.setattr(worker_module, "deliveries_for", flaky)
    async with sessions.begin() as session:
        session.add_all([event(i, kind="item.lost") for i in (1, 2, 3)])  # kinds owing notices
    with caplog.at_level(logging.ERROR):
        assert await bare_worker(sessions, 600).dispatch(now=NOW) == 3
    assert "event 2" in caplog.text


async def test_events_that_owe_no_notice_are_marked_without_planning_and_the_rest_in_order(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    planned: list[int] = []

    async def spy(
        session: AsyncSession, found: Event, policies: PolicySet, *, now: datetime
    ) -> list[Delivery]:
        planned.append(found.id)
        return []

    monkeypatch.setattr(worker_module, "deliveries_for", spy)
    owing = {7, 2500, 4999}  # one inside the first scan, two after it
    async with sessions.begin() as session:
        session.add_all(
            [
                event(i, kind="item.lost" if i in owing else "record.imported")
                for i in range(1, 5001)
            ]
        )
    assert await bare_worker(sessions, 600).dispatch(now=NOW) == 5000
    assert planned == sorted(owing)
    assert set(range(1, 5001)) <= set(await marks(sessions))  # every event is marked read
    assert await bare_worker(sessions, 600).dispatch(now=NOW) == 0  # and never read again


async def test_a_worker_on_a_database_without_marks_starts_from_now(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await add(sessions, 1, 2)
    async with sessions.begin() as session:
        await session.execute(NotificationMark.__table__.delete())  # type: ignore[attr-defined]
    worker = bare_worker(sessions, 600)
    assert await worker.dispatch(now=NOW) == 0  # history is not news
    await add(sessions, 3)
    assert await worker.dispatch(now=NOW) == 1


# -- the broker ---------------------------------------------------------------------------------


async def test_the_broker_publishes_late_commits_and_moves_its_floor_over_old_gaps(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = [0.0]
    broker = Broker(sessions, settle_seconds=30, clock=lambda: clock[0])
    await add(sessions, 1)
    await broker.start()  # live from here: event 1 is history
    got: list[int] = []

    async def collect() -> None:
        async for live in broker.subscribe(lambda e: True):
            got.append(live.id)

    reader = asyncio.create_task(collect())
    await until(lambda: broker.subscriber_count == 1, what="the subscription")
    await add(sessions, 2, 4)
    assert await broker.poll_once() == 2
    await add(sessions, 3)
    assert await broker.poll_once() == 1
    assert await broker.poll_once() == 0
    await add(sessions, 6)  # 5 never commits (a rolled-back PostgreSQL id)
    await broker.poll_once()
    clock[0] = 31.0
    await broker.poll_once()
    assert broker._floor == 6
    await until(lambda: len(got) == 4, what="the reader")
    reader.cancel()
    assert got == [2, 4, 3, 6]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Event)) == 5


async def test_a_subscriber_that_falls_behind_is_cut_off(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    broker = Broker(sessions, queue_size=2)
    stream = broker.subscribe(lambda e: True)
    first = asyncio.ensure_future(stream.__anext__())
    await until(lambda: broker.subscriber_count == 1, what="the subscription")
    for i in range(1, 5):
        broker.publish(LiveEvent.of(event(i), NOBODY))
    with pytest.raises(SubscriberTooSlow):  # what it had not read yet is dropped with it
        await asyncio.wait_for(first, 5)
    assert broker.subscriber_count == 0


def test_live_events_carry_the_ill_status_for_steps_that_do_not_name_it() -> None:
    row = event(9, "ill.notify_patron")
    row.aggregate_type = "ill_request"
    row.payload = {"message": "your loan has arrived", "on": None}
    live = LiveEvent.of(row, Audience(ill_status="RECEIVED"))
    assert (live.status, live.message) == ("RECEIVED", "your loan has arrived")


def test_webhook_calls_are_plain_data() -> None:
    call = WebhookCall(
        delivery_id=1, event_kind="ill.status_changed", url="u", secret="s", body="{}"
    )
    assert call.body == "{}"


async def test_without_an_smtp_server_configured_mail_waits_instead_of_guessing() -> None:
    from kallimachos.notify.email import SmtpSender

    email = Email(delivery_id=1, notice="hold_ready", to="a@b.test", subject="s", body="b")
    with pytest.raises(SendFailed) as failed:
        await SmtpSender(NotifySettings(smtp_host=None)).send(email)
    assert not failed.value.permanent
    assert "KALLIMACHOS_NOTIFY_SMTP_HOST" in failed.value.reason
