"""Drain the outbox into the search index.

Every event that changes what the catalogue shows carries ``payload.work_ids``.  The drain
reads undrained events in order, rebuilds those works' documents from the database (the
source of truth), writes them to the index, and only then marks the events drained.  A
crash in between means the same works are indexed again: harmless, nothing lost.
Two drainers (several workers) may index the same works twice; also harmless.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kallimachos.db.models import Event
from kallimachos.domain.clock import Clock
from kallimachos.indexer.documents import ItemLoanable, build_documents
from kallimachos.search.backend import SearchBackend, SearchUnavailable

log = logging.getLogger(__name__)


async def drain_once(
    sessions: async_sessionmaker[AsyncSession],
    search: SearchBackend,
    loanable: ItemLoanable,
    *,
    now: datetime,
    limit: int = 500,
) -> int:
    """Index the works named by up to ``limit`` undrained events; returns events drained.

    Three short steps, none holding a database lock while the search engine works (the
    embedded index may live in the same SQLite file): read events and build documents,
    write the index, then mark exactly those events drained.
    """
    async with sessions() as session:
        rows = (
            await session.execute(
                select(Event.id, Event.payload)
                .where(Event.indexed_at.is_(None))
                .order_by(Event.id)
                .limit(limit)
            )
        ).all()
        if not rows:
            return 0
        work_ids = sorted(
            {int(w) for _, payload in rows for w in (payload or {}).get("work_ids", [])}
        )
        documents, gone = (
            await build_documents(session, work_ids, loanable) if work_ids else ([], [])
        )
    if documents:
        await search.index_works(documents)
    if gone:
        await search.delete_works(gone)
    async with sessions.begin() as session:
        await session.execute(
            update(Event).where(Event.id.in_([r.id for r in rows])).values(indexed_at=now)
        )
    return len(rows)


async def drain_all(
    sessions: async_sessionmaker[AsyncSession],
    search: SearchBackend,
    loanable: ItemLoanable,
    *,
    now: datetime,
) -> int:
    """Drain until nothing is left; returns the number of events drained."""
    total = 0
    while drained := await drain_once(sessions, search, loanable, now=now):
        total += drained
    if total:
        await search.refresh()
    return total


async def drain_forever(
    sessions: async_sessionmaker[AsyncSession],
    search: SearchBackend,
    loanable: ItemLoanable,
    clock: Clock,
    *,
    idle_seconds: float = 0.5,
) -> None:
    """The background drainer of a running service; survives a search outage."""
    while True:
        try:
            drained = await drain_all(sessions, search, loanable, now=clock.now())
        except SearchUnavailable:
            log.warning("search unavailable; outbox drain will retry")
            drained = 0
        except Exception:  # keep the service up; the events stay undrained
            log.exception("outbox drain failed; will retry")
            drained = 0
        if not drained:
            await asyncio.sleep(idle_seconds)
