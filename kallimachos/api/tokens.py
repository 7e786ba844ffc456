"""Signed bearer tokens (JWT, HS256) carrying an actor.

A token names the actor kind and its scope (card, library, branch), an id (``jti``) so it
can be revoked, and an expiry.  The signing secret comes from ``KALLIMACHOS_SECRET``; the
embedded default generates one and keeps it in a file beside the database (mode 0600).

Verification is strict: HS256 only (no ``alg: none``, no key confusion), our issuer, the
claims ``exp iat sub jti`` required and typed, ``iat`` not in the future (beyond a minute of
clock skew), and a bounded token size.  Error messages never contain the token or the secret.
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
MAX_TOKEN_LENGTH = 4096
"""A bearer token longer than this is refused before any decoding."""
MAX_CLOCK_SKEW_SECONDS = 60
"""How far in the future a token's ``iat`` may be (the issuer's clock may run ahead)."""
MIN_SECRET_LENGTH = 32
"""A shorter HS256 key can be brute-forced offline from any token it signed."""
MAX_JTI_LENGTH = 64
_SCOPE_CLAIMS = ("card", "lib", "branch")


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
    """Verify ``token`` against the real time ``now`` and return its actor.

    Revocation is checked by the caller (``kallimachos.services.token_revocation``).
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenError(f"token longer than {MAX_TOKEN_LENGTH} characters")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={
                "require": ["exp", "iat", "sub", "jti", "iss"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise TokenError(f"invalid token: {exc}") from exc
    exp, iat, jti = claims["exp"], claims["iat"], claims["jti"]
    if not _is_int(exp) or not _is_int(iat):
        raise TokenError("invalid token: exp and iat must be integers")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise TokenError(f"invalid token: jti must be 1-{MAX_JTI_LENGTH} characters")
    if any(not isinstance(claims.get(c, ""), str) for c in _SCOPE_CLAIMS):
        raise TokenError("invalid token: card, lib and branch must be strings")
    seconds = int(now.timestamp())
    if exp <= seconds:
        raise TokenError("token expired")
    if iat > seconds + MAX_CLOCK_SKEW_SECONDS:
        raise TokenError("token issued in the future")
    try:
        kind = ActorKind(claims["sub"])
    except ValueError as exc:
        raise TokenError("token names an unknown actor kind") from exc
    if kind is ActorKind.ANONYMOUS:
        raise TokenError("token names an unknown actor kind")
    actor = Actor(
        kind=kind,
        card_number=claims.get("card") or None,
        library=claims.get("lib") or None,
        branch=claims.get("branch") or None,
        token_id=jti,
    )
    _check_scope(actor)
    return actor


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_scope(actor: Actor) -> None:
    if actor.kind is ActorKind.PATRON and not actor.card_number:
        raise TokenError("patron token without a card number")
    if actor.kind in (ActorKind.STAFF, ActorKind.PARTNER) and not actor.library:
        raise TokenError(f"{actor.kind.value} token without a library")


def resolve_secret(configured: str | None, secret_file: Path | None) -> str:
    """The configured secret, else the generated one kept in ``secret_file``.

    A configured secret shorter than :data:`MIN_SECRET_LENGTH` is refused: the service
    would otherwise start with a key anyone holding one token could recover.
    """
    if configured:
        if len(configured) < MIN_SECRET_LENGTH:
            raise TokenError(
                f"KALLIMACHOS_SECRET must be at least {MIN_SECRET_LENGTH} characters "
                "(use a long random string)"
            )
        return configured
    if secret_file is None:
        raise TokenError("KALLIMACHOS_SECRET is not set and there is no file to keep one in")
    if secret_file.exists():
        kept = secret_file.read_text(encoding="utf-8").strip()
        if len(kept) < MIN_SECRET_LENGTH:
            raise TokenError(f"{secret_file} holds no usable secret; delete it to make a new one")
        return kept
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    return value
