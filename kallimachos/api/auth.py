"""Bearer token -> actor.  Identity only; what an actor may do is decided elsewhere."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import HTTPConnection

from kallimachos.api.tokens import TokenError, read_token
from kallimachos.domain.actors import ANONYMOUS, Actor
from kallimachos.services.token_revocation import RevocationList


def actor_from_request(conn: HTTPConnection, secret: str, *, now: datetime) -> Actor:
    """The actor a request speaks for: anonymous without a token, else the token's actor.

    A token that is present but invalid raises :class:`TokenError`: a client that tried
    to sign in is told so, instead of silently seeing only public data.  Revocation is
    not checked here: see :func:`authenticate`.
    """
    header = conn.headers.get("authorization")
    if header is None:
        return ANONYMOUS
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenError("Authorization header must be 'Bearer <token>'")
    return read_token(token.strip(), secret, now=now)


async def authenticate(
    conn: HTTPConnection, secret: str, revocations: RevocationList, *, now: datetime
) -> Actor:
    """:func:`actor_from_request`, then refuse a token that has been revoked.

    May raise :class:`~kallimachos.services.token_revocation.RevocationUnavailable` when
    the revocation list cannot be read (the caller answers 503, never lets the token in).
    """
    actor = actor_from_request(conn, secret, now=now)
    if actor.token_id is not None and await revocations.is_revoked(actor.token_id):
        raise TokenError("token revoked")
    return actor
