"""Registering a library's webhook: who may, which URLs, and the audit event it leaves.

Staff and partner tokens register for their own library; an admin names the library.
Registering a URL the library already has replaces its secret (rotation) instead of adding
a second endpoint that would receive everything twice.  The secret is never written to the
audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kallimachos.db.models import Library, Webhook
from kallimachos.domain.actors import Actor, ActorKind
from kallimachos.services.events import record_event
from kallimachos.services.outcome import Abort, Outcome, forbidden, invalid, not_found

MIN_SECRET = 16
MAX_SECRET = 256
MAX_URL = 2000


@dataclass(frozen=True)
class Registered:
    webhook: Webhook
    library: Library
    rotated: bool


def library_of(actor: Actor, named: str | None) -> str:
    """The library code ``actor`` acts for; a problem if it may not act for ``named``."""
    if actor.kind is ActorKind.ADMIN:
        if not named:
            raise Abort(invalid("an admin names the library", "library"))
        return named.strip()
    if actor.kind not in (ActorKind.STAFF, ActorKind.PARTNER) or actor.library is None:
        raise Abort(forbidden("only a library's staff, its partner token or an admin may"))
    if named and named.strip() != actor.library:
        raise Abort(forbidden(f"a token of {actor.library} acts only for {actor.library}"))
    return actor.library


def checked_url(value: str) -> str:
    url = value.strip()
    if not url or len(url) > MAX_URL:
        raise Abort(invalid(f"url must be 1-{MAX_URL} characters", "url"))
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise Abort(invalid(f"{url!r} is not a URL", "url")) from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise Abort(invalid("url must be an http(s) URL with a host", "url"))
    if parsed.userinfo:
        raise Abort(invalid("url must not carry a user name or password", "url"))
    if parsed.fragment:
        raise Abort(invalid("url must not have a #fragment", "url"))
    return url


def checked_secret(value: str) -> str:
    if not MIN_SECRET <= len(value) <= MAX_SECRET or value != value.strip():
        message = f"secret must be {MIN_SECRET}-{MAX_SECRET} characters, without outer spaces"
        raise Abort(invalid(message, "secret"))
    return value


async def register_webhook(
    sessions: async_sessionmaker[AsyncSession],
    *,
    actor: Actor,
    now: datetime,
    url: str,
    secret: str,
    library: str | None = None,
) -> Outcome[Registered]:
    try:
        code = library_of(actor, library)
        url, secret = checked_url(url), checked_secret(secret)
        async with sessions.begin() as session:
            row = (await session.scalars(select(Library).where(Library.code == code))).first()
            if row is None:
                raise Abort(not_found("library", code, "library"))
            hook = (
                await session.scalars(
                    select(Webhook).where(
                        Webhook.library_id == row.id, Webhook.url == url, Webhook.active.is_(True)
                    )
                )
            ).first()
            rotated = hook is not None
            if hook is None:
                hook = Webhook(
                    library_id=row.id,
                    url=url,
                    secret=secret,
                    active=True,
                    created_by=actor.ref,
                    created_at=now,
                )
                session.add(hook)
            else:
                hook.secret = secret
            await session.flush()
            record_event(
                session,
                actor=actor,
                now=now,
                recorded_at=now,
                aggregate_type="library",
                aggregate_id=row.id,
                kind="webhook.secret_rotated" if rotated else "webhook.registered",
                after={"webhook_id": hook.id, "url": url},
            )
    except Abort as stop:
        return Outcome(problems=stop.problems)
    return Outcome(value=Registered(webhook=hook, library=row, rotated=rotated))
