"""The calendar day at a library's desk for a business instant."""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from zoneinfo import ZoneInfo

from kallimachos.domain.policy import MemberLibrary


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def library_today(library: MemberLibrary, now: datetime) -> date:
    """``now`` (aware) as a date in the library's own timezone."""
    if now.tzinfo is None:
        raise ValueError("business time must be timezone-aware")
    return now.astimezone(_zone(library.calendar.timezone)).date()
