"""Embedded search: an SQLite FTS5 index, no server to install."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from kallimachos.search.backend import SearchHealth


class EmbeddedSearch:
    """Catalogue search kept in an SQLite file (the database file itself by default)."""

    engine = "embedded-fts5"

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        target = str(self.path) if self.path is not None else ":memory:"
        return sqlite3.connect(target, timeout=30)

    def _probe(self) -> SearchHealth:
        with self._connect() as conn:
            conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_probe USING fts5(x)")
            version = conn.execute("SELECT sqlite_version()").fetchone()[0]
        return SearchHealth(ok=True, engine=self.engine, version=f"SQLite {version} FTS5")

    async def ping(self) -> SearchHealth:
        try:
            return await asyncio.to_thread(self._probe)
        except sqlite3.Error as exc:
            return SearchHealth(ok=False, engine=self.engine, detail=str(exc))

    async def close(self) -> None:
        return None
