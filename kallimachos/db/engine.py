"""Engine and session factories for SQLite (embedded) and PostgreSQL.

SQLite gets a busy timeout, foreign keys and ``BEGIN IMMEDIATE`` transactions, so that
concurrent writers are serialised instead of failing half-way (DESIGN: "serialised
transactions on SQLite").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util.concurrency import await_


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """Create the async engine for ``url`` with the per-dialect settings applied."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    engine = create_async_engine(url, echo=echo, pool_size=10, max_overflow=20)
    _ping_on_checkout(engine)
    return engine


def _ping_on_checkout(engine: AsyncEngine) -> None:
    """Check each pooled PostgreSQL connection before use, in one round trip.

    SQLAlchemy's ``pool_pre_ping`` wraps its ping in ``BEGIN``/``ROLLBACK`` for pgbouncer's
    transaction mode: three round trips per checkout, about a tenth of a search page's
    time (docs/performance.md).  A dead connection raises ``DisconnectionError`` here, and
    the pool replaces it with a fresh one before the request sees it (the documented
    pessimistic-disconnect recipe), so a restarted server still costs no failed request.
    """

    @event.listens_for(engine.sync_engine, "checkout")
    def ping(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        driver = getattr(dbapi_connection, "_connection", None)  # asyncpg's own connection
        try:
            if driver is None:
                dbapi_connection.ping()
            else:
                await_(driver.fetchrow(";"))
        except Exception as exc:
            raise DisconnectionError(f"pooled connection is gone: {exc}") from exc


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)
