"""Business time.  Rules never read the system clock: they receive ``now``.

The service asks a :class:`Clock` once per request and passes the instant down.  In
sandbox mode (``KALLIMACHOS_CLOCK_OVERRIDE=1``) a request may name its own business time
with the ``X-Kallimachos-Now`` header, so tests and demos can live a due date through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


class InvalidBusinessTime(ValueError):
    """The requested business time is not an ISO 8601 datetime with a timezone."""


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class SystemClock:
    """The real clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class FixedClock:
    """A clock stopped at one instant (tests, sandbox requests)."""

    instant: datetime

    def __post_init__(self) -> None:
        if self.instant.tzinfo is None:
            raise InvalidBusinessTime("a fixed clock needs a timezone-aware datetime")

    def now(self) -> datetime:
        return self.instant


def parse_business_time(value: str) -> datetime:
    """Parse an ``X-Kallimachos-Now`` value; a timezone is required."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidBusinessTime(f"not an ISO 8601 datetime: {value!r}") from exc
    if parsed.tzinfo is None:
        raise InvalidBusinessTime(f"business time needs a timezone offset: {value!r}")
    return parsed.astimezone(UTC)
