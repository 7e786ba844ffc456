"""Rebuild the whole search index from the database (``kallimachos index rebuild``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kallimachos.db.models import Work
from kallimachos.indexer.documents import ItemLoanable, build_documents
from kallimachos.search.backend import SearchBackend, WorkDocument

BATCH = 1000


async def document_batches(
    sessions: async_sessionmaker[AsyncSession], loanable: ItemLoanable, batch: int = BATCH
) -> AsyncIterator[Sequence[WorkDocument]]:
    """Every work's document, in id order, ``batch`` at a time (keyset pagination)."""
    last = 0
    while True:
        async with sessions() as session:
            ids = list(
                await session.scalars(
                    select(Work.id).where(Work.id > last).order_by(Work.id).limit(batch)
                )
            )
            if not ids:
                return
            documents, _ = await build_documents(session, ids, loanable)
        last = ids[-1]
        yield documents


async def rebuild_index(
    sessions: async_sessionmaker[AsyncSession], search: SearchBackend, loanable: ItemLoanable
) -> int:
    """Build a new index beside the live one and swap it in; returns documents indexed."""
    return await search.rebuild(document_batches(sessions, loanable))
