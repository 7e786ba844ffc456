"""The ``/graphql`` endpoint: authentication and business time first, then strawberry.

:class:`GraphQLEndpoint` resolves the actor (from the bearer token) and the business time
(real clock, or ``X-Kallimachos-Now`` in sandbox mode) before strawberry sees the request.
A bad token or header is answered with a GraphQL-shaped JSON error and a stable code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from kallimachos.api.auth import actor_from_request
from kallimachos.api.tokens import TokenError
from kallimachos.domain.actors import Actor
from kallimachos.domain.clock import InvalidBusinessTime, parse_business_time
from kallimachos.schema import schema
from kallimachos.schema.context import Context, Services
from kallimachos.schema.loaders import Loaders

NOW_HEADER = "x-kallimachos-now"
MAX_BODY_BYTES = 256 * 1024


def error_response(code: str, message: str, status: int) -> Response:
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


class _StrawberryView(GraphQL[Context, None]):
    def __init__(self, services: Services) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=False)
        self.services = services

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket | None = None
    ) -> Context:
        state = request.scope["state"]
        actor: Actor = state["actor"]
        now: datetime = state["now"]
        return Context(
            request=request if isinstance(request, Request) else None,
            response=response if isinstance(response, Response) else None,
            actor=actor,
            now=now,
            services=self.services,
            loaders=Loaders(self.services.sessions),
        )

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


class GraphQLEndpoint:
    """ASGI app for ``/graphql``: who is asking, at what business time, then execute."""

    def __init__(self, services: Services, secret: str) -> None:
        self.services = services
        self.secret = secret
        self.view = _StrawberryView(services)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.view(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        refusal = self._refusal(conn)
        if refusal is None:
            refusal = self._resolve(conn, scope)
        if refusal is not None:
            if scope["type"] == "http":
                await refusal(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 4401})
            return
        await self.view(scope, receive, send)

    def _refusal(self, conn: HTTPConnection) -> Response | None:
        length = conn.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return error_response(
                "REQUEST_TOO_LARGE", f"request body over {MAX_BODY_BYTES} bytes", 413
            )
        return None

    def _resolve(self, conn: HTTPConnection, scope: Scope) -> Response | None:
        real_now = self.services.clock.now()
        try:
            actor = actor_from_request(conn, self.secret, now=real_now)
        except TokenError as exc:
            return error_response("UNAUTHENTICATED", str(exc), 401)
        now = real_now
        override = conn.headers.get(NOW_HEADER)
        if override and self.services.settings.clock_override:
            try:
                now = parse_business_time(override)
            except InvalidBusinessTime as exc:
                return error_response("BAD_BUSINESS_TIME", str(exc), 400)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["actor"] = actor
        state["now"] = now
        return None
