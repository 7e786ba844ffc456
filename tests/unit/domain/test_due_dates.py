"""Due dates: loan period, limits (AEG-1, AEG-5, AEG-7, AEG-9) and open days only."""

from datetime import date

import pytest

from kallimachos.domain.due_dates import (
    AcademicPeriodMissing,
    DueDate,
    ExceptionalGrant,
    checkout_due_date,
    exceptional_refusals,
    flagged_due_date,
    inventory_declaring_lost,
    inventory_due_date,
    renewal_due_date,
)
from kallimachos.domain.errors import ExtensionNotAllowed
from kallimachos.domain.policy import InventoryClosure, ItemFlag, MemberLibrary
from kallimachos.services.holiday_data import calendar_for

from .builders import make_copy, with_section

INVENTORY = InventoryClosure(
    announced_on=date(2027, 3, 1),
    start=date(2027, 7, 5),  # a Monday
    end=date(2027, 7, 16),
    branches=("AEG-SAM",),
)


def due(
    library: MemberLibrary,
    category: str,
    today: date,
    branch: str | None = None,
    **copy: bool | str,
) -> DueDate:
    return checkout_due_date(
        library,
        calendar_for(library, branch or library.branch_codes[0]),
        category=category,
        copy=make_copy(**copy),  # type: ignore[arg-type]
        today=today,
    )


def test_uoc_5_adm_20_days_due_on_a_holiday_moves_to_the_next_open_day(
    uoc: MemberLibrary,
) -> None:
    assert due(uoc, "admin_staff", date(2026, 3, 5)) == DueDate(
        on=date(2026, 3, 26),
        rule="UOC-5-ADM",
        reason="20-day loan",
        moved_from=date(2026, 3, 25),
    )


@pytest.mark.parametrize(
    ("direction", "expected"),
    [
        pytest.param("next_open_day", date(2026, 3, 26), id="next"),
        pytest.param("previous_open_day", date(2026, 3, 24), id="previous"),
    ],
)
def test_aeg_3_due_on_a_closed_day_moves_as_the_calendar_policy_says(
    aeg: MemberLibrary, direction: str, expected: date
) -> None:
    library = with_section(aeg, "calendar", due_date_on_closed_day=direction)
    result = due(library, "undergraduate", date(2026, 3, 18))
    assert (result.on, result.moved_from, result.rule) == (expected, date(2026, 3, 25), "AEG-3")


@pytest.mark.parametrize("category", ["undergraduate", "faculty"])
def test_aeg_6_special_collection_has_its_own_period(aeg: MemberLibrary, category: str) -> None:
    result = due(aeg, category, date(2026, 3, 2), collection="special")
    assert (result.on, result.rule) == (date(2026, 4, 1), "AEG-6")
    assert result.reason == "special collection: 30 days"


@pytest.mark.parametrize(
    ("flag", "flagged_on", "current", "expected", "rule"),
    [
        pytest.param(
            "high_demand",
            date(2026, 3, 4),
            date(2026, 3, 16),
            date(2026, 3, 6),
            "AEG-7",
            id="two-days-from-the-flag",
        ),
        pytest.param(
            "high_demand",
            date(2026, 3, 5),
            date(2026, 3, 16),
            date(2026, 3, 6),
            "AEG-7",
            id="saturday-moves-back-not-past-the-limit",
        ),
        pytest.param(
            "high_demand",
            date(2026, 3, 14),
            date(2026, 3, 16),
            date(2026, 3, 16),
            None,
            id="never-lengthens",
        ),
        pytest.param(
            "damaged",
            date(2026, 3, 4),
            date(2026, 3, 16),
            date(2026, 3, 16),
            None,
            id="flag-without-a-shorter-period",
        ),
    ],
)
def test_aeg_7_high_demand_shortens_a_loan_already_out_never_lengthens(
    aeg: MemberLibrary,
    flag: ItemFlag,
    flagged_on: date,
    current: date,
    expected: date,
    rule: str | None,
) -> None:
    result = flagged_due_date(
        aeg,
        calendar_for(aeg, "AEG-CHI"),
        flag=flag,
        flagged_on=flagged_on,
        current_due_on=current,
    )
    assert (result.on, result.rule) == (expected, rule)


def test_aeg_7_a_lendable_flagged_copy_gets_the_shortened_period_at_checkout(
    aeg: MemberLibrary,
) -> None:
    flags = aeg.item_flags
    lendable = with_section(
        aeg, "item_flags", high_demand=_replace(flags.high_demand, loanable=True)
    )
    result = due(lendable, "faculty", date(2026, 3, 2), high_demand=True)
    assert (result.on, result.rule) == (date(2026, 3, 4), "AEG-7")


def _replace(section: object, **changes: object) -> object:
    from dataclasses import replace

    return replace(section, **changes)  # type: ignore[type-var]


@pytest.mark.parametrize(
    ("category", "today", "branch", "expected", "rule"),
    [
        pytest.param(
            "faculty",
            date(2027, 6, 25),
            "AEG-SAM",
            date(2027, 7, 2),
            "AEG-9",
            id="closing-branch-friday-before-the-monday-start",
        ),
        pytest.param(
            "faculty",
            date(2027, 6, 25),
            "AEG-CHI",
            date(2027, 7, 9),
            "AEG-3",
            id="other-branch-unaffected",
        ),
        pytest.param(
            "undergraduate",
            date(2027, 7, 2),
            "AEG-SAM",
            date(2027, 7, 2),
            "AEG-9",
            id="last-open-day-due-the-same-day",
        ),
        pytest.param(
            "faculty",
            date(2027, 2, 26),
            "AEG-SAM",
            date(2027, 3, 12),
            "AEG-3",
            id="before-the-announcement",
        ),
    ],
)
def test_aeg_9_no_due_date_on_or_after_an_announced_inventory_closure(
    aeg: MemberLibrary, category: str, today: date, branch: str, expected: date, rule: str
) -> None:
    library = with_section(aeg, "inventory", closures=(INVENTORY,))
    result = due(library, category, today, branch)
    assert (result.on, result.rule) == (expected, rule)
    if branch in INVENTORY.branches:
        assert result.on < INVENTORY.start


@pytest.mark.parametrize(
    ("today", "expected", "rule"),
    [
        pytest.param(date(2027, 2, 27), date(2027, 7, 9), None, id="not-yet-announced"),
        pytest.param(date(2027, 3, 1), date(2027, 7, 2), "AEG-9", id="from-the-announcement"),
    ],
)
def test_aeg_9_loans_already_out_come_back_before_the_closure(
    aeg: MemberLibrary, today: date, expected: date, rule: str | None
) -> None:
    library = with_section(aeg, "inventory", closures=(INVENTORY,))
    result = inventory_due_date(
        library, calendar_for(library, "AEG-SAM"), current_due_on=date(2027, 7, 9), today=today
    )
    assert (result.on, result.rule) == (expected, rule)


def test_aeg_9_unreturned_material_is_declared_lost_from_the_start(aeg: MemberLibrary) -> None:
    library = with_section(aeg, "inventory", closures=(INVENTORY,))
    assert inventory_declaring_lost(library, "AEG-SAM", date(2027, 7, 4)) is None
    assert inventory_declaring_lost(library, "AEG-SAM", date(2027, 7, 5)) == INVENTORY
    assert inventory_declaring_lost(library, "AEG-CHI", date(2027, 7, 5)) is None
    lenient = with_section(library, "inventory", unreturned_declared_lost=False)
    assert inventory_declaring_lost(lenient, "AEG-SAM", date(2027, 7, 5)) is None


@pytest.mark.parametrize(
    ("code", "category", "grant", "clean_years", "messages"),
    [
        pytest.param(
            "AEG", "faculty", ExceptionalGrant(due_on=date(2026, 5, 2)), 1, (), id="faculty-2m"
        ),
        pytest.param(
            "AEG",
            "faculty",
            ExceptionalGrant(due_on=date(2026, 5, 3)),
            1,
            ("An exceptional loan may last at most 2 month(s): until 2026-05-02 at the latest.",),
            id="faculty-past-2m",
        ),
        pytest.param(
            "AEG",
            "postgraduate",
            ExceptionalGrant(extra_loans=2),
            0,
            (
                "An exception needs a spotless loan record for 1 academic year(s); "
                "the patron has 0.",
            ),
            id="record-not-clean-long-enough",
        ),
        pytest.param(
            "AEG",
            "external",
            ExceptionalGrant(due_on=date(2026, 3, 20)),
            5,
            ("Loans to external users cannot be extended exceptionally.",),
            id="category-without-a-cap",
        ),
        pytest.param(
            "AEG",
            "faculty",
            ExceptionalGrant(due_on=date(2026, 3, 2)),
            5,
            ("An exceptional due date must be after today.",),
            id="not-later-than-today",
        ),
    ],
)
def test_aeg_5_exception_needs_a_clean_year_and_stays_within_the_cap(
    aeg: MemberLibrary,
    code: str,
    category: str,
    grant: ExceptionalGrant,
    clean_years: int,
    messages: tuple[str, ...],
) -> None:
    refusals = exceptional_refusals(
        aeg, category, grant=grant, clean_record_academic_years=clean_years, today=date(2026, 3, 2)
    )
    assert tuple(r.message for r in refusals) == messages
    assert all(isinstance(r, ExtensionNotAllowed) and r.rule == "AEG-5" for r in refusals)


def test_aeg_5_libraries_without_exceptions_refuse_them(uoc: MemberLibrary) -> None:
    refusals = exceptional_refusals(
        uoc,
        "faculty",
        grant=ExceptionalGrant(extra_loans=1),
        clean_record_academic_years=9,
        today=date(2026, 3, 2),
    )
    assert refusals == (
        ExtensionNotAllowed(message="This library grants no exceptional loans.", rule=None),
    )
    with pytest.raises(ValueError, match="negative"):
        ExceptionalGrant(extra_loans=-1)


def test_aeg_1_only_visitor_categories_end_loans_with_the_patron_record(
    aeg: MemberLibrary, uoc: MemberLibrary
) -> None:
    def with_record_end(library: MemberLibrary, category: str) -> date:
        return checkout_due_date(
            library,
            calendar_for(library, None),
            category=category,
            copy=make_copy(),
            today=date(2026, 3, 2),
            patron_ends_on=date(2026, 3, 4),
        ).on

    assert with_record_end(aeg, "visiting_faculty") == date(2026, 3, 4)
    assert with_record_end(aeg, "faculty") == date(2026, 3, 16)
    assert with_record_end(uoc, "undergraduate") == date(2026, 3, 12)


def test_uoc_5_fac_academic_periods_must_cover_the_day(uoc: MemberLibrary) -> None:
    with pytest.raises(AcademicPeriodMissing, match="2028-03-01"):
        due(uoc, "faculty", date(2028, 3, 1))
    with pytest.raises(AcademicPeriodMissing, match="2028-02-14"):
        renewal_due_date(
            uoc,
            calendar_for(uoc, "UOC-HER"),
            category="faculty",
            copy=make_copy(),
            checked_out_on=date(2027, 10, 1),
            current_due_on=date(2028, 2, 14),
            today=date(2028, 2, 1),
        )


@pytest.mark.parametrize(
    ("counts_from", "expected"),
    [
        pytest.param("renewal_date", date(2026, 3, 20), id="from-the-renewal"),
        pytest.param("due_date", date(2026, 3, 23), id="from-the-due-date-sunday-to-monday"),
    ],
)
def test_uoc_5_ug_renewal_adds_renewal_days_from_the_policy_base(
    uoc: MemberLibrary, counts_from: str, expected: date
) -> None:
    library = with_section(uoc, "renewals", counts_from=counts_from)
    result = renewal_due_date(
        library,
        calendar_for(library, "UOC-HER"),
        category="undergraduate",
        copy=make_copy(),
        checked_out_on=date(2026, 3, 2),
        current_due_on=date(2026, 3, 12),
        today=date(2026, 3, 10),
    )
    assert (result.on, result.rule) == (expected, "UOC-5-UG")


def test_aeg_5_due_date_of_a_granted_exception_and_edge_inputs(
    aeg: MemberLibrary, uoc: MemberLibrary
) -> None:
    calendar = calendar_for(aeg, "AEG-RHO")
    granted = checkout_due_date(
        aeg,
        calendar,
        category="external",
        copy=make_copy("no_such_collection"),
        today=date(2026, 3, 2),
        exceptional_due_on=date(2026, 3, 20),
    )
    assert (granted.on, granted.rule) == (date(2026, 3, 20), "AEG-5")
    unknown = due(aeg, "undergraduate", date(2026, 3, 2), collection="no_such_collection")
    assert (unknown.on, unknown.rule) == (date(2026, 3, 9), "AEG-3")
    with pytest.raises(ValueError, match="no renewal_days"):
        renewal_due_date(
            uoc,
            calendar_for(uoc, "UOC-HER"),
            category="postgraduate",
            copy=make_copy(),
            checked_out_on=date(2026, 3, 2),
            current_due_on=date(2026, 4, 1),
            today=date(2026, 3, 20),
        )
