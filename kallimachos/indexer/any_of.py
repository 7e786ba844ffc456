"""``column IN (values)`` as one array parameter on PostgreSQL.

SQLAlchemy expands ``in_()`` into one bound parameter per value: thousands per statement in
the importer and the drain, each rendered and cast in Python, and every list length a new
statement text that PostgreSQL parses and plans again.  ``column = ANY(:values)`` sends one
array and keeps the statement text the same, so the prepared statement is reused.  Other
engines get ``IN``; both select exactly the rows whose value is in the list.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, any_, literal
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

__all__ = ["any_of"]


def any_of(
    session: AsyncSession,
    column: ColumnElement[Any] | InstrumentedAttribute[Any],
    values: Iterable[Any],
) -> ColumnElement[bool]:
    """``column`` is one of ``values``: ``= ANY(array)`` on PostgreSQL, ``IN`` elsewhere."""
    listed = list(values)
    if session.get_bind().dialect.name != "postgresql":
        return column.in_(listed)
    expression = column.expression if isinstance(column, InstrumentedAttribute) else column
    return expression == any_(literal(listed, ARRAY(expression.type)))
