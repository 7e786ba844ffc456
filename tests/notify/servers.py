"""Real servers on 127.0.0.1 for the notification tests: SMTP (aiosmtpd), HTTP (uvicorn).

Each can be stopped and started again on the same port, to play an outage.  Nothing here
sleeps to synchronise: waits are bounded polls on a condition.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


async def until(condition: Callable[[], bool], *, limit: float = 10.0, what: str = "") -> None:
    """Wait (bounded) for ``condition``; fail the test if it does not come true."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit}s waiting for {what or condition}")
        await asyncio.sleep(0.01)


class Mailbox:
    """An aiosmtpd handler that keeps every message and can refuse chosen recipients."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: set[str] = set()
        self._lock = threading.Lock()

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if m["To"] == address]


class SmtpServer:
    """aiosmtpd on a fixed loopback port, in its own thread; :meth:`stop` is an outage."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mailbox = Mailbox()
        self.controller: Controller | None = None

    @property
    def running(self) -> bool:
        return self.controller is not None

    def start(self) -> None:
        assert self.controller is None
        self.controller = Controller(self.mailbox, hostname=LOOPBACK, port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


class HttpServer:
    """uvicorn serving ``app`` on a fixed loopback port, in this event loop; stop = outage."""

    def __init__(self, app: ASGIApp, port: int | None = None) -> None:
        self.app = app
        self.port = port or free_port()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    def url(self, path: str = "") -> str:
        return f"http://{LOOPBACK}:{self.port}{path}"

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        assert self._server is None
        config = uvicorn.Config(
            self.app, host=LOOPBACK, port=self.port, log_level="warning", lifespan="on"
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        await until(lambda: server.started or task.done(), what="uvicorn to start")
        if task.done():
            task.result()
            raise AssertionError("uvicorn stopped at start")
        self._server, self._task = server, task

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await asyncio.wait_for(self._task, timeout=10)
        self._server = self._task = None


@asynccontextmanager
async def serve(app: ASGIApp, port: int | None = None) -> AsyncIterator[HttpServer]:
    """Serve ``app`` with uvicorn on 127.0.0.1 until the block ends."""
    server = HttpServer(app, port)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    """A webhook receiver: records each POST, answers ``status`` (200 unless told)."""

    calls: list[Call] = field(default_factory=list)
    status: int = 200

    @property
    def accepted(self) -> list[Call]:
        return [c for c in self.calls if c.answered < 300]

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            body = await request.body()
            self.calls.append(Call(request.url.path, dict(request.headers), body, self.status))
            return JSONResponse({"ok": self.status < 300}, status_code=self.status)

        return Starlette(routes=[Route("/hooks/{name}", hook, methods=["POST"])])
