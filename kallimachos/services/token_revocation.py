"""Withdrawing bearer tokens before they expire, and refusing them on every request.

A token is revoked by its id (``jti``): ``kallimachos token revoke JTI`` writes a row in
``revoked_tokens`` (and an audit event).  The API checks each authenticated request
against :class:`RevocationList`, an in-memory set of revoked ids that is reloaded from the
database at most every ``refresh_seconds`` (default 5 s): a request costs one set lookup,
and a revocation made anywhere (another worker, the command line) takes effect everywhere
within that interval.

If the database cannot be read when a reload is due, the last list is kept for up to
``max_stale_seconds``; past that, authenticated requests are refused (fail closed) with
:class:`RevocationUnavailable` rather than trusting a list that may miss a revocation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kallimachos.db.models import RevokedToken
from kallimachos.domain.actors import Actor
from kallimachos.services.events import record_event

log = logging.getLogger(__name__)

REFRESH_SECONDS = 5.0
"""How long a loaded list is trusted before the next request reloads it."""
MAX_STALE_SECONDS = 60.0
"""How long a list may be kept while the database cannot be read."""
RETRY_SECONDS = 1.0
"""After a failed reload, how long to wait before trying again."""
MAX_JTI_LENGTH = 64
MAX_REASON_LENGTH = 500


class RevocationUnavailable(Exception):
    """The revocation list could not be read and the last one is too old to trust."""


class InvalidRevocation(ValueError):
    """The token id or reason given to :func:`revoke_token` is not acceptable."""


@dataclass(frozen=True)
class Revoked:
    jti: str
    newly: bool
    """False when the token had already been revoked (revoking is idempotent)."""


async def revoke_token(
    session: AsyncSession, jti: str, *, reason: str | None, actor: Actor, now: datetime
) -> Revoked:
    """Record that token ``jti`` is withdrawn, in the caller's transaction (audited)."""
    cleaned = jti.strip()
    if not cleaned or len(cleaned) > MAX_JTI_LENGTH or not cleaned.isprintable():
        raise InvalidRevocation(f"a token id is 1-{MAX_JTI_LENGTH} printable characters")
    why = reason.strip() if reason else None
    if why is not None and len(why) > MAX_REASON_LENGTH:
        raise InvalidRevocation(f"a reason is at most {MAX_REASON_LENGTH} characters")
    if await session.get(RevokedToken, cleaned) is not None:
        return Revoked(jti=cleaned, newly=False)
    session.add(RevokedToken(jti=cleaned, revoked_at=now, reason=why or None))
    record_event(
        session,
        actor=actor,
        now=now,
        recorded_at=now,
        aggregate_type="token",
        aggregate_id=0,
        kind="token.revoked",
        before={"jti": cleaned, "revoked": False},
        after={"jti": cleaned, "revoked": True},
        payload={"jti": cleaned, "reason": why},
    )
    return Revoked(jti=cleaned, newly=True)


async def revoked_ids(session: AsyncSession) -> frozenset[str]:
    """Every revoked token id (one primary-key scan)."""
    return frozenset(await session.scalars(select(RevokedToken.jti)))


class RevocationList:
    """Revoked token ids, cached in memory and reloaded every few seconds.

    ``is_revoked`` costs a set lookup on all but one request per interval; that request
    reloads the list (one ``SELECT jti FROM revoked_tokens``) while the others wait on a
    lock instead of each querying the database.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        refresh_seconds: float = REFRESH_SECONDS,
        max_stale_seconds: float = MAX_STALE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self.refresh_seconds = refresh_seconds
        self.max_stale_seconds = max_stale_seconds
        self._monotonic = monotonic
        self._revoked: frozenset[str] = frozenset()
        self._loaded_at: float | None = None
        self._next_try: float = float("-inf")
        self._lock = asyncio.Lock()
        self.reloads = 0
        """How many times the list was read from the database (for tests and metrics)."""

    async def is_revoked(self, jti: str) -> bool:
        if self._due():
            await self._reload()
        return jti in self._revoked

    def note_revoked(self, jti: str) -> None:
        """Refuse ``jti`` in this process at once (a revocation made through this process)."""
        self._revoked = self._revoked | {jti}

    def invalidate(self) -> None:
        """Reload on the next request."""
        self._loaded_at = None
        self._next_try = float("-inf")

    def _due(self) -> bool:
        now = self._monotonic()
        if self._loaded_at is not None and now - self._loaded_at < self.refresh_seconds:
            return False
        return now >= self._next_try or self._too_stale(now)

    def _too_stale(self, now: float) -> bool:
        return self._loaded_at is None or now - self._loaded_at > self.max_stale_seconds

    async def _reload(self) -> None:
        async with self._lock:
            if not self._due():  # another request reloaded it while this one waited
                return
            try:
                async with self._sessions() as session:
                    revoked = await revoked_ids(session)
            except (SQLAlchemyError, OSError) as exc:
                now = self._monotonic()
                self._next_try = now + RETRY_SECONDS
                if self._too_stale(now):
                    raise RevocationUnavailable(
                        "cannot check whether the token was revoked"
                    ) from exc
                log.warning("revocation list reload failed; keeping the last one", exc_info=True)
                return
            self._revoked = revoked
            self._loaded_at = self._monotonic()
            self._next_try = float("-inf")
            self.reloads += 1
