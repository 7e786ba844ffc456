"""A real websocket client speaking graphql-transport-ws, for the subscription tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from kallimachos.notify.broker import Broker
from tests.notify.servers import until

ACTIVITY = """subscription($kinds: [String!], $library: String) {
  activity(kinds: $kinds, library: $library) {
    eventId kind subjectType subjectId status rule message on } }"""


class Listener:
    """One subscription on one connection; :meth:`next` reads its next event (bounded)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def message(self, wait: float = 10.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), wait)
        message = json.loads(raw)
        assert isinstance(message, dict)
        return message

    async def next(self, wait: float = 10.0) -> dict[str, Any]:
        message = await self.message(wait)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        activity = message["payload"]["data"]["activity"]
        assert isinstance(activity, dict)
        return activity

    async def until(self, kind: str, subject_id: str | None = None) -> list[dict[str, Any]]:
        """Every event up to and including the first of ``kind`` (about ``subject_id``)."""
        seen: list[dict[str, Any]] = []
        while True:
            activity = await self.next()
            seen.append(activity)
            if activity["kind"] == kind and subject_id in (None, activity["subjectId"]):
                return seen


@asynccontextmanager
async def listening(
    url: str,
    token: str | None,
    broker: Broker,
    variables: dict[str, Any] | None = None,
    *,
    expect_subscribed: bool = True,
) -> AsyncIterator[Listener]:
    """Connect, initialise, subscribe to ``activity``; wait until the broker has us."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with connect(
        url,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        additional_headers=headers,
        proxy=None,
        open_timeout=10,
    ) as ws:
        listener = Listener(ws)
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert (await listener.message())["type"] == "connection_ack"
        before = broker.subscriber_count
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": ACTIVITY, "variables": variables or {}},
                }
            )
        )
        if expect_subscribed:
            await until(lambda: broker.subscriber_count > before, what="the subscription")
        yield listener
