"""GraphQL subscriptions over a real websocket (uvicorn on 127.0.0.1, the ``websockets``
client speaking graphql-transport-ws), scoped by who is listening.

To prove that a listener heard *nothing* it should not have, each test ends with an event
that listener may hear, and checks it is the first thing that arrived.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import date

import pytest
from httpx import AsyncClient
from websockets.exceptions import InvalidStatus

from kallimachos.api.settings import Settings
from kallimachos.notify.broker import Broker
from tests.conftest import token_for
from tests.e2e.circulation_support import Desk
from tests.notify.app import NotifyApp
from tests.notify.ill_flow import PATRON, IllLoan
from tests.notify.live import Listener, listening
from tests.notify.servers import HttpServer


@dataclass
class Served:
    desk: Desk
    broker: Broker
    ws_url: str


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[Served]:
    notify = NotifyApp(settings)
    server = HttpServer(notify.app)
    await server.start()
    try:
        assert notify.running is not None
        async with AsyncClient(base_url=server.url(), trust_env=False) as http:
            yield Served(
                desk=Desk(http, settings),
                broker=notify.running.broker,
                ws_url=server.url("/graphql").replace("http://", "ws://"),
            )
    finally:
        await server.stop()


def at(day: date, hour: int = 10) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00+02:00"


async def test_each_actor_hears_only_its_own_activity(served: Served) -> None:
    desk, broker = served.desk, served.broker
    async with AsyncExitStack() as stack:

        async def listen(token: str, **variables: object) -> Listener:
            return await stack.enter_async_context(
                listening(served.ws_url, token, broker, dict(variables))
            )

        patron = await listen(token_for("patron", card_number=PATRON))
        other_patron = await listen(token_for("patron", card_number="UOC-UNDERG-003"))
        uoc = await listen(token_for("staff", library="UOC"))
        cut = await listen(token_for("partner", library="CUT"))
        aeg = await listen(token_for("staff", library="AEG"))
        arrivals = await listen(
            token_for("patron", card_number=PATRON), kinds=["ill.notify_patron"]
        )

        loan = IllLoan(desk)
        await loan.requested()
        await broker.poll_once()
        await loan.processed()
        await broker.poll_once()
        await loan.will_supply()
        await loan.shipped()
        await loan.received()
        await broker.poll_once()

        heard = await patron.until("ill.notify_patron")
        assert heard[0]["kind"] == "ill.requested"
        assert heard[0]["subjectId"] == loan.rid
        assert heard[0]["status"] == "AWAITING_PROCESSING"
        assert "ill.notify_supplier" not in {h["kind"] for h in heard}  # the library's business
        statuses = [h["status"] for h in heard if h["kind"] == "ill.status_changed"]
        assert statuses == ["SENT_TO_SUPPLIER", "WILL_SUPPLY", "SHIPPED", "RECEIVED"]
        arrived = heard[-1]
        assert (arrived["rule"], arrived["message"]) == ("TUC-ILL-4", "your loan has arrived")
        only = await arrivals.next()
        assert only["eventId"] == arrived["eventId"]

        staff_heard = await uoc.until("ill.pickup_deadline_set")
        assert staff_heard[0]["kind"] == "ill.requested"
        assert {"ill.notify_supplier", "ill.notify_patron"} <= {h["kind"] for h in staff_heard}
        assert staff_heard[-1]["on"] == loan.pickup_deadline.isoformat()

        partner_heard = await cut.until("ill.status_changed")
        assert len(partner_heard) == 1  # nothing before UOC's staff sent the request
        assert partner_heard[0]["status"] == "SENT_TO_SUPPLIER"
        rest = await cut.until("ill.status_changed")
        assert rest[-1]["status"] == "WILL_SUPPLY"
        rest = await cut.until("ill.status_changed")
        rest += await cut.until("ill.status_changed")
        assert rest[-1]["status"] == "RECEIVED"
        assert not {h["kind"] for h in partner_heard + rest} & {
            "ill.notify_patron",
            "ill.pickup_deadline_set",
            "ill.requested",
        }

        # closing events each of the others may hear: nothing came before them
        aeg_copy = (await desk.copies("AEG", "AEG-MYT", limit=1))[0]
        lent = await desk.check_out(
            aeg_copy.barcode, "AEG-UNDERG-003", "AEG-MYT", at(date(2026, 11, 30))
        )
        assert lent["userErrors"] == []
        uoc_copy = (await desk.copies("UOC", "UOC-HER", limit=1))[0]
        mine = await desk.check_out(
            uoc_copy.barcode, "UOC-UNDERG-003", "UOC-HER", at(date(2026, 11, 30))
        )
        assert mine["userErrors"] == []
        await broker.poll_once()
        first_aeg = await aeg.next()
        assert (first_aeg["kind"], first_aeg["subjectId"]) == (
            "loan.checked_out",
            lent["loan"]["id"],
        )
        first_other = await other_patron.next()
        assert first_other["kind"] == "loan.checked_out"
        assert first_other["subjectId"] == mine["loan"]["id"]


async def refused_with(listener: Listener, code: str) -> None:
    """The subscription ends with one error carrying ``code``, then completes."""
    message = await listener.message()
    assert message["type"] == "next", message
    assert [e["extensions"]["code"] for e in message["payload"]["errors"]] == [code]
    assert (await listener.message())["type"] == "complete"


async def test_signed_out_listeners_are_refused(served: Served) -> None:
    async with listening(served.ws_url, None, served.broker, expect_subscribed=False) as anon:
        await refused_with(anon, "FORBIDDEN")
    with pytest.raises(InvalidStatus):
        async with listening(served.ws_url, "not-a-token", served.broker, expect_subscribed=False):
            pass


async def test_staff_may_not_listen_to_another_library(served: Served) -> None:
    token = token_for("staff", library="UOC")
    async with listening(
        served.ws_url, token, served.broker, {"library": "CUT"}, expect_subscribed=False
    ) as refused:
        await refused_with(refused, "FORBIDDEN")
