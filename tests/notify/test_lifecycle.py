"""Issue 8's definition of done: one whole interlibrary loan produces the expected e-mails in a
real SMTP server, the expected subscription messages on real websockets and signed calls on
a real webhook receiver, in order, with nothing lost while the SMTP server and the receiver
are down for a while and come back."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from email.message import EmailMessage

import pytest
from httpx import AsyncClient

from kallimachos.api.settings import Settings
from kallimachos.notify.broker import Broker
from kallimachos.notify.templates import format_date
from kallimachos.notify.webhooks import SIGNATURE_HEADER, verify
from kallimachos.notify.worker import NotificationWorker
from tests.conftest import token_for
from tests.e2e.circulation_support import Desk
from tests.notify.app import NotifyApp
from tests.notify.ill_flow import MONDAY, PATRON, PATRON_MAIL, IllLoan
from tests.notify.live import listening
from tests.notify.servers import HttpServer, Receiver, SmtpServer

SECRET = "cut-webhook-secret-0123456789"


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[tuple[Desk, Broker, str]]:
    notify = NotifyApp(settings)
    server = HttpServer(notify.app)
    await server.start()
    try:
        assert notify.running is not None
        async with AsyncClient(base_url=server.url(), trust_env=False) as http:
            ws_url = server.url("/graphql").replace("http://", "ws://")
            yield Desk(http, settings), notify.running.broker, ws_url
    finally:
        await server.stop()


def plain(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


async def test_a_whole_ill_loan_is_told_by_mail_websocket_and_webhook_through_outages(
    served: tuple[Desk, Broker, str], worker: NotificationWorker, smtp: SmtpServer
) -> None:
    desk, broker, ws_url = served
    hooks = Receiver()
    receiver = HttpServer(hooks.app())
    await receiver.start()
    registered = await desk.call(
        """mutation($url: String!, $secret: String!) { registerWebhook(input: {url: $url,
           secret: $secret}) { userErrors { code } } }""",
        "2026-11-20T10:00:00+02:00",
        token_for("partner", library="CUT"),
        url=receiver.url("/hooks/cut"),
        secret=SECRET,
    )
    assert registered["registerWebhook"]["userErrors"] == []
    loan = IllLoan(desk)

    async def settle(now: datetime) -> None:
        await worker.run_once(now=now)
        await broker.poll_once()

    try:
        async with (
            listening(ws_url, token_for("patron", card_number=PATRON), broker) as patron,
            listening(ws_url, token_for("staff", library="UOC"), broker) as staff,
            listening(ws_url, token_for("partner", library="CUT"), broker) as partner,
        ):
            for take in (loan.requested, loan.processed, loan.will_supply, loan.shipped):
                await settle(await take())
            assert len(hooks.accepted) == 5  # sent, notified, will supply, shipped, due date

            # the mail server and the partner's receiver go down for a while
            smtp.stop()
            await receiver.stop()
            received_at = await loan.received()
            await settle(received_at)
            await settle(await loan.lent())
            recall_due = MONDAY + timedelta(days=14)
            recalled_at = await loan.recalled(recall_due)
            await settle(recalled_at)
            down = await worker.run_once(now=recalled_at + timedelta(hours=1))
            assert down.retrying == 2  # one head per recipient; the rest queue behind it
            assert smtp.mailbox.messages == []

            # ... and come back: everything held back goes out, in order
            smtp.start()
            await receiver.start()
            back = await worker.run_once(now=recalled_at + timedelta(days=1))
            assert back.retrying == back.failed == 0
            for take in (loan.returned, loan.shipped_back, loan.completed):
                await settle(await take())

            # e-mail: arrival with the pickup deadline (TUC-ILL-4, CUT-A9), then the recall
            mails = smtp.mailbox.to(PATRON_MAIL)
            assert [m["X-Kallimachos-Notice"] for m in mails] == ["ill_arrived", "ill_recalled"]
            arrival, recall = mails
            assert arrival["Subject"].startswith("Το τεκμήριο διαδανεισμού έφτασε: ")
            deadline = format_date(loan.pickup_deadline, "el")
            assert f"Παραλάβετέ το έως και {deadline}" in plain(arrival)
            assert loan.pickup_deadline == loan.supplier_due - timedelta(days=2)  # CUT-A9
            assert "Κανόνας δανεισμού: TUC-ILL-4" in plain(arrival)
            assert recall["Subject"].startswith("Ανάκληση διαδανεισμού: επιστροφή έως ")
            assert smtp.mailbox.messages == mails  # nobody else was written to

            # webhook: every call signed, accepted once each, statuses in order
            accepted = hooks.accepted
            for call in accepted:
                signature = call.headers[SIGNATURE_HEADER.lower()]
                stamp = int(signature.split(",")[0].removeprefix("t="))
                assert verify(SECRET, signature, call.body, now=stamp)
            bodies = [json.loads(c.body) for c in accepted]
            ids = [c.headers["x-kallimachos-delivery"] for c in accepted]
            assert len(ids) == len(set(ids))
            assert [b["event"]["id"] for b in bodies] == sorted(b["event"]["id"] for b in bodies)
            statuses = [
                b["illRequest"]["status"]
                for b in bodies
                if b["event"]["kind"] == "ill.status_changed"
            ]
            assert statuses == [
                "SENT_TO_SUPPLIER",
                "WILL_SUPPLY",
                "SHIPPED",
                "RECEIVED",
                "CHECKED_OUT_TO_PATRON",
                "RECALLED",
                "RETURNED_BY_PATRON",
                "SHIPPED_RETURN",
                "COMPLETED",
            ]
            log = await desk.call(
                "{ webhookDeliveries(first: 100) { status attempts } }",
                "2026-12-10T10:00:00+02:00",
                token_for("partner", library="CUT"),
            )
            states = log["webhookDeliveries"]
            assert len(states) == len(accepted)
            assert {s["status"] for s in states} == {"SENT"}
            assert max(s["attempts"] for s in states) > 1  # the outage was retried

            # websockets: each listener heard its side, in order
            mine = await patron.until("ill.status_changed")
            while mine[-1]["status"] != "COMPLETED":
                mine += await patron.until("ill.status_changed")
            kinds = [m["kind"] for m in mine]
            assert kinds.index("ill.notify_patron") < kinds.index("ill.recalled_from_patron")
            assert [m["status"] for m in mine if m["kind"] == "ill.status_changed"] == [
                "SENT_TO_SUPPLIER",
                *statuses[1:],
            ]
            assert mine[0]["kind"] == "ill.requested"
            theirs = await partner.until("ill.status_changed")
            while theirs[-1]["status"] != "COMPLETED":
                theirs += await partner.until("ill.status_changed")
            assert [t["status"] for t in theirs if t["kind"] == "ill.status_changed"] == statuses
            assert "ill.notify_patron" not in {t["kind"] for t in theirs}
            desk_view = await staff.until("ill.status_changed")
            while desk_view[-1]["status"] != "COMPLETED":
                desk_view += await staff.until("ill.status_changed")
            event_ids = [int(e["eventId"]) for e in desk_view]
            assert event_ids == sorted(event_ids)
            assert {"loan.checked_out", "item.checked_in", "ill.notify_patron"} <= {
                e["kind"] for e in desk_view
            }
    finally:
        await receiver.stop()
