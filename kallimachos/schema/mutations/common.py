"""What every mutation shares: ``UserError`` and reading global IDs from input.

Refusals are data, not exceptions: a payload carries ``userErrors`` with a stable ``code``,
a message for the desk, the input ``field`` path and, when a library rule refused, its
RULES.md ``rule`` ID.  A mutation with user errors has changed nothing.
"""

from __future__ import annotations

from datetime import date

import strawberry
from strawberry import relay

from kallimachos.schema.ids import db_id
from kallimachos.services.outcome import Abort, Problem, invalid


@strawberry.type(description="Why a mutation did nothing; `rule` names the library rule.")
class UserError:
    code: str
    message: str
    field: list[str] | None
    rule: str | None

    @classmethod
    def of(cls, problem: Problem) -> UserError:
        return cls(
            code=problem.code,
            message=problem.message,
            field=list(problem.field) if problem.field else None,
            rule=problem.rule,
        )


def user_errors(problems: list[Problem]) -> list[UserError]:
    return [UserError.of(p) for p in problems]


def node_id(value: strawberry.ID | str, expected: str, field: str) -> int:
    """The database id inside a global ID of type ``expected``; a user error otherwise."""
    try:
        type_name, raw = relay.from_base64(str(value))
    except Exception as exc:
        raise Abort(invalid(f"{value!r} is not a global ID", field)) from exc
    number = db_id(raw)
    if type_name != expected or number is None:
        raise Abort(invalid(f"{value!r} is not a {expected} ID", field))
    return number


def text(value: str, field: str, *, max_length: int = 64) -> str:
    """A trimmed, non-empty, bounded code or identifier from input."""
    cleaned = value.strip()
    if not cleaned or len(cleaned) > max_length:
        raise Abort(invalid(f"{field} must be 1-{max_length} characters", field))
    return cleaned


def iso_date(value: str | None, field: str) -> date | None:
    """An optional ISO date (YYYY-MM-DD) from input."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise Abort(invalid(f"{value!r} is not a date like 2027-01-31", field)) from exc
