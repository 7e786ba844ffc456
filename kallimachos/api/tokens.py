"""Signed bearer tokens (JWT, HS256) carrying an actor.

A token names the actor kind and its scope (card, library, branch), an id (``jti``) so it
can be revoked, and an expiry.  The signing secret comes from ``KALLIMACHOS_SECRET``; the
embedded default generates one and keeps it in a file beside the database (mode 0600).
"""

from __future__ import annotations

import os
import secrets
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import jwt

from kallimachos.domain.actors import Actor, ActorKind

ALGORITHM = "HS256"
ISSUER = "kallimachos"


class TokenError(Exception):
    """A bearer token was refused (bad signature, expired, malformed, revoked)."""


def issue_token(actor: Actor, secret: str, *, now: datetime, ttl: timedelta) -> str:
    """Sign a token for ``actor`` valid from ``now`` for ``ttl``."""
    if actor.kind is ActorKind.ANONYMOUS:
        raise ValueError("anonymous access needs no token")
    claims: dict[str, object] = {
        "iss": ISSUER,
        "sub": actor.kind.value,
        "jti": actor.token_id or uuid.uuid4().hex,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    if actor.card_number:
        claims["card"] = actor.card_number
    if actor.library:
        claims["lib"] = actor.library
    if actor.branch:
        claims["branch"] = actor.branch
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(token: str, secret: str, *, now: datetime) -> Actor:
    """Verify ``token`` against the real time ``now`` and return its actor."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "jti"], "verify_exp": False},
        )
    except jwt.PyJWTError as exc:
        raise TokenError(f"invalid token: {exc}") from exc
    if int(claims["exp"]) <= int(now.timestamp()):
        raise TokenError("token expired")
    try:
        kind = ActorKind(claims["sub"])
    except ValueError as exc:
        raise TokenError("token names an unknown actor kind") from exc
    actor = Actor(
        kind=kind,
        card_number=claims.get("card"),
        library=claims.get("lib"),
        branch=claims.get("branch"),
        token_id=str(claims["jti"]),
    )
    _check_scope(actor)
    return actor


def _check_scope(actor: Actor) -> None:
    if actor.kind is ActorKind.PATRON and not actor.card_number:
        raise TokenError("patron token without a card number")
    if actor.kind in (ActorKind.STAFF, ActorKind.PARTNER) and not actor.library:
        raise TokenError(f"{actor.kind.value} token without a library")


def resolve_secret(configured: str | None, secret_file: Path | None) -> str:
    """The configured secret, else the generated one kept in ``secret_file``."""
    if configured:
        return configured
    if secret_file is None:
        raise TokenError("KALLIMACHOS_SECRET is not set and there is no file to keep one in")
    if secret_file.exists():
        return secret_file.read_text(encoding="utf-8").strip()
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    return value
