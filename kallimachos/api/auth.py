"""Bearer token -> actor.  Identity only; what an actor may do is decided elsewhere."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import HTTPConnection

from kallimachos.api.tokens import TokenError, read_token
from kallimachos.domain.actors import ANONYMOUS, Actor


def actor_from_request(conn: HTTPConnection, secret: str, *, now: datetime) -> Actor:
    """The actor a request speaks for: anonymous without a token, else the token's actor.

    A token that is present but invalid raises :class:`TokenError`: a client that tried
    to sign in is told so, instead of silently seeing only public data.
    """
    header = conn.headers.get("authorization")
    if not header:
        return ANONYMOUS
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenError("Authorization header must be 'Bearer <token>'")
    return read_token(token.strip(), secret, now=now)
