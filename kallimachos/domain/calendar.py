"""When a library is open, and counting the days it is open ("working days").

A library (or one of its branches) is closed on its weekly closed days, on the public holidays
of its country in the categories its policy names, on its annual closures (30 January,
17 November, a branch's patron saint), on its one-off closures and during an announced
inventory closure (AEG-9). Every other day is a working day.

The public holidays come from a callable ``year -> frozenset[date]`` so that the domain stays
standard-library only; ``kallimachos.services.holiday_data`` builds it from the ``holidays``
package (Orthodox Easter included).

A calendar built for a branch honours closures listed for that branch; a calendar built for
the whole library (``branch=None``) honours only closures that name no branch.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from kallimachos.domain.policy import WEEKDAYS, CalendarPolicy, InventoryPolicy, MemberLibrary

__all__ = ["LibraryCalendar", "NoOpenDay", "PublicHolidays"]

PublicHolidays = Callable[[int], frozenset[date]]
"""The public holidays of one year, e.g. ``public_holidays_for("GR", ("public",))``."""

_SEARCH_LIMIT = timedelta(days=3 * 366)  # a search for an open day gives up after this
_ONE_DAY = timedelta(days=1)


class NoOpenDay(ValueError):
    """No open day was found within three years: the calendar data is wrong."""


class LibraryCalendar:
    """The opening calendar of one library, or of one of its branches.

    **Parameters:**

    * **policy** - the library's ``[calendar]`` section.
    * **public_holidays** - the public holidays of a year (in the policy's categories).
    * **branch** - the branch whose own closures apply; ``None`` for library-wide closures only.
    * **inventory** - the library's ``[inventory]`` section: its announced closures close it too.
    """

    __slots__ = ("_closed_weekdays", "_holidays", "_per_year", "branch", "inventory", "policy")

    def __init__(
        self,
        policy: CalendarPolicy,
        public_holidays: PublicHolidays,
        branch: str | None = None,
        *,
        inventory: InventoryPolicy | None = None,
    ) -> None:
        self.policy = policy
        self.branch = branch
        self.inventory = inventory
        self._holidays = public_holidays
        self._closed_weekdays = frozenset(WEEKDAYS.index(d) for d in policy.closed_weekdays)
        self._per_year: dict[int, frozenset[date]] = {}

    @classmethod
    def for_library(
        cls, library: MemberLibrary, public_holidays: PublicHolidays, branch: str | None = None
    ) -> LibraryCalendar:
        """The calendar of ``library`` (or of its ``branch``), inventory closures included."""
        if branch is not None and branch not in library.branch_codes:
            raise ValueError(f"{library.code} has no branch {branch!r}")
        return cls(library.calendar, public_holidays, branch, inventory=library.inventory)

    def __repr__(self) -> str:
        country = self.policy.holidays_country
        return f"LibraryCalendar(country={country!r}, branch={self.branch!r})"

    # --- open or closed ---------------------------------------------------------------------

    def is_open(self, day: date) -> bool:
        """Is the library open on ``day``?"""
        return day.weekday() not in self._closed_weekdays and day not in self._closed_in(day.year)

    def next_open_day(self, day: date) -> date:
        """``day`` itself if the library is open then, else the first open day after it."""
        return self._search(day, _ONE_DAY)

    def previous_open_day(self, day: date) -> date:
        """``day`` itself if the library is open then, else the last open day before it."""
        return self._search(day, -_ONE_DAY)

    # --- counting working days --------------------------------------------------------------

    def add_working_days(self, day: date, n: int) -> date:
        """The ``n``-th open day after ``day`` (before it when ``n`` is negative).

        ``day`` itself is never counted, so seven working days from a Friday recall is the
        seventh open day after that Friday. ``n == 0`` returns ``day`` unchanged.
        """
        step = _ONE_DAY if n >= 0 else -_ONE_DAY
        current = day
        for _ in range(abs(n)):
            current = self._search(current + step, step)
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """How many open days fall after ``start`` up to and including ``end``.

        Negative when ``end`` is before ``start``. For open days ``a`` and ``b``,
        ``add_working_days(a, working_days_between(a, b)) == b``.
        """
        if end < start:
            return -self.working_days_between(end, start)
        span = (end - start).days
        return sum(1 for offset in range(1, span + 1) if self.is_open(start + timedelta(offset)))

    # --- internals --------------------------------------------------------------------------

    def _search(self, day: date, step: timedelta) -> date:
        current = day
        while not self.is_open(current):
            current += step
            if abs(current - day) > _SEARCH_LIMIT:
                raise NoOpenDay(f"no open day within three years of {day} ({self!r})")
        return current

    def _applies(self, branches: tuple[str, ...]) -> bool:
        return not branches or self.branch in branches

    def _closed_in(self, year: int) -> frozenset[date]:
        """Every closed date of ``year`` except the weekly closed days."""
        if (cached := self._per_year.get(year)) is not None:
            return cached
        closed = set(self._holidays(year))
        for annual in self.policy.annual_closures:
            if self._applies(annual.branches) and (on := annual.on(year)) is not None:
                closed.add(on)
        spans = [(c.start, c.end) for c in self.policy.closures if self._applies(c.branches)]
        if self.inventory is not None:
            closures = self.inventory.closures
            spans += [(c.start, c.end) for c in closures if self._applies(c.branches)]
        first, last = date(year, 1, 1), date(year, 12, 31)
        for start, end in spans:
            current = max(start, first)
            while current <= min(end, last):
                closed.add(current)
                current += _ONE_DAY
        result = frozenset(closed)
        self._per_year[year] = result
        return result
