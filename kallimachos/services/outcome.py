"""What a use case hands back: the changed objects, or the problems that stopped it.

A problem is either a library rule's refusal (with its RULES.md ID) or bad input the desk
can correct (an unknown barcode, a branch of another library).  A use case with problems
has written nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from kallimachos.domain.errors import Refusal

T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    field: tuple[str, ...] | None = None
    rule: str | None = None

    @classmethod
    def from_refusal(cls, refusal: Refusal, field: str | None = None) -> Problem:
        where = field or refusal.field
        return cls(
            code=refusal.code.value,
            message=refusal.message,
            field=("input", where) if where else None,
            rule=refusal.rule,
        )


def not_found(what: str, value: str, field: str) -> Problem:
    return Problem("NOT_FOUND", f"no {what} {value!r}", ("input", field))


def invalid(message: str, field: str) -> Problem:
    return Problem("INVALID_INPUT", message, ("input", field))


def forbidden(message: str) -> Problem:
    return Problem("FORBIDDEN", message)


@dataclass
class Outcome(Generic[T]):
    value: T | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class Abort(Exception):
    """Raised inside a unit of work to roll everything back and report problems."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = list(problems)
