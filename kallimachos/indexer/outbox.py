"""Drain the outbox into the search index.

Every event that changes what the catalogue shows carries ``payload.work_ids``.  The drain
reads undrained events in order, rebuilds those works' documents from the database (the
source of truth), writes them to the index, and only then marks the events drained.  A
crash in between means the same works are indexed again: harmless, nothing lost.
Two drainers (several workers) may index the same works twice; also harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kallimachos.db.any_of import any_of
from kallimachos.db.models import Event
from kallimachos.domain.clock import Clock
from kallimachos.indexer.collector import fewer_collections
from kallimachos.indexer.documents import ItemLoanable, build_documents
from kallimachos.search.backend import SearchBackend, SearchUnavailable, WorkDocument

log = logging.getLogger(__name__)

_EVENTS = cast(Table, Event.__table__)  # Core statements: no ORM session synchronisation

DRAIN_CHUNK = 5000
"""Events per round of :func:`drain_all`: one read, one bulk write, one update per round."""


@dataclass
class _Chunk:
    """Undrained events read in one go, with the documents of the works they name."""

    event_ids: list[int]
    documents: list[WorkDocument]
    gone: list[int]


async def _read_chunk(
    sessions: async_sessionmaker[AsyncSession],
    loanable: ItemLoanable,
    *,
    limit: int,
    after: int = 0,
) -> _Chunk | None:
    """Up to ``limit`` undrained events with ids above ``after``, oldest first (None: none)."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(Event.id, Event.payload)
                .where(Event.indexed_at.is_(None), Event.id > after)
                .order_by(Event.id)
                .limit(limit)
            )
        ).all()
        if not rows:
            return None
        work_ids = sorted(
            {int(w) for _, payload in rows for w in (payload or {}).get("work_ids", [])}
        )
        documents, gone = (
            await build_documents(session, work_ids, loanable) if work_ids else ([], [])
        )
    return _Chunk([r.id for r in rows], documents, gone)


async def _write_chunk(
    sessions: async_sessionmaker[AsyncSession],
    search: SearchBackend,
    chunk: _Chunk,
    *,
    now: datetime,
) -> int:
    """Write the chunk's documents, then mark exactly its events drained."""
    if chunk.documents:
        await search.index_works(chunk.documents)
    if chunk.gone:
        await search.delete_works(chunk.gone)
    async with sessions.begin() as session:
        for ids in _slices(chunk.event_ids, 5000):
            await session.execute(
                update(_EVENTS).where(any_of(session, _EVENTS.c.id, ids)).values(indexed_at=now)
            )
    return len(chunk.event_ids)


def _slices(values: list[int], size: int) -> list[list[int]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


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
    chunk = await _read_chunk(sessions, loanable, limit=limit)
    if chunk is None:
        return 0
    return await _write_chunk(sessions, search, chunk, now=now)


async def drain_all(
    sessions: async_sessionmaker[AsyncSession],
    search: SearchBackend,
    loanable: ItemLoanable,
    *,
    now: datetime,
) -> int:
    """Drain until nothing is left; returns the number of events drained.

    Rounds of :data:`DRAIN_CHUNK` events.  On OpenSearch the next round's documents are read
    and built while the search engine indexes the previous round's (the embedded index
    shares the SQLite file, so there the rounds take turns).  Each round's documents are
    written only after the previous round's, and built no earlier, so the index ends with
    the newest state of every work, as when the rounds run one after the other.
    """
    total = 0
    with fewer_collections():
        if getattr(search, "engine", None) == "opensearch":
            total += await _drain_overlapped(sessions, search, loanable, now=now)
        # Sequential rounds; after an overlapped drain, they pick up events that committed
        # late with ids below those already drained.
        while drained := await drain_once(sessions, search, loanable, now=now, limit=DRAIN_CHUNK):
            total += drained
    if total:
        await search.refresh()
    return total


async def _drain_overlapped(
    sessions: async_sessionmaker[AsyncSession],
    search: SearchBackend,
    loanable: ItemLoanable,
    *,
    now: datetime,
) -> int:
    total = 0
    after = 0
    writing: asyncio.Task[int] | None = None
    try:
        while True:
            chunk = await _read_chunk(sessions, loanable, limit=DRAIN_CHUNK, after=after)
            if writing is not None:
                total += await writing
                writing = None
            if chunk is None:
                return total
            after = chunk.event_ids[-1]
            writing = asyncio.create_task(_write_chunk(sessions, search, chunk, now=now))
    finally:
        if writing is not None:
            writing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writing


async def drain_forever(
    sessions: async_sessionmaker[AsyncSession],
    search: SearchBackend,
    loanable: ItemLoanable,
    clock: Clock,
    *,
    idle_seconds: float = 0.5,
) -> None:
    """The background drainer of a running service; survives a search outage.

    Once it has caught up (a round smaller than :data:`DRAIN_CHUNK`) it waits
    ``idle_seconds`` before the next round, so that under a steady stream of loans and
    returns the events of that interval are indexed together, with one bulk request and one
    refresh, instead of one round per event (which cost the worker as much CPU as the
    requests themselves).  A change reaches the index within about ``idle_seconds``.
    """
    while True:
        try:
            drained = await drain_all(sessions, search, loanable, now=clock.now())
        except SearchUnavailable:
            log.warning("search unavailable; outbox drain will retry")
            drained = 0
        except Exception:  # keep the service up; the events stay undrained
            log.exception("outbox drain failed; will retry")
            drained = 0
        if drained < DRAIN_CHUNK:  # caught up: let the next events gather into one round
            await asyncio.sleep(idle_seconds)
