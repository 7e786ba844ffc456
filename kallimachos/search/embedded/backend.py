"""Embedded search: an SQLite FTS5 index, no server to install.

It mirrors the OpenSearch index (docs/search.md) table for field:

``search_works``  FTS5 virtual table, ``rowid`` = work id; columns title, alternate_titles,
                  authors, subjects, publisher hold the *folded tokens* of each field
                  (:func:`kallimachos.search.normalise.tokens`, joined by spaces), so matching
                  follows the same folding as the OpenSearch analyzer.  The tokenizer is
                  ``unicode61`` with ``'``, ``.`` and ``_`` as token characters, so that it
                  re-splits the stored text exactly where ``tokens`` did.
``search_meta``   one row per work: language, material type, year, and the JSON list of its
                  ``search_keys`` (to delete them without a secondary index).
``search_keys``   exact-match keys -> work: ``isbn:<digits>``, ``issn:<NNNN-NNNC>``,
                  ``title:<folded title tokens>`` for the title and each alternate title
                  (the exact-title rule).
``search_libs``   one row per (work, library) with held/loanable/available flags: the
                  filter and facet arrays of the OpenSearch document.

The tables may live in the application's SQLite file (other tables are written there with
SQLAlchemy): every write is a short ``BEGIN IMMEDIATE`` transaction, the busy timeout is 30 s,
and all names start with ``search_``.  ``rebuild`` fills ``search_*__next`` tables and swaps
them in with ``DROP`` + ``ALTER TABLE ... RENAME`` in one transaction, so readers see either
the old index or the new one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
from collections.abc import AsyncIterable, Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from kallimachos.search.backend import (
    FACET_FIELDS,
    Availability,
    FacetValue,
    SearchHealth,
    SearchQuery,
    SearchResult,
    SearchUnavailable,
    WorkDocument,
)
from kallimachos.search.normalise import tokens
from kallimachos.search.opensearch.query import (
    FACET_SIZE,
    TextPlan,
    check_window,
    document_isbns,
    document_issns,
    document_title_keys,
    interpret_text,
    isbn_filter_keys,
)

T = TypeVar("T")
log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 30
MAX_READERS = 4
WRITE_CHUNK = 500  # documents per write transaction: keeps the write lock short
# BM25 column weights, in column order (as on OpenSearch):
# title^3, alternate_titles^3, authors^2, subjects, publisher.
FTS_COLUMNS = ("title", "alternate_titles", "authors", "subjects", "publisher")
BM25_WEIGHTS = (3.0, 3.0, 2.0, 1.0, 1.0)
TABLES = ("search_works", "search_meta", "search_keys", "search_libs")
NEXT = "__next"
_FTS_TOKENIZE = "unicode61 remove_diacritics 0 tokenchars '''._'"


def _schema(suffix: str) -> list[str]:
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS search_works{suffix} USING fts5("
        f'{", ".join(FTS_COLUMNS)}, tokenize="{_FTS_TOKENIZE}")',
        f"CREATE TABLE IF NOT EXISTS search_meta{suffix} ("
        "work_id INTEGER PRIMARY KEY, language TEXT, material_type TEXT NOT NULL, "
        "year INTEGER, keys TEXT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS search_keys{suffix} ("
        "key TEXT NOT NULL, work_id INTEGER NOT NULL, PRIMARY KEY (key, work_id)) WITHOUT ROWID",
        f"CREATE TABLE IF NOT EXISTS search_libs{suffix} ("
        "work_id INTEGER NOT NULL, library TEXT NOT NULL, held INTEGER NOT NULL, "
        "loanable INTEGER NOT NULL, available INTEGER NOT NULL, "
        "PRIMARY KEY (work_id, library)) WITHOUT ROWID",
    ]


def _folded(*parts: str | None) -> str:
    return " ".join(t for part in parts if part for t in tokens(part))


def _lib_rows(
    work_id: int, held: Sequence[str], loanable: Sequence[str], available: Sequence[str]
) -> list[tuple[int, str, int, int, int]]:
    held_s, loanable_s, available_s = set(held), set(loanable), set(available)
    return [
        (work_id, lib, int(lib in held_s), int(lib in loanable_s), int(lib in available_s))
        for lib in sorted(held_s | loanable_s | available_s)
    ]


@dataclass(frozen=True)
class _Rows:
    """One document as table rows, prepared outside any transaction."""

    work_id: int
    fts: tuple[int, str, str, str, str, str]
    meta: tuple[int, str | None, str, int | None, str]
    keys: list[tuple[str, int]]
    libs: list[tuple[int, str, int, int, int]]

    @classmethod
    def of(cls, doc: WorkDocument) -> _Rows:
        keys = [f"isbn:{isbn}" for isbn in document_isbns(doc)]
        keys += [f"issn:{issn}" for issn in document_issns(doc)]
        keys += [f"title:{key}" for key in document_title_keys(doc)]
        wid = doc.work_id
        return cls(
            work_id=wid,
            fts=(
                wid,
                _folded(doc.title),
                _folded(*doc.alternate_titles),
                _folded(*doc.authors),
                _folded(*doc.subjects),
                _folded(doc.publisher),
            ),
            meta=(wid, doc.language or None, doc.material_type, doc.year, json.dumps(keys)),
            keys=[(key, wid) for key in keys],
            libs=_lib_rows(wid, doc.holding_libraries, doc.loanable_at, doc.available_at),
        )


class _Pool:
    """A few SQLite connections, each used by one thread at a time."""

    def __init__(self, factory: Callable[[], sqlite3.Connection], size: int) -> None:
        self._factory = factory
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._all: list[sqlite3.Connection] = []

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        self._slots.acquire()
        try:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = self._factory()
                with self._lock:
                    self._all.append(conn)
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.rollback()
                with self._lock:
                    self._idle.append(conn)
        finally:
            self._slots.release()

    def close(self) -> None:
        with self._lock:
            conns, self._all, self._idle = self._all, [], []
        for conn in conns:
            conn.close()


class EmbeddedSearch:
    """Catalogue search kept in an SQLite file (the database file itself by default)."""

    engine = "embedded-fts5"

    def __init__(self, path: Path | None) -> None:
        """``path=None``: an in-memory index, kept open for this object's lifetime."""
        self.path = path
        # One :memory: database is one connection; a file can serve a few readers at once.
        self._pool = _Pool(self._connect, 1 if path is None else MAX_READERS)
        self._rebuilding = asyncio.Lock()
        self._ready = False  # ensure_index ran (writes create the tables when missing)

    # ------------------------------------------------------------------ plumbing
    def _connect(self) -> sqlite3.Connection:
        target = str(self.path) if self.path is not None else ":memory:"
        conn = sqlite3.connect(
            target, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
        if self.path is not None:
            # As the application does (ADR 0004): readers never block the writer.
            with suppress(sqlite3.OperationalError):
                conn.execute("PRAGMA journal_mode = WAL")
        return conn

    def _where(self) -> str:
        return str(self.path) if self.path is not None else "memory"

    async def _run(self, action: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        def work() -> T:
            with self._pool.connection() as conn:
                return fn(conn)

        try:
            return await asyncio.to_thread(work)
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "no such table" in text and "search_" in text:
                raise SearchUnavailable(
                    f"embedded search index is missing in {self._where()} "
                    "(run `kallimachos index rebuild`)"
                ) from exc
            raise SearchUnavailable(
                f"embedded search at {self._where()} cannot serve {action}: {text}"
            ) from exc
        except sqlite3.DatabaseError as exc:
            if type(exc) is not sqlite3.DatabaseError:  # integrity/programming errors are bugs
                raise
            raise SearchUnavailable(
                f"embedded search at {self._where()} cannot serve {action}: {exc}"
            ) from exc

    @staticmethod
    @contextmanager
    def _write(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (e.g. disk full)
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # ------------------------------------------------------------------ writes
    @staticmethod
    def _forget(conn: sqlite3.Connection, work_ids: list[tuple[int]], suffix: str = "") -> None:
        """Delete every row of these works (within the caller's transaction)."""
        conn.executemany(
            f"DELETE FROM search_keys{suffix} WHERE work_id = ?1 AND key IN "
            f"(SELECT value FROM json_each((SELECT keys FROM search_meta{suffix} "
            "WHERE work_id = ?1)))",
            work_ids,
        )
        conn.executemany(f"DELETE FROM search_libs{suffix} WHERE work_id = ?", work_ids)
        conn.executemany(f"DELETE FROM search_works{suffix} WHERE rowid = ?", work_ids)
        conn.executemany(f"DELETE FROM search_meta{suffix} WHERE work_id = ?", work_ids)

    def _store(self, conn: sqlite3.Connection, rows: list[_Rows], suffix: str = "") -> None:
        for start in range(0, len(rows), WRITE_CHUNK):
            chunk = rows[start : start + WRITE_CHUNK]
            with self._write(conn):
                self._forget(conn, [(r.work_id,) for r in chunk], suffix)
                conn.executemany(
                    f"INSERT INTO search_works{suffix} "
                    "(rowid, title, alternate_titles, authors, subjects, publisher) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [r.fts for r in chunk],
                )
                conn.executemany(
                    f"INSERT INTO search_meta{suffix} "
                    "(work_id, language, material_type, year, keys) VALUES (?, ?, ?, ?, ?)",
                    [r.meta for r in chunk],
                )
                conn.executemany(
                    f"INSERT OR IGNORE INTO search_keys{suffix} (key, work_id) VALUES (?, ?)",
                    [k for r in chunk for k in r.keys],
                )
                conn.executemany(
                    f"INSERT INTO search_libs{suffix} "
                    "(work_id, library, held, loanable, available) VALUES (?, ?, ?, ?, ?)",
                    [lib for r in chunk for lib in r.libs],
                )

    @staticmethod
    def _latest(documents: Sequence[WorkDocument]) -> list[_Rows]:
        latest = {doc.work_id: doc for doc in documents}  # the last version of a work wins
        return [_Rows.of(doc) for doc in latest.values()]

    async def ensure_index(self) -> None:
        def create(conn: sqlite3.Connection) -> None:
            with self._write(conn):
                columns = tuple(row[1] for row in conn.execute("PRAGMA table_info(search_works)"))
                if columns and columns != FTS_COLUMNS:
                    # An index of an older layout: it is derived data, so start it afresh.
                    log.warning(
                        "embedded search index in %s has an old layout; recreated empty "
                        "(run `kallimachos index rebuild`)",
                        self._where(),
                    )
                    for table in TABLES:
                        conn.execute(f"DROP TABLE IF EXISTS {table}")
                for statement in _schema(""):
                    conn.execute(statement)

        await self._run("ensure_index", create)
        self._ready = True

    async def index_works(self, documents: Sequence[WorkDocument]) -> None:
        if not documents:
            return
        rows = self._latest(documents)

        if not self._ready:
            await self.ensure_index()
        await self._run("index_works", lambda conn: self._store(conn, rows))

    async def update_availability(self, updates: Sequence[Availability]) -> None:
        if not updates:
            return
        latest = {u.work_id: u for u in updates}
        ids = [(wid,) for wid in sorted(latest)]
        libs = [
            lib
            for u in latest.values()
            for lib in _lib_rows(u.work_id, u.holding_libraries, u.loanable_at, u.available_at)
        ]

        if not self._ready:
            await self.ensure_index()

        def update(conn: sqlite3.Connection) -> None:
            with self._write(conn):
                conn.executemany("DELETE FROM search_libs WHERE work_id = ?", ids)
                # Works not indexed yet are skipped: their whole document comes later.
                conn.executemany(
                    "INSERT INTO search_libs (work_id, library, held, loanable, available) "
                    "SELECT ?1, ?2, ?3, ?4, ?5 "
                    "WHERE EXISTS (SELECT 1 FROM search_meta WHERE work_id = ?1)",
                    libs,
                )

        await self._run("update_availability", update)

    async def delete_works(self, work_ids: Sequence[int]) -> None:
        if not work_ids:
            return
        ids = [(wid,) for wid in sorted(set(work_ids))]

        if not self._ready:
            await self.ensure_index()

        def delete(conn: sqlite3.Connection) -> None:
            with self._write(conn):
                self._forget(conn, ids)

        await self._run("delete_works", delete)

    async def refresh(self) -> None:
        """Nothing to do: a committed write is visible to the next search."""
        return None

    async def rebuild(self, documents: AsyncIterable[Sequence[WorkDocument]]) -> int:
        async with self._rebuilding:

            def prepare(conn: sqlite3.Connection) -> None:
                with self._write(conn):
                    for table in TABLES:  # leftovers of an interrupted rebuild
                        conn.execute(f"DROP TABLE IF EXISTS {table}{NEXT}")
                    for statement in _schema(NEXT):
                        conn.execute(statement)

            def discard(conn: sqlite3.Connection) -> None:
                with self._write(conn):
                    for table in TABLES:
                        conn.execute(f"DROP TABLE IF EXISTS {table}{NEXT}")

            def swap(conn: sqlite3.Connection) -> None:
                conn.execute("PRAGMA legacy_alter_table = ON")  # no schema-wide re-parse
                try:
                    with self._write(conn):
                        for table in TABLES:
                            conn.execute(f"DROP TABLE IF EXISTS {table}")
                            conn.execute(f"ALTER TABLE {table}{NEXT} RENAME TO {table}")
                finally:
                    conn.execute("PRAGMA legacy_alter_table = OFF")

            await self._run("rebuild", prepare)
            count = 0
            try:
                async for batch in documents:
                    rows = self._latest(batch)
                    if rows:
                        await self._run("rebuild", _storer(self, rows))
                        count += len(rows)
                await self._run("rebuild", swap)
            except BaseException:
                with suppress(SearchUnavailable):
                    await self._run("rebuild", discard)
                raise
            self._ready = True
            return count

    # ------------------------------------------------------------------ search
    async def search(self, query: SearchQuery) -> SearchResult:
        check_window(query)
        plan = interpret_text(query.text)
        select, params = _matching(query, plan)
        order = "work_id" if plan is None else "tier DESC, score ASC, work_id ASC"

        def run(conn: sqlite3.Connection) -> SearchResult:
            conn.execute("BEGIN")  # one snapshot for the page, the total and the facets
            try:
                conn.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS search_hits ("
                    "work_id INTEGER PRIMARY KEY, tier INTEGER NOT NULL, score REAL NOT NULL)"
                )
                conn.execute("DELETE FROM temp.search_hits")
                conn.execute(
                    f"INSERT INTO temp.search_hits (work_id, tier, score) {select}", params
                )
                total = conn.execute("SELECT count(*) FROM temp.search_hits").fetchone()[0]
                page = [
                    row[0]
                    for row in conn.execute(
                        f"SELECT work_id FROM temp.search_hits ORDER BY {order} LIMIT ? OFFSET ?",
                        (query.limit, query.offset),
                    )
                ]
                facets = _facets(conn) if query.with_facets else {}
                conn.execute("DELETE FROM temp.search_hits")
            finally:
                conn.execute("COMMIT")
            return SearchResult(total=int(total), work_ids=page, facets=facets)

        return await self._run("search", run)

    async def ping(self) -> SearchHealth:
        def probe(conn: sqlite3.Connection) -> SearchHealth:
            conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_probe USING fts5(x)")
            version = conn.execute("SELECT sqlite_version()").fetchone()[0]
            return SearchHealth(ok=True, engine=self.engine, version=f"SQLite {version} FTS5")

        try:
            return await self._run("ping", probe)
        except (SearchUnavailable, sqlite3.Error) as exc:
            return SearchHealth(ok=False, engine=self.engine, detail=str(exc))

    async def close(self) -> None:
        await asyncio.to_thread(self._pool.close)


def _storer(search: EmbeddedSearch, rows: list[_Rows]) -> Callable[[sqlite3.Connection], None]:
    """Store one rebuild batch into the ``__next`` tables."""

    def store(conn: sqlite3.Connection) -> None:
        search._store(conn, rows, NEXT)

    return store


def _in(values: Sequence[Any]) -> str:
    return "(" + ", ".join("?" for _ in values) + ")"


def _filters(query: SearchQuery) -> tuple[list[str], list[Any]]:
    """WHERE conditions over ``search_meta m`` (the OpenSearch filter clauses, in SQL)."""
    where: list[str] = []
    params: list[Any] = []
    libraries = sorted(set(query.libraries))

    def library_flag(flag: str) -> None:
        condition = f"EXISTS (SELECT 1 FROM search_libs l WHERE l.work_id = m.work_id AND l.{flag}"
        if libraries:
            condition += f" AND l.library IN {_in(libraries)}"
            params.extend(libraries)
        where.append(condition + ")")

    if libraries:
        library_flag("held")
    if query.loanable_only:
        library_flag("loanable")
    if query.available_only:
        library_flag("available")
    if query.material_types:
        values = sorted(set(query.material_types))
        where.append(f"m.material_type IN {_in(values)}")
        params.extend(values)
    if query.languages:
        values = sorted(set(query.languages))
        where.append(f"m.language IN {_in(values)}")
        params.extend(values)
    if query.year_from is not None:
        where.append("m.year >= ?")
        params.append(query.year_from)
    if query.year_to is not None:
        where.append("m.year <= ?")
        params.append(query.year_to)
    if query.isbn is not None:
        keys = [f"isbn:{k}" for k in isbn_filter_keys(query.isbn)]
        where.append(f"m.work_id IN (SELECT work_id FROM search_keys WHERE key IN {_in(keys)})")
        params.extend(keys)
    return where, params


def _fts_query(terms: Sequence[str]) -> str:
    """Every term must match, in any column (FTS5 implicit AND of quoted strings)."""
    return " ".join('"' + term.replace('"', '""') + '"' for term in terms)


def _matching(query: SearchQuery, plan: TextPlan | None) -> tuple[str, list[Any]]:
    """SELECT work_id, tier, score of every matching work (unordered)."""
    where, filter_params = _filters(query)
    condition = (" WHERE " + " AND ".join(where)) if where else ""
    if plan is None:
        return f"SELECT m.work_id, 0, 0.0 FROM search_meta m{condition}", filter_params
    parts: list[str] = []
    params: list[Any] = []
    if plan.terms:
        weights = ", ".join(str(w) for w in BM25_WEIGHTS)
        parts.append(
            "SELECT rowid AS work_id, 0 AS ident, 0 AS exact, "
            f"bm25(search_works, {weights}) AS score "
            "FROM search_works WHERE search_works MATCH ?"
        )
        params.append(_fts_query(plan.terms))
        parts.append("SELECT work_id, 0, 1, 0.0 FROM search_keys WHERE key = ?")
        params.append(f"title:{plan.title_key}")
    identifiers = [f"isbn:{k}" for k in plan.isbns] + [f"issn:{k}" for k in plan.issns]
    if identifiers:
        parts.append(f"SELECT work_id, 1, 0, 0.0 FROM search_keys WHERE key IN {_in(identifiers)}")
        params.extend(identifiers)
    hits = (
        "SELECT h.work_id AS work_id, 2 * max(h.ident) + max(h.exact) AS tier, "
        f"min(h.score) AS score FROM ({' UNION ALL '.join(parts)}) h GROUP BY h.work_id"
    )
    select = (
        f"SELECT s.work_id, s.tier, s.score FROM ({hits}) s "
        f"JOIN search_meta m ON m.work_id = s.work_id{condition}"
    )
    return select, params + filter_params


def _facets(conn: sqlite3.Connection) -> dict[str, list[FacetValue]]:
    """Counts over temp.search_hits: count desc, then value asc (years numerically); top 50."""
    queries = {
        "library": (
            "SELECT l.library, count(*) AS n FROM temp.search_hits h "
            "JOIN search_libs l ON l.work_id = h.work_id WHERE l.held "
            "GROUP BY l.library ORDER BY n DESC, l.library ASC LIMIT ?"
        ),
    }
    columns = (("language", "language"), ("materialType", "material_type"), ("year", "year"))
    for name, column in columns:
        queries[name] = (
            f"SELECT m.{column}, count(*) AS n FROM temp.search_hits h "
            f"JOIN search_meta m ON m.work_id = h.work_id WHERE m.{column} IS NOT NULL "
            f"GROUP BY m.{column} ORDER BY n DESC, m.{column} ASC LIMIT ?"
        )
    return {
        name: [
            FacetValue(str(value), int(count))
            for value, count in conn.execute(queries[name], (FACET_SIZE,))
        ]
        for name in FACET_FIELDS
    }
