"""Public holidays from the ``holidays`` package, for the domain's opening calendars.

The domain asks for "the public holidays of a year" through a plain callable
(:data:`kallimachos.domain.calendar.PublicHolidays`); this adapter answers it for a country and
the holiday categories a library's policy says close it (``calendar.holiday_categories``).
Greece and Cyprus follow the Orthodox Easter, and Greek Labour Day moves when it collides with
Easter (4 May 2027). Each year is computed once per process.
"""

from __future__ import annotations

from datetime import date
from functools import cache

import holidays

from kallimachos.domain.calendar import LibraryCalendar, PublicHolidays
from kallimachos.domain.policy import MemberLibrary

__all__ = ["calendar_for", "public_holidays_for"]

# Holiday names depend on the process locale unless a language is given; we only use the
# dates, but pin the language so that any name we log is the same everywhere.
_LANGUAGE = "en_US"


@cache
def public_holidays_for(country: str, categories: tuple[str, ...]) -> PublicHolidays:
    """The holidays of ``country`` in ``categories``, as ``year -> frozenset[date]``.

    The same function (and its per-year cache) is returned for the same arguments.
    """
    # Fail now, not at the first lookup, on an unknown country or category.
    holidays.country_holidays(country, categories=categories, language=_LANGUAGE)

    @cache
    def for_year(year: int) -> frozenset[date]:
        found = holidays.country_holidays(
            country, years=year, categories=categories, language=_LANGUAGE
        )
        return frozenset(found.keys())

    return for_year


def calendar_for(library: MemberLibrary, branch: str | None = None) -> LibraryCalendar:
    """The opening calendar of ``library`` (or one of its branches) with real holidays."""
    policy = library.calendar
    holidays_of = public_holidays_for(policy.holidays_country, policy.holiday_categories)
    return LibraryCalendar.for_library(library, holidays_of, branch)
