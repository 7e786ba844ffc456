"""Writing many new rows at once: ``COPY`` on PostgreSQL, a multi-row ``INSERT`` elsewhere.

The importer's batch path writes thousands of records, items, keys and events per batch.
Through SQLAlchemy each row is compiled into a multi-row ``INSERT`` whose text PostgreSQL
parses and plans again for every page of rows; a binary ``COPY`` (asyncpg's
``copy_records_to_table``) skips all of that on both sides.  The stored values are the ones
the ``INSERT`` would store: columns missing from the rows get the table's Python-side
defaults, JSON columns get ``json.dumps`` text (what SQLAlchemy's JSON type sends), and the
surrogate ids come from the table's sequence in row order.  Any other engine gets the
``INSERT``.  A failure is raised as ``SQLAlchemyError``, so callers' savepoints roll back as
they do for an ``INSERT``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Column, Table, insert, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from kallimachos.db.types import NaiveDatetimeError, UtcDateTime

__all__ = ["copy_supported", "insert_rows", "next_ids"]

_Encode = Callable[[Any], Any]


class CopyFailed(SQLAlchemyError):
    """PostgreSQL refused a ``COPY`` (the driver's error is the cause)."""


async def copy_supported(session: AsyncSession) -> bool:
    """Whether this session's connection can ``COPY`` (PostgreSQL through asyncpg)."""
    connection = await session.connection()
    return connection.dialect.name == "postgresql" and connection.dialect.driver == "asyncpg"


async def next_ids(session: AsyncSession, table: Table, count: int) -> list[int]:
    """``count`` new ids from the sequence behind ``table.id``, in the order it gives them."""
    if count == 0:
        return []
    result = await session.execute(
        text(
            "select nextval(pg_get_serial_sequence(:table, 'id')) as id "
            "from generate_series(1, :count) as g order by g"
        ),
        {"table": table.name, "count": count},
    )
    return [int(value) for value in result.scalars()]


async def insert_rows(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) in order, as ``insert(table)`` would."""
    if not rows:
        return
    if not await copy_supported(session):
        await session.execute(insert(table), list(rows))
        return
    given = list(rows[0])
    defaults = [(column.name, _default(column)) for column in _defaulted(table, set(given))]
    extra = tuple(value for _, value in defaults)
    converted = [
        (index, encode)
        for index, name in enumerate(given)
        if (encode := _encoder(table.c[name])) is not _same
    ]
    values = itemgetter(*given) if len(given) > 1 else lambda row: (row[given[0]],)
    records: list[tuple[Any, ...]] = []
    for row in rows:
        record = list(values(row))
        for index, encode in converted:
            record[index] = encode(record[index])
        records.append((*record, *extra))
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    try:
        await driver.copy_records_to_table(
            table.name, records=records, columns=[*given, *(name for name, _ in defaults)]
        )
    except Exception as exc:  # asyncpg's errors; the savepoint above rolls back
        raise CopyFailed(f"COPY into {table.name} failed: {type(exc).__name__}: {exc}") from exc


def _defaulted(table: Table, given: set[str]) -> list[Column[Any]]:
    """The columns an ``INSERT`` without them would fill from a Python-side default."""
    return [
        column
        for column in table.columns
        if column.name not in given
        and column.default is not None
        and not getattr(column.default, "is_sequence", False)
    ]


def _default(column: Column[Any]) -> Any:
    default: Any = column.default
    value = default.arg(None) if default.is_callable else default.arg
    return _encoder(column)(value)


def _encoder(column: Column[Any]) -> _Encode:
    if isinstance(column.type, JSON):
        return json_text
    if isinstance(column.type, UtcDateTime):
        return _utc
    return _same


def json_text(value: Any) -> str:
    """``json.dumps(value)``, faster for the usual list of strings (same text)."""
    if type(value) is list and all(type(item) is str for item in value):
        return "[" + ", ".join(map(encode_basestring_ascii, value)) + "]"
    return json.dumps(value)


def _same(value: Any) -> Any:
    return value


def _utc(value: datetime | None) -> datetime | None:
    """What :class:`UtcDateTime` sends for a value."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(f"naive datetime {value!r} refused: pass an aware datetime")
    return value.astimezone(UTC)
