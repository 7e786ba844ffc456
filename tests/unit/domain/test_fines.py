"""Overdue fines (UOC-5-*, AEG-7, AEG-8, TUC-ILL-6), replacement (UOC-3, AEG-8), the gate."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from kallimachos.domain.fines import (
    Fine,
    ReplacementDue,
    overdue_fine,
    replacement_charges,
    security_gate_fine,
)
from kallimachos.domain.policy import MemberLibrary
from kallimachos.services.holiday_data import calendar_for

from .builders import make_copy, with_category, with_section


def fine(
    library: MemberLibrary,
    category: str,
    due_on: date,
    days_late: int,
    **options: bool,
) -> Fine:
    flags = {k: v for k, v in options.items() if k != "interlibrary"}
    return overdue_fine(
        library,
        calendar_for(library, library.branch_codes[0]),
        category=category,
        due_on=due_on,
        returned_on=due_on + timedelta(days=days_late),
        copy=make_copy(**flags),  # type: ignore[arg-type]
        interlibrary=options.get("interlibrary", False),
    )


UG_DUE = date(2026, 3, 12)


@pytest.mark.parametrize(
    ("days_late", "amount", "rule"),
    [
        pytest.param(-1, "0.00", None, id="early"),
        pytest.param(0, "0.00", None, id="on-the-due-date"),
        pytest.param(2, "0.00", "UOC-5-UG", id="2-days-late-within-grace"),
        pytest.param(3, "0.00", "UOC-5-UG", id="3-days-late-last-grace-day"),
        pytest.param(4, "0.80", "UOC-5-UG", id="4-days-late-all-4-count"),
        pytest.param(5, "1.00", "UOC-5-UG", id="5-days-late-counts-from-due-date"),
    ],
)
def test_uoc_5_ug_grace_2_days_late_no_fine_5_days_late_counts_from_due_date(
    uoc: MemberLibrary, days_late: int, amount: str, rule: str | None
) -> None:
    result = fine(uoc, "undergraduate", UG_DUE, days_late)
    assert (result.amount, result.rule) == (Decimal(amount), rule)
    assert result.kind == "overdue"


@pytest.mark.parametrize("category", ["admin_staff", "postgraduate", "external", "faculty"])
def test_uoc_5_adm_uoc_5_pg_uoc_5_ext_no_grace_days(uoc: MemberLibrary, category: str) -> None:
    result = fine(uoc, category, UG_DUE, 1)
    assert (result.amount, result.days) == (Decimal("0.20"), 1)


@pytest.mark.parametrize(
    ("counted", "counts_from", "amount", "days"),
    [
        pytest.param("calendar_days", "due_date", "1.40", 7, id="calendar-from-due"),
        pytest.param("open_days", "due_date", "0.80", 4, id="open-days-skip-25-march"),
        pytest.param("calendar_days", "end_of_grace", "0.80", 4, id="calendar-after-grace"),
        pytest.param("open_days", "end_of_grace", "0.60", 3, id="open-days-after-grace"),
    ],
)
def test_uoc_5_ug_days_counted_as_the_fine_policy_says(
    uoc: MemberLibrary, counted: str, counts_from: str, amount: str, days: int
) -> None:
    library = with_section(
        uoc, "fines", overdue_days_counted=counted, after_grace_counts_from=counts_from
    )
    result = fine(library, "undergraduate", date(2026, 3, 20), 7)
    assert (result.amount, result.days) == (Decimal(amount), days)


@pytest.mark.parametrize(
    ("days_late", "high_demand", "amount", "rule"),
    [
        pytest.param(1, False, "0.20", "AEG-8", id="one-day"),
        pytest.param(10, False, "2.00", "AEG-8", id="ten-days"),
        pytest.param(3, True, "1.20", "AEG-7", id="high-demand-double"),
    ],
)
def test_aeg_8_aeg_7_fined_per_day_late_high_demand_double(
    aeg: MemberLibrary, days_late: int, high_demand: bool, amount: str, rule: str
) -> None:
    result = fine(aeg, "faculty", date(2026, 3, 16), days_late, high_demand=high_demand)
    assert (result.amount, result.rule) == (Decimal(amount), rule)


@pytest.mark.parametrize(
    ("code", "category", "days_late", "amount", "rule"),
    [
        pytest.param("TUC", "faculty", 3, "1.62", "TUC-ILL-6", id="tuc"),
        pytest.param("UOC", "undergraduate", 2, "1.08", None, id="no-grace-for-ill"),
    ],
)
def test_tuc_ill_6_late_ill_return_per_item_per_day(
    tuc: MemberLibrary,
    uoc: MemberLibrary,
    code: str,
    category: str,
    days_late: int,
    amount: str,
    rule: str | None,
) -> None:
    library = tuc if code == "TUC" else uoc
    result = fine(library, category, UG_DUE, days_late, interlibrary=True)
    assert (result.amount, result.rule) == (Decimal(amount), rule)


def test_uoc_5_ug_fine_rounded_half_up_to_cents(uoc: MemberLibrary) -> None:
    library = with_category(uoc, "postgraduate", fine_per_day=Decimal("0.125"))
    assert fine(library, "postgraduate", UG_DUE, 1).amount == Decimal("0.13")
    assert fine(library, "postgraduate", UG_DUE, 3).amount == Decimal("0.38")


@pytest.mark.parametrize(
    ("item_value", "amount", "reason"),
    [
        pytest.param(Decimal("35.5"), "35.50", "replacement cost", id="recorded-price"),
        pytest.param(None, "50.00", "replacement cost (default)", id="default-cost"),
    ],
)
def test_uoc_3_damage_found_at_return_charges_the_replacement(
    uoc: MemberLibrary, item_value: Decimal | None, amount: str, reason: str
) -> None:
    due = replacement_charges(
        uoc,
        reported_on=date(2026, 3, 2),
        today=date(2026, 3, 2),
        item_value=item_value,
        found_at_return=True,
    )
    assert due == ReplacementDue(
        charges=(Fine(kind="replacement", amount=Decimal(amount), rule="UOC-3", reason=reason),),
        replace_by=None,
    )
    assert due.total == Decimal(amount)


def test_uoc_3_no_charge_where_the_policy_does_not_charge_damage(uoc: MemberLibrary) -> None:
    library = with_section(uoc, "replacement", damage_at_return_charges_replacement=False)
    due = replacement_charges(
        library,
        reported_on=date(2026, 3, 2),
        today=date(2026, 3, 2),
        item_value=None,
        found_at_return=True,
    )
    assert (due.charges, due.total) == ((), Decimal(0))


REPORTED = date(2026, 3, 2)


@pytest.mark.parametrize(
    ("today", "replaced_on", "kinds", "replace_by"),
    [
        pytest.param(date(2026, 3, 10), None, ("lost_or_damaged",), date(2026, 3, 17), id="open"),
        pytest.param(date(2026, 3, 17), None, ("lost_or_damaged",), date(2026, 3, 17), id="day-15"),
        pytest.param(
            date(2026, 3, 18),
            None,
            ("lost_or_damaged", "replacement"),
            None,
            id="day-16-value-charged",
        ),
        pytest.param(
            date(2026, 3, 20), date(2026, 3, 16), ("lost_or_damaged",), None, id="replaced"
        ),
        pytest.param(
            date(2026, 3, 20),
            date(2026, 3, 19),
            ("lost_or_damaged", "replacement"),
            None,
            id="replaced-too-late",
        ),
    ],
)
def test_aeg_8_lost_material_replaced_within_15_days_plus_a_fine_else_its_value(
    aeg: MemberLibrary,
    today: date,
    replaced_on: date | None,
    kinds: tuple[str, ...],
    replace_by: date | None,
) -> None:
    due = replacement_charges(
        aeg,
        reported_on=REPORTED,
        today=today,
        item_value=Decimal("42.00"),
        replaced_in_kind_on=replaced_on,
    )
    assert tuple(c.kind for c in due.charges) == kinds
    assert {c.rule for c in due.charges} == {"AEG-8"}
    assert due.replace_by == replace_by
    assert due.total == sum(
        (Decimal("10.00") if k == "lost_or_damaged" else Decimal("42.00") for k in kinds),
        Decimal(0),
    )


def test_aeg_8_value_charged_only_where_the_policy_says(aeg: MemberLibrary) -> None:
    keep = with_section(aeg, "replacement", unreplaced_charged_at_value=False)
    late = replacement_charges(keep, reported_on=REPORTED, today=date(2026, 4, 1), item_value=None)
    assert tuple(c.kind for c in late.charges) == ("lost_or_damaged",)
    no_window = with_section(keep, "replacement", replace_in_kind_within_days=None)
    now = replacement_charges(no_window, reported_on=REPORTED, today=REPORTED, item_value=None)
    assert (tuple(c.kind for c in now.charges), now.replace_by) == (("lost_or_damaged",), None)


def test_aeg_8_lost_without_a_replacement_window_charges_the_value_at_once(
    tuc: MemberLibrary,
) -> None:
    due = replacement_charges(tuc, reported_on=REPORTED, today=REPORTED, item_value=None)
    assert [(c.kind, c.amount) for c in due.charges] == [("replacement", Decimal("50.00"))]


def test_aeg_8_security_gate_fine(aeg: MemberLibrary, uoc: MemberLibrary) -> None:
    assert security_gate_fine(aeg) == Fine(
        kind="security_gate",
        amount=Decimal("20.00"),
        rule="AEG-8",
        reason="security gate set off with unborrowed material",
    )
    assert security_gate_fine(uoc) is None


def test_uoc_5_ug_fine_without_copy_facts_uses_the_plain_rate(uoc: MemberLibrary) -> None:
    result = overdue_fine(
        uoc,
        calendar_for(uoc, "UOC-HER"),
        category="undergraduate",
        due_on=UG_DUE,
        returned_on=UG_DUE + timedelta(days=4),
    )
    assert (result.amount, result.reason) == (Decimal("0.80"), "4 day(s) late at 0.20")
