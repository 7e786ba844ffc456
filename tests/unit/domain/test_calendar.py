"""Working days (RULES.md, "Working days"): Monday-Friday minus the country's public holidays
(Greece, Cyprus; Orthodox Easter) minus the library's own closures, per branch."""

from datetime import date

import pytest

from kallimachos.domain.calendar import LibraryCalendar, NoOpenDay
from kallimachos.domain.policy import Closure, InventoryClosure, MemberLibrary
from kallimachos.services.holiday_data import calendar_for, public_holidays_for

from .builders import with_section


@pytest.mark.parametrize(
    ("day", "is_open"),
    [
        pytest.param(date(2027, 4, 29), True, id="holy-thursday-open"),
        pytest.param(date(2027, 4, 30), False, id="good-friday"),
        pytest.param(date(2027, 5, 3), False, id="easter-monday-2027"),
        pytest.param(date(2027, 5, 4), False, id="labour-day-moved-off-easter-2027"),
        pytest.param(date(2027, 5, 5), True, id="wednesday-after"),
        pytest.param(date(2024, 5, 1), True, id="labour-day-2024-moved-so-1-may-open"),
        pytest.param(date(2024, 5, 7), False, id="labour-day-2024-on-7-may"),
        pytest.param(date(2026, 2, 23), False, id="green-monday-2026"),
        pytest.param(date(2026, 6, 1), False, id="pentecost-monday-2026"),
        pytest.param(date(2026, 3, 25), False, id="independence-day"),
        pytest.param(date(2026, 3, 28), False, id="saturday"),
    ],
)
def test_working_days_gr_orthodox_easter_and_labour_day_moved(
    uoc: MemberLibrary, day: date, is_open: bool
) -> None:
    assert calendar_for(uoc, "UOC-RET").is_open(day) is is_open


@pytest.mark.parametrize(
    ("day", "cut_open", "uoc_open"),
    [
        pytest.param(date(2027, 4, 1), False, True, id="cyprus-national-day-1-april"),
        pytest.param(date(2026, 10, 1), False, True, id="cyprus-independence-day"),
        pytest.param(date(2026, 4, 14), True, True, id="cy-easter-tuesday-is-bank-only"),
        pytest.param(date(2026, 1, 30), True, False, id="three-hierarchs-greek-only"),
        pytest.param(date(2027, 5, 4), True, False, id="gr-labour-day-observed-only"),
    ],
)
def test_working_days_cy_national_days_close_cut_not_uoc(
    cut: MemberLibrary, uoc: MemberLibrary, day: date, cut_open: bool, uoc_open: bool
) -> None:
    assert calendar_for(cut, "CUT").is_open(day) is cut_open
    assert calendar_for(uoc, "UOC-HER").is_open(day) is uoc_open


@pytest.mark.parametrize(
    ("branch", "day", "is_open"),
    [
        pytest.param("UOC-HER", date(2026, 11, 11), False, id="saint-minas-heraklion"),
        pytest.param("UOC-RET", date(2026, 11, 11), True, id="rethymno-open"),
        pytest.param(None, date(2026, 11, 11), True, id="library-wide-view-open"),
        pytest.param("UOC-RET", date(2026, 11, 17), False, id="polytechnic-17-nov"),
        pytest.param(None, date(2027, 11, 17), False, id="polytechnic-every-year"),
    ],
)
def test_working_days_annual_closures_per_branch(
    uoc: MemberLibrary, branch: str | None, day: date, is_open: bool
) -> None:
    assert calendar_for(uoc, branch).is_open(day) is is_open


@pytest.mark.parametrize(
    ("day", "next_open", "previous_open"),
    [
        pytest.param(date(2027, 5, 5), date(2027, 5, 5), date(2027, 5, 5), id="open-day-itself"),
        pytest.param(date(2027, 4, 30), date(2027, 5, 5), date(2027, 4, 29), id="easter-2027"),
        pytest.param(date(2026, 2, 14), date(2026, 2, 16), date(2026, 2, 13), id="saturday"),
        pytest.param(date(2025, 12, 25), date(2025, 12, 29), date(2025, 12, 24), id="christmas"),
    ],
)
def test_working_days_next_and_previous_open_day(
    uoc: MemberLibrary, day: date, next_open: date, previous_open: date
) -> None:
    calendar = calendar_for(uoc, "UOC-HER")
    assert calendar.next_open_day(day) == next_open
    assert calendar.previous_open_day(day) == previous_open


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        pytest.param(date(2027, 4, 28), 7, date(2027, 5, 12), id="across-easter-2027"),
        pytest.param(date(2027, 4, 29), 1, date(2027, 5, 5), id="one-day-skips-five"),
        pytest.param(date(2027, 5, 5), -1, date(2027, 4, 29), id="backwards"),
        pytest.param(date(2027, 5, 1), 0, date(2027, 5, 1), id="zero-is-the-day"),
        pytest.param(date(2026, 3, 20), 5, date(2026, 3, 30), id="weekend-and-25-march"),
    ],
)
def test_working_days_add_working_days_gr(
    uoc: MemberLibrary, start: date, n: int, expected: date
) -> None:
    assert calendar_for(uoc, "UOC-HER").add_working_days(start, n) == expected


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param(date(2027, 4, 28), date(2027, 5, 12), 7, id="easter-2027"),
        pytest.param(date(2027, 5, 12), date(2027, 4, 28), -7, id="reversed"),
        pytest.param(date(2027, 5, 3), date(2027, 5, 3), 0, id="same-day"),
        pytest.param(date(2027, 3, 31), date(2027, 4, 2), 1, id="cy-1-april-closed"),
    ],
)
def test_working_days_between_counts_open_days_after_start(
    cut: MemberLibrary, uoc: MemberLibrary, start: date, end: date, expected: int
) -> None:
    library = cut if start.month == 3 else uoc
    calendar = calendar_for(library, library.branch_codes[0])
    assert calendar.working_days_between(start, end) == expected
    if calendar.is_open(start) and calendar.is_open(end):
        assert calendar.add_working_days(start, expected) == end


def test_working_days_one_off_and_inventory_closures_close_their_branches(
    aeg: MemberLibrary,
) -> None:
    closure = Closure(start=date(2026, 12, 28), end=date(2026, 12, 31), name="Winter break")
    inventory = InventoryClosure(
        announced_on=date(2027, 3, 1),
        start=date(2027, 7, 1),
        end=date(2027, 7, 15),
        branches=("AEG-SAM",),
    )
    library = with_section(aeg, "calendar", closures=(closure,))
    library = with_section(library, "inventory", closures=(inventory,))

    samos, chios = calendar_for(library, "AEG-SAM"), calendar_for(library, "AEG-CHI")
    assert not samos.is_open(date(2026, 12, 29))
    assert not chios.is_open(date(2026, 12, 29))
    assert not samos.is_open(date(2027, 7, 7))
    assert chios.is_open(date(2027, 7, 7))
    assert samos.next_open_day(date(2027, 7, 1)) == date(2027, 7, 16)


def test_working_days_calendar_errors(uoc: MemberLibrary) -> None:
    with pytest.raises(ValueError, match="no branch 'AEG-SAM'"):
        calendar_for(uoc, "AEG-SAM")
    forever = Closure(start=date(2026, 1, 1), end=date(2032, 1, 1), name="Rebuilt")
    closed = LibraryCalendar(
        with_section(uoc, "calendar", closures=(forever,)).calendar,
        public_holidays_for("GR", ("public",)),
    )
    with pytest.raises(NoOpenDay):
        closed.next_open_day(date(2026, 6, 1))
    assert "country='GR'" in repr(closed)


def test_working_days_holiday_adapter_uses_the_policy_categories() -> None:
    public = public_holidays_for("CY", ("public",))
    assert public is public_holidays_for("CY", ("public",))
    assert date(2026, 4, 14) not in public(2026)
    assert date(2026, 4, 14) in public_holidays_for("CY", ("public", "bank"))(2026)
    assert date(2026, 12, 24) in public_holidays_for("GR", ("half_day",))(2026)
    with pytest.raises(NotImplementedError):
        public_holidays_for("XX", ("public",))
