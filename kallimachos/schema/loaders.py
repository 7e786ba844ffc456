"""Per-request dataloaders: one SQL statement per batch, results in key order.

Each batch opens its own session (an ``AsyncSession`` must not be shared by concurrent
tasks) and loaders are built per request inside the running event loop, so no cache
outlives a request or leaks between actors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import cached_property
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
    """The loaders of one request, each built on first use (most requests need one or two)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    def _loader(
        self,
        fetch: Callable[[AsyncSession, Sequence[K]], Awaitable[dict[K, V]]],
        missing: Callable[[], V | None] = lambda: None,
    ) -> DataLoader[K, V | None]:
        return DataLoader(load_fn=_Batch(self._sessions, fetch, missing))

    @cached_property
    def library(self) -> DataLoader[int, Library | None]:
        return self._loader(queries.libraries_by_id)

    @cached_property
    def branch(self) -> DataLoader[int, Branch | None]:
        return self._loader(queries.branches_by_id)

    @cached_property
    def branches_of_library(self) -> DataLoader[int, list[Branch] | None]:
        return self._loader(queries.branches_by_library, missing=list)

    @cached_property
    def patron(self) -> DataLoader[int, Patron | None]:
        return self._loader(queries.patrons_by_id)

    @cached_property
    def work(self) -> DataLoader[int, Work | None]:
        return self._loader(queries.works_by_id)

    @cached_property
    def items_of_work(self) -> DataLoader[int, list[ItemView] | None]:
        return self._loader(queries.items_by_work, missing=list)

    @cached_property
    def item(self) -> DataLoader[int, ItemView | None]:
        return self._loader(queries.item_views_by_id)

    @cached_property
    def records_of_work(self) -> DataLoader[int, list[BibRecord] | None]:
        return self._loader(queries.records_by_work, missing=list)

    @cached_property
    def library_by_code(self) -> DataLoader[str, Library | None]:
        return self._loader(queries.libraries_by_code)

    @cached_property
    def branch_by_code(self) -> DataLoader[str, Branch | None]:
        return self._loader(queries.branches_by_code)
