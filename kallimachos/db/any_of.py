"""``column IN (values)`` as one array parameter on PostgreSQL.

SQLAlchemy expands ``in_()`` into one bound parameter per value: thousands per statement in
the importer and the drain, each rendered and cast in Python, and every list length a new
statement text that PostgreSQL parses and plans again.  ``column = ANY(:values)`` sends one
array and keeps the statement text the same, so the prepared statement is reused.  Other
engines get ``IN``; both select exactly the rows whose value is in the list.

:func:`any_of` binds the values into the expression (statements built per call);
:func:`any_of_bound` leaves a named parameter, for statements built once and run with
``{name: values}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam, literal
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

__all__ = ["any_of", "any_of_bound", "on_postgresql"]


def on_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def any_of(
    session: AsyncSession,
    column: ColumnElement[Any] | InstrumentedAttribute[Any],
    values: Iterable[Any],
) -> ColumnElement[bool]:
    """``column`` is one of ``values``: ``= ANY(array)`` on PostgreSQL, ``IN`` elsewhere."""
    listed = list(values)
    if not on_postgresql(session):
        return column.in_(listed)
    expression = column.expression if isinstance(column, InstrumentedAttribute) else column
    return expression == any_(literal(listed, ARRAY(expression.type)))


def any_of_bound(column: ColumnElement[Any], name: str, *, postgresql: bool) -> ColumnElement[bool]:
    """``column`` is one of the values later given as parameter ``name``."""
    if not postgresql:
        return column.in_(bindparam(name, expanding=True))
    return column == any_(bindparam(name, type_=ARRAY(column.type)))
