"""The ``/graphql`` endpoint: size, authentication and business time first, then strawberry.

:class:`GraphQLEndpoint` refuses an oversized body (declared or streamed), resolves the
actor (from the bearer token, refusing revoked ones) and the business time (real clock, or
``X-Kallimachos-Now`` in sandbox mode) before strawberry sees the request.  A bad token or
header is answered with a GraphQL-shaped JSON error and a stable code.

Every error in a GraphQL response carries ``extensions.code`` (see :func:`error_code`);
an unexpected exception in a resolver is answered ``INTERNAL_SERVER_ERROR`` with a
reference, never with its message or stack trace (those go to the log).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.relay.types import GlobalIDValueError
from strawberry.types import ExecutionResult

from kallimachos.api.auth import authenticate
from kallimachos.api.tokens import TokenError
from kallimachos.domain.actors import Actor
from kallimachos.domain.clock import InvalidBusinessTime, parse_business_time
from kallimachos.schema import schema
from kallimachos.schema.context import Context, Services
from kallimachos.schema.loaders import Loaders
from kallimachos.services.token_revocation import RevocationList, RevocationUnavailable

log = logging.getLogger(__name__)

NOW_HEADER = "x-kallimachos-now"
MAX_BODY_BYTES = 256 * 1024

# Codes of errors the API itself raises before or around execution (resolvers raise their
# own: FORBIDDEN, BAD_USER_INPUT, SEARCH_UNAVAILABLE; see kallimachos.schema.errors).
UNAUTHENTICATED = "UNAUTHENTICATED"
REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
AUTH_UNAVAILABLE = "AUTH_UNAVAILABLE"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
TOO_MANY_TOKENS = "TOO_MANY_TOKENS"
QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
BAD_USER_INPUT = "BAD_USER_INPUT"
INTERNAL = "INTERNAL_SERVER_ERROR"


def error_response(code: str, message: str, status: int) -> Response:
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def error_code(error: GraphQLError) -> str:
    """The stable code of an error in a GraphQL response.

    Errors raised with a code keep it.  Otherwise: parse and validation errors (no path)
    are classified by graphql-core's and strawberry's messages; anything raised from a
    resolver that is not a :class:`GraphQLError` is an internal error.
    """
    code = (error.extensions or {}).get("code")
    if isinstance(code, str):
        return code
    original = error.original_error
    if isinstance(original, GlobalIDValueError):  # node(id:) naming no type of ours
        return BAD_USER_INPUT
    if original is not None and not isinstance(original, GraphQLError):
        return INTERNAL
    message = error.message
    if message.startswith("Syntax Error: Document contains more than"):
        return TOO_MANY_TOKENS
    if message.startswith("Syntax Error"):
        return PARSE_FAILED
    if "exceeds maximum operation depth" in message:
        return QUERY_TOO_DEEP
    if message.endswith(" aliases found. Allowed: " + message.rsplit(" ", 1)[-1]):
        return TOO_MANY_ALIASES
    if error.path is None:
        if message.startswith("Variable '$"):
            return BAD_USER_INPUT
        return VALIDATION_FAILED
    if original is not None:  # a GraphQLError raised by a resolver without a code
        return BAD_USER_INPUT
    return INTERNAL


def _formatted(error: GraphQLError) -> dict[str, Any]:
    code = error_code(error)
    body: dict[str, Any] = dict(error.formatted)
    if code == INTERNAL:
        reference = uuid.uuid4().hex[:12]
        log.error(
            "internal error %s at %s: %s",
            reference,
            error.path,
            error.message,
            exc_info=error.original_error,
        )
        body["message"] = f"internal error (reference {reference})"
    body["extensions"] = {**(body.get("extensions") or {}), "code": code}
    return body


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

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response: GraphQLHTTPResponse = {"data": result.data}
        if result.errors:
            response["errors"] = [_formatted(e) for e in result.errors]
        if result.extensions:
            response["extensions"] = result.extensions
        return response

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        """A JSON object (or a list, which strawberry refuses: no batching), else a 400.

        strawberry answers 400 only to ``json.JSONDecodeError``; a body that is valid JSON
        but not an object (``null``, ``"x"``) or not UTF-8 would otherwise be a 500.
        """
        value = orjson.loads(data)  # orjson.JSONDecodeError is a json.JSONDecodeError
        if not isinstance(value, dict | list):
            raise json.JSONDecodeError("the request body must be a JSON object", "", 0)
        return value


async def _read_capped(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it passes ``limit`` bytes (or the client left).

    Covers bodies without ``Content-Length`` (chunked transfer): only ``limit`` bytes are
    ever held, whatever the client declared.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        if message["type"] != "http.request":
            continue
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _too_large() -> Response:
    return error_response(REQUEST_TOO_LARGE, f"request body over {MAX_BODY_BYTES} bytes", 413)


class GraphQLEndpoint:
    """ASGI app for ``/graphql``: how big, who is asking, at what business time, then execute."""

    def __init__(self, services: Services, secret: str) -> None:
        self.services = services
        self.secret = secret
        self.revocations = RevocationList(services.sessions)
        self.view = _StrawberryView(services)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.view(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        refusal = self._declared_too_large(conn)
        if refusal is None:
            refusal = await self._resolve(conn, scope)
        if refusal is not None:
            if scope["type"] == "http":
                await refusal(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 4401})
            return
        if scope["type"] == "http":
            body = await _read_capped(receive, MAX_BODY_BYTES)
            if body is None:
                await _too_large()(scope, receive, send)
                return
            receive = _replay(body, receive)
        await self.view(scope, receive, send)

    def _declared_too_large(self, conn: HTTPConnection) -> Response | None:
        length = conn.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return _too_large()
        return None

    async def _resolve(self, conn: HTTPConnection, scope: Scope) -> Response | None:
        real_now = self.services.clock.now()
        try:
            actor = await authenticate(conn, self.secret, self.revocations, now=real_now)
        except TokenError as exc:
            return error_response(UNAUTHENTICATED, str(exc), 401)
        except RevocationUnavailable as exc:
            log.error("refusing a signed-in request: %s", exc)
            return error_response(AUTH_UNAVAILABLE, str(exc), 503)
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
