"""Write one audit/outbox event in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kallimachos.db.models import Event
from kallimachos.domain.actors import Actor


def record_event(
    session: AsyncSession,
    *,
    actor: Actor,
    now: datetime,
    recorded_at: datetime,
    aggregate_type: str,
    aggregate_id: int,
    kind: str,
    rule: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    payload: dict[str, Any] | None = None,
) -> Event:
    """Add an event row; it commits (or rolls back) with the change it describes."""
    event = Event(
        occurred_at=now,
        recorded_at=recorded_at,
        actor_kind=actor.kind.value,
        actor_ref=actor.ref,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        kind=kind,
        rule=rule,
        before=before,
        after=after,
        payload=payload,
    )
    session.add(event)
    return event
