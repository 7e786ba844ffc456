"""Per-request dataloaders: one SQL statement per batch, results in key order.

Each batch opens its own session (an ``AsyncSession`` must not be shared by concurrent
tasks) and loaders are built per request inside the running event loop, so no cache
outlives a request or leaks between actors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader

from kallimachos.db import queries
from kallimachos.db.models import BibRecord, Branch, Library, Patron, Work
from kallimachos.db.queries import ItemView

K = TypeVar("K")
V = TypeVar("V")


class _Batch(Generic[K, V]):
    """Adapts a ``(session, keys) -> {key: value}`` query into a dataloader batch function."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        fetch: Callable[[AsyncSession, Sequence[K]], Awaitable[dict[K, V]]],
        missing: Callable[[], V | None] = lambda: None,
    ) -> None:
        self.sessions = sessions
        self.fetch = fetch
        self.missing = missing

    async def __call__(self, keys: list[K]) -> list[V | None]:
        async with self.sessions() as session:
            found = await self.fetch(session, keys)
        return [found.get(key, self.missing()) for key in keys]


class Loaders:
    """The loaders of one request."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.library = DataLoader[int, Library | None](
            load_fn=_Batch(sessions, queries.libraries_by_id)
        )
        self.branch = DataLoader[int, Branch | None](
            load_fn=_Batch(sessions, queries.branches_by_id)
        )
        self.branches_of_library = DataLoader[int, list[Branch] | None](
            load_fn=_Batch(sessions, queries.branches_by_library, missing=list)
        )
        self.patron = DataLoader[int, Patron | None](
            load_fn=_Batch(sessions, queries.patrons_by_id)
        )
        self.work = DataLoader[int, Work | None](load_fn=_Batch(sessions, queries.works_by_id))
        self.items_of_work = DataLoader[int, list[ItemView] | None](
            load_fn=_Batch(sessions, queries.items_by_work, missing=list)
        )
        self.item = DataLoader[int, ItemView | None](
            load_fn=_Batch(sessions, queries.item_views_by_id)
        )
        self.records_of_work = DataLoader[int, list[BibRecord] | None](
            load_fn=_Batch(sessions, queries.records_by_work, missing=list)
        )
