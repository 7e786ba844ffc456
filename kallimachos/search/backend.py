"""The one protocol both catalogue search engines implement.

Production uses OpenSearch (``KALLIMACHOS_OPENSEARCH_URL``); the embedded default keeps an
SQLite FTS5 index.  Both answer the same questions, and one shared contract test suite
(``tests/contract/``) runs the same cases against both, so the rest of the service never
knows which engine is behind it.

The index only decides *which works match and in what order*, plus facet counts.  Live
item status on a result page is loaded from the database, never trusted from the index.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

FACET_FIELDS = ("library", "language", "materialType", "year")


@dataclass(frozen=True)
class WorkDocument:
    """What the index knows about one work (a cluster of records)."""

    work_id: int
    title: str
    alternate_titles: tuple[str, ...] = ()  # vernacular (880) and other records' titles
    authors: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    publisher: str | None = None
    isbns: tuple[str, ...] = ()  # every ISBN-10 and ISBN-13 form, digits only (and X)
    issns: tuple[str, ...] = ()
    language: str | None = None
    material_type: str = "book"
    year: int | None = None
    holding_libraries: tuple[str, ...] = ()  # library codes with any copy
    loanable_at: tuple[str, ...] = ()  # library codes with a copy their policy lends
    available_at: tuple[str, ...] = ()  # library codes with a loanable copy on the shelf now


@dataclass(frozen=True)
class Availability:
    """A partial update after circulation: where the work is loanable/available now."""

    work_id: int
    holding_libraries: tuple[str, ...]
    loanable_at: tuple[str, ...]
    available_at: tuple[str, ...]


@dataclass(frozen=True)
class SearchQuery:
    """A catalogue search: free text plus filters, one page of works."""

    text: str | None = None
    libraries: tuple[str, ...] = ()
    loanable_only: bool = False
    available_only: bool = False
    material_types: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    isbn: str | None = None
    offset: int = 0
    limit: int = 20
    with_facets: bool = True


@dataclass(frozen=True)
class FacetValue:
    value: str
    count: int


@dataclass(frozen=True)
class SearchResult:
    total: int
    work_ids: list[int]
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchHealth:
    ok: bool
    engine: str
    version: str | None = None
    detail: str | None = None


class SearchUnavailable(Exception):
    """The search engine cannot be reached; catalogue search fails, circulation goes on."""


class SearchBackend(Protocol):
    engine: str

    async def ping(self) -> SearchHealth:
        """Report whether the engine answers, with its version."""
        ...

    async def ensure_index(self) -> None:
        """Create the index (and alias) if it does not exist yet."""
        ...

    async def index_works(self, documents: Sequence[WorkDocument]) -> None:
        """Insert or replace these works' documents."""
        ...

    async def update_availability(self, updates: Sequence[Availability]) -> None:
        """Partial update of the availability arrays (from the outbox)."""
        ...

    async def delete_works(self, work_ids: Sequence[int]) -> None:
        """Remove works that no longer exist (merged or emptied)."""
        ...

    async def refresh(self) -> None:
        """Make every write so far visible to search (tests, end of bulk load)."""
        ...

    async def rebuild(self, documents: AsyncIterable[Sequence[WorkDocument]]) -> int:
        """Build a fresh index from batches and swap it in with no downtime; returns count."""
        ...

    async def search(self, query: SearchQuery) -> SearchResult:
        """Matching work ids in rank order for one page, the total, and facet counts."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
