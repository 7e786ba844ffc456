"""Webhooks: libraries register a URL and a secret and receive HMAC-signed JSON of their
interlibrary requests, from the outbox, with retries; a real receiver (uvicorn on
127.0.0.1) records the calls."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from kallimachos.db.engine import make_engine, make_sessionmaker
from kallimachos.db.models import Delivery, Event
from kallimachos.notify.webhooks import SIGNATURE_HEADER, verify
from kallimachos.notify.worker import NotificationWorker
from tests.conftest import token_for
from tests.e2e.circulation_support import Desk
from tests.notify.app import NotifyApp
from tests.notify.ill_flow import PATRON, PATRON_MAIL, IllLoan
from tests.notify.servers import Call, HttpServer, Receiver

CUT_SECRET = "cut-webhook-secret-0123456789"
UOC_SECRET = "uoc-webhook-secret-9876543210"
REGISTER = """mutation($url: String!, $secret: String!, $library: String) {
  registerWebhook(input: {url: $url, secret: $secret, library: $library}) {
    webhook { id url active library { code } } rotated
    userErrors { code field message } } }"""
LOG = """query($library: String, $s: [DeliveryStatus!]) {
  webhookDeliveries(library: $library, statuses: $s) {
    id eventId channel notice target status attempts nextAttemptAt lastError sentAt } }"""


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, HttpServer]]:
    hooks = Receiver()
    server = HttpServer(hooks.app())
    await server.start()
    try:
        yield hooks, server
    finally:
        await server.stop()


async def register(
    desk: Desk, token: str, url: str, secret: str, library: str | None = None
) -> Any:
    data = await desk.call(
        REGISTER, "2026-11-20T10:00:00+02:00", token, url=url, secret=secret, library=library
    )
    return data["registerWebhook"]


def body(call: Call) -> dict[str, Any]:
    loaded = json.loads(call.body)
    assert isinstance(loaded, dict)
    return loaded


def signed(call: Call, secret: str, now: int) -> bool:
    return verify(secret, call.headers.get(SIGNATURE_HEADER.lower()), call.body, now=now)


async def test_register_webhook_who_may_and_which_urls(api: tuple[NotifyApp, Desk]) -> None:
    _, desk = api
    cut = token_for("partner", library="CUT")
    done = await register(desk, cut, "https://ill.cut.example/hooks", CUT_SECRET)
    assert done["userErrors"] == []
    assert (done["webhook"]["library"]["code"], done["webhook"]["active"], done["rotated"]) == (
        "CUT",
        True,
        False,
    )
    again = await register(desk, cut, "https://ill.cut.example/hooks", CUT_SECRET[::-1])
    assert (again["rotated"], again["webhook"]["id"]) == (True, done["webhook"]["id"])
    staff = await register(
        desk, token_for("staff", library="UOC"), "http://127.0.0.1:9/h", UOC_SECRET
    )
    assert staff["webhook"]["library"]["code"] == "UOC"
    admin = await register(desk, token_for("admin"), "https://aeg.example/h", UOC_SECRET, "AEG")
    assert admin["webhook"]["library"]["code"] == "AEG"
    refusals = [
        (cut, "https://x.example/h", CUT_SECRET, "UOC", "FORBIDDEN", None),
        (
            token_for("patron", card_number=PATRON),
            "https://x.example/h",
            CUT_SECRET,
            None,
            "FORBIDDEN",
            None,
        ),
        (
            token_for("admin"),
            "https://x.example/h",
            CUT_SECRET,
            None,
            "INVALID_INPUT",
            ["input", "library"],
        ),
        (cut, "ftp://x.example/h", CUT_SECRET, None, "INVALID_INPUT", ["input", "url"]),
        (cut, "https://user:pw@x.example/h", CUT_SECRET, None, "INVALID_INPUT", ["input", "url"]),
        (cut, "https://x.example/h", "short", None, "INVALID_INPUT", ["input", "secret"]),
        (
            token_for("admin"),
            "https://x.example/h",
            CUT_SECRET,
            "NOPE",
            "NOT_FOUND",
            ["input", "library"],
        ),
    ]
    for token, url, secret, library, code, field in refusals:
        refused = await register(desk, token, url, secret, library)
        assert refused["webhook"] is None
        assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [(code, field)], url
    anonymous = await desk.http.post(
        "/graphql",
        json={"query": REGISTER, "variables": {"url": "https://x.example", "secret": CUT_SECRET}},
    )
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    engine = make_engine(desk.settings.database_url)
    async with make_sessionmaker(engine)() as session:
        audit = list(
            await session.scalars(
                select(Event).where(Event.kind.like("webhook.%")).order_by(Event.id)
            )
        )
    await engine.dispose()
    assert [e.kind for e in audit] == [
        "webhook.registered",
        "webhook.secret_rotated",
        "webhook.registered",
        "webhook.registered",
    ]
    assert all(CUT_SECRET not in json.dumps(e.after) for e in audit)


async def test_ill_lifecycle_reaches_both_libraries_signed_in_order_without_personal_data(
    api: tuple[NotifyApp, Desk],
    worker: NotificationWorker,
    receiver: tuple[Receiver, HttpServer],
) -> None:
    _, desk = api
    hooks, server = receiver
    await register(desk, token_for("partner", library="CUT"), server.url("/hooks/cut"), CUT_SECRET)
    await register(desk, token_for("staff", library="UOC"), server.url("/hooks/uoc"), UOC_SECRET)
    loan = IllLoan(desk)
    steps = [
        loan.requested,
        loan.processed,
        loan.will_supply,
        loan.shipped,
        loan.received,
        loan.lent,
        loan.returned,
        loan.shipped_back,
        loan.completed,
    ]
    for take in steps:
        seen = len(hooks.calls)
        now = await take()
        report = await worker.run_once(now=now)
        assert report.retrying == report.failed == 0
        for call in hooks.calls[seen:]:
            secret = CUT_SECRET if call.path == "/hooks/cut" else UOC_SECRET
            assert signed(call, secret, int(now.timestamp()) + 1), call
    cut = [body(c) for c in hooks.calls if c.path == "/hooks/cut"]
    uoc = [body(c) for c in hooks.calls if c.path == "/hooks/uoc"]
    assert {c["role"] for c in cut} == {"SUPPLIER"} and {c["library"] for c in cut} == {"CUT"}
    assert {c["role"] for c in uoc} == {"REQUESTER"} and {c["library"] for c in uoc} == {"UOC"}
    assert all(c["illRequest"]["id"] == loan.rid for c in cut + uoc)
    # the supplier hears nothing before UOC's staff forward the request
    assert cut[0]["event"]["kind"] == "ill.status_changed"
    assert cut[0]["illRequest"]["status"] == "SENT_TO_SUPPLIER"
    assert uoc[0]["event"]["kind"] == "ill.requested"
    statuses = [
        c["illRequest"]["status"] for c in cut if c["event"]["kind"] == "ill.status_changed"
    ]
    assert statuses == [
        "SENT_TO_SUPPLIER",
        "WILL_SUPPLY",
        "SHIPPED",
        "RECEIVED",
        "CHECKED_OUT_TO_PATRON",
        "RETURNED_BY_PATRON",
        "SHIPPED_RETURN",
        "COMPLETED",
    ]
    event_ids = [c["event"]["id"] for c in cut]
    assert event_ids == sorted(event_ids)
    assert [c["event"]["id"] for c in uoc] == sorted(c["event"]["id"] for c in uoc)
    # no personal details, and never the patron's side (pickup deadline, patron charges)
    raw = b"".join(c.body for c in hooks.calls).decode()
    for personal in (PATRON, PATRON_MAIL, "Maria", "patron_id"):
        assert personal not in raw
    assert not {c["event"]["kind"] for c in cut} & {
        "ill.notify_patron",
        "ill.pickup_deadline_set",
        "ill.patron_due_date_set",
        "ill.charge_patron",
    }
    deliveries = await desk.call(
        LOG, "2026-12-10T10:00:00+02:00", token_for("partner", library="CUT")
    )
    log = deliveries["webhookDeliveries"]
    assert len(log) == len(cut)
    assert {(d["channel"], d["status"], d["attempts"]) for d in log} == {("WEBHOOK", "SENT", 1)}
    headers = {c.headers["x-kallimachos-delivery"] for c in hooks.calls if c.path == "/hooks/cut"}
    assert headers == {d["id"] for d in log}


async def test_a_receiver_outage_is_retried_with_backoff_and_caught_up_in_order(
    api: tuple[NotifyApp, Desk],
    worker: NotificationWorker,
    receiver: tuple[Receiver, HttpServer],
) -> None:
    _, desk = api
    hooks, server = receiver
    await register(desk, token_for("partner", library="CUT"), server.url("/hooks/cut"), CUT_SECRET)
    loan = IllLoan(desk)
    await loan.requested()
    t0 = await loan.processed()
    await worker.run_once(now=t0)
    assert [body(c)["illRequest"]["status"] for c in hooks.calls] == ["SENT_TO_SUPPLIER"] * 2
    await server.stop()  # the partner's server goes down
    t1 = await loan.will_supply()
    first = await worker.run_once(now=t1)
    assert (first.sent, first.retrying) == (0, 1)
    t2 = await loan.shipped()
    assert (await worker.run_once(now=t2)).retrying == 1  # retried: the head was due
    hooks.status = 503  # back, but failing
    await server.start()
    partner = token_for("partner", library="CUT")
    t3 = t2 + timedelta(seconds=60)
    busy = await worker.run_once(now=t3)
    assert (busy.sent, busy.retrying) == (0, 1)
    log = (await desk.call(LOG, "2026-11-25T10:00:00+02:00", partner, s=["RETRYING"]))[
        "webhookDeliveries"
    ]
    [head] = log
    assert (head["attempts"], head["lastError"]) == (3, "webhook answered HTTP 503")
    assert head["nextAttemptAt"] is not None
    hooks.status = 200
    not_yet = await worker.run_once(now=t3 + timedelta(seconds=30))
    assert not_yet.sent == 0  # 30 s, 60 s, then 120 s: not due yet
    done = await worker.run_once(now=t3 + timedelta(seconds=120))
    assert done.retrying == 0
    accepted = [body(c) for c in hooks.accepted]
    statuses = [
        d["illRequest"]["status"] for d in accepted if d["event"]["kind"] == "ill.status_changed"
    ]
    assert statuses == ["SENT_TO_SUPPLIER", "WILL_SUPPLY", "SHIPPED"]
    assert [d["event"]["id"] for d in accepted] == sorted(d["event"]["id"] for d in accepted)
    engine = make_engine(desk.settings.database_url)
    async with make_sessionmaker(engine)() as session:
        rows = list(await session.scalars(select(Delivery).order_by(Delivery.id)))
    await engine.dispose()
    assert all(r.status == "SENT" for r in rows)
    assert [r.event_id for r in rows] == sorted(r.event_id for r in rows)
    # every delivery was accepted exactly once, the failed tries carried the same id
    accepted_ids = [c.headers["x-kallimachos-delivery"] for c in hooks.accepted]
    assert sorted(accepted_ids, key=int) == [str(r.id) for r in rows]
    failed_ids = {c.headers["x-kallimachos-delivery"] for c in hooks.calls if c.answered >= 300}
    assert failed_ids == {str(rows[2].id)}
    uoc = await desk.call(LOG, "2026-11-25T10:00:00+02:00", token_for("staff", library="UOC"))
    assert uoc["webhookDeliveries"] == []
    other = await desk.http.post(
        "/graphql",
        json={"query": LOG, "variables": {"library": "CUT"}},
        headers={"Authorization": f"Bearer {token_for('partner', library='UOC')}"},
    )
    assert other.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_webhook_that_is_gone_fails_for_good_and_blocks_nothing(
    api: tuple[NotifyApp, Desk],
    worker: NotificationWorker,
    receiver: tuple[Receiver, HttpServer],
) -> None:
    _, desk = api
    hooks, server = receiver
    await register(desk, token_for("partner", library="CUT"), server.url("/hooks/cut"), CUT_SECRET)
    hooks.status = 410
    loan = IllLoan(desk)
    await loan.requested()
    report = await worker.run_once(now=await loan.processed())
    assert (report.sent, report.failed, report.retrying) == (0, 2, 0)
    later = await worker.run_once(now=await loan.will_supply())
    assert (later.failed, len(hooks.calls)) == (1, 3)  # each tried once, none retried
    log = await desk.call(LOG, "2026-11-25T10:00:00+02:00", token_for("partner", library="CUT"))
    assert {(d["status"], d["lastError"]) for d in log["webhookDeliveries"]} == {
        ("FAILED", "webhook answered HTTP 410")
    }
