"""ILL dates: the supplier's (TUC-SUP-1, CUT-B7), the patron's (CUT-A11), pickup (CUT-A9),
renewals and recalls (CUT-A10, CUT-B7, CONS-3), forwarding (CUT-A6)."""

from dataclasses import replace
from datetime import date, datetime

import pytest

from kallimachos.domain.due_dates import DueDate
from kallimachos.domain.errors import Refusal
from kallimachos.domain.ill_dates import (
    is_late,
    patron_due_date,
    pickup_deadline,
    processing_deadline,
    recall_patron_due_date,
    renewal_refusals,
    renewed_supplier_due_date,
    supplier_due_date,
)
from kallimachos.domain.policy import MemberLibrary, PolicySet
from kallimachos.services.holiday_data import calendar_for

from .ill_builders import EET, at


def codes(refusals: tuple[Refusal, ...]) -> list[tuple[str, str | None]]:
    return [(r.code.value, r.rule) for r in refusals]


# --- the supplier's due date -----------------------------------------------------------------


def test_tuc_sup_1_two_weeks_from_the_day_tuc_received_the_request(tuc: MemberLibrary) -> None:
    due = supplier_due_date(tuc, request_received_on=date(2026, 3, 3), shipped_on=date(2026, 3, 9))
    assert due == DueDate(
        on=date(2026, 3, 17),
        rule="TUC-SUP-1",
        reason="TUC lends for 14 days from the day it received the request",
    )
    assert supplier_due_date(tuc, request_received_on=None, shipped_on=date(2026, 3, 9)) is None


@pytest.mark.parametrize(
    ("shipped", "due"),
    [
        (date(2026, 3, 4), date(2026, 4, 4)),
        (date(2026, 1, 31), date(2026, 2, 28)),  # a shorter month ends the loan on its last day
    ],
)
def test_cut_b7_a_loan_lasts_one_month_from_the_day_cut_ships(
    cut: MemberLibrary, shipped: date, due: date
) -> None:
    found = supplier_due_date(cut, request_received_on=date(2026, 1, 2), shipped_on=shipped)
    assert found is not None
    assert (found.on, found.rule) == (due, "CUT-B7")
    assert cut.ill_supplying.loan.due_means == "back_at_supplier"
    assert supplier_due_date(cut, request_received_on=date(2026, 1, 2), shipped_on=None) is None


def test_cons_3_the_date_the_supplier_states_wins(policies: PolicySet) -> None:
    stated = date(2026, 5, 1)
    for code in ("TUC", "CUT", "BL"):
        due = supplier_due_date(
            policies.library(code),
            request_received_on=date(2026, 3, 3),
            shipped_on=date(2026, 3, 4),
            stated_due_on=stated,
        )
        assert due is not None
        assert (due.on, due.rule) == (stated, "CONS-3")
    bl = policies.library("BL")
    assert supplier_due_date(bl, request_received_on=None, shipped_on=date(2026, 3, 4)) is None


# --- the patron's due date and pickup ---------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "due"),
    [
        (None, date(2026, 4, 8)),  # the default, 4; Easter Monday and Good Friday skipped
        (3, date(2026, 4, 9)),
        (5, date(2026, 4, 7)),
    ],
)
def test_cut_a11_patron_due_three_to_five_working_days_before_the_supplier(
    cut: MemberLibrary, days: int | None, due: date
) -> None:
    found = patron_due_date(
        cut,
        calendar_for(cut, "CUT"),
        supplier_due_on=date(2026, 4, 16),
        today=date(2026, 3, 20),
        working_days_before=days,
    )
    assert (found.on, found.rule) == (due, "CUT-A11")


def test_cut_a11_outside_the_range_is_an_error_and_late_pickup_is_due_at_once(
    cut: MemberLibrary,
) -> None:
    calendar = calendar_for(cut, "CUT")
    with pytest.raises(ValueError, match="3 to 5 working days"):
        patron_due_date(
            cut,
            calendar,
            supplier_due_on=date(2026, 4, 16),
            today=date(2026, 3, 20),
            working_days_before=6,
        )
    late = patron_due_date(
        cut, calendar, supplier_due_on=date(2026, 4, 16), today=date(2026, 4, 14)
    )
    assert (late.on, late.rule) == (date(2026, 4, 14), "CUT-A11")
    assert "collected late" in late.reason


def test_cut_a9_uncollected_material_goes_back_two_days_before_the_supplier_due(
    cut: MemberLibrary,
) -> None:
    deadline = pickup_deadline(cut, supplier_due_on=date(2026, 4, 16))
    assert (deadline.on, deadline.rule) == (date(2026, 4, 14), "CUT-A9")


# --- renewals ----------------------------------------------------------------------------------


def test_cut_a10_renewal_only_if_the_supplier_allows_it(policies: PolicySet) -> None:
    cut = policies.member("CUT")
    for supplier in ("UOC", "BL"):  # UOC renews no ILL loan; BL renews nothing
        found = renewal_refusals(
            cut,
            policies.library(supplier),
            supplier_due_on=date(2026, 4, 30),
            renewals=0,
            today=date(2026, 4, 1),
        )
        assert codes(found) == [("ILL_RENEWAL_REFUSED", "CUT-A10")]


@pytest.mark.parametrize(
    ("today", "refused"), [(date(2026, 4, 26), False), (date(2026, 4, 27), True)]
)
def test_cut_a10_renewal_asked_at_least_four_days_before_the_due_date(
    policies: PolicySet, today: date, refused: bool
) -> None:
    """A hand-built supplier that renews: the four days are CUT's own rule."""
    renewing = replace(policies.external_supplier("BL"), allows_renewal=True)
    cut = policies.member("CUT")
    found = renewal_refusals(
        cut, renewing, supplier_due_on=date(2026, 4, 30), renewals=0, today=today
    )
    assert codes(found) == ([("ILL_RENEWAL_REFUSED", "CUT-A10")] if refused else [])
    assert renewed_supplier_due_date(renewing, current_due_on=date(2026, 4, 30)) is None
    stated = renewed_supplier_due_date(
        renewing, current_due_on=date(2026, 4, 30), stated_due_on=date(2026, 5, 30)
    )
    assert stated is not None
    assert (stated.on, stated.rule) == (date(2026, 5, 30), "CONS-3")


@pytest.mark.parametrize(
    ("renewals", "today", "local_hold", "expected"),
    [
        pytest.param(0, date(2026, 3, 20), False, [], id="once-in-time"),
        pytest.param(
            1, date(2026, 3, 20), False, [("ILL_RENEWAL_REFUSED", "CUT-B7")], id="only-once"
        ),
        pytest.param(
            0, date(2026, 4, 3), False, [("ILL_RENEWAL_REFUSED", "CUT-B7")], id="three-days-before"
        ),
        pytest.param(
            0, date(2026, 3, 20), True, [("ILL_RENEWAL_REFUSED", "CUT-B7")], id="wanted-at-cut"
        ),
    ],
)
def test_cut_b7_renewal_once_asked_four_days_ahead_and_not_if_a_cut_user_wants_it(
    policies: PolicySet,
    renewals: int,
    today: date,
    local_hold: bool,
    expected: list[tuple[str, str]],
) -> None:
    found = renewal_refusals(
        policies.member("TUC"),
        policies.member("CUT"),
        supplier_due_on=date(2026, 4, 6),
        renewals=renewals,
        today=today,
        supplier_local_hold=local_hold,
    )
    assert codes(found) == expected


def test_cut_b7_a_renewal_adds_one_month_to_the_due_date(cut: MemberLibrary) -> None:
    renewed = renewed_supplier_due_date(cut, current_due_on=date(2026, 4, 6))
    assert renewed is not None
    assert (renewed.on, renewed.rule) == (date(2026, 5, 6), "CUT-B7")


def test_tuc_sup_1_tuc_loans_are_not_renewed(policies: PolicySet) -> None:
    tuc = policies.member("TUC")
    assert renewed_supplier_due_date(tuc, current_due_on=date(2026, 4, 6)) is None
    found = renewal_refusals(
        policies.member("CUT"),
        tuc,
        supplier_due_on=date(2026, 4, 30),
        renewals=0,
        today=date(2026, 4, 1),
    )
    assert codes(found) == [("ILL_RENEWAL_REFUSED", "TUC-SUP-1")]


# --- recalls -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "today", "due"),
    [
        pytest.param(date(2026, 4, 27), date(2026, 4, 1), date(2026, 4, 8), id="usual-margin"),
        pytest.param(date(2026, 4, 6), date(2026, 4, 1), date(2026, 4, 6), id="never-later"),
        pytest.param(date(2026, 4, 27), date(2026, 4, 15), date(2026, 4, 15), id="at-once"),
    ],
)
def test_cons_3_a_supplier_recall_recalls_the_patron(
    cut: MemberLibrary, current: date, today: date, due: date
) -> None:
    found = recall_patron_due_date(
        cut,
        calendar_for(cut, "CUT"),
        recall_due_on=date(2026, 4, 16),
        current_patron_due_on=current,
        today=today,
    )
    assert (found.on, found.rule) == (due, "CONS-3")


# --- forwarding --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("created", "deadline"),
    [
        pytest.param(date(2026, 3, 2), date(2026, 3, 3), id="monday-to-tuesday"),
        pytest.param(date(2026, 3, 6), date(2026, 3, 9), id="friday-to-monday"),
        pytest.param(date(2026, 3, 7), date(2026, 3, 9), id="saturday-to-monday"),
        pytest.param(date(2026, 3, 24), date(2026, 3, 26), id="over-25-march"),
    ],
)
def test_cut_a6_staff_forward_the_same_or_the_next_working_day(
    cut: MemberLibrary, created: date, deadline: date
) -> None:
    calendar = calendar_for(cut, "CUT")
    assert processing_deadline(cut, calendar, created_on=created) == deadline
    created_at = at(created, 17)
    assert not is_late(cut, calendar, created_at=created_at, today=deadline)
    assert is_late(
        cut, calendar, created_at=created_at, today=date.fromordinal(deadline.toordinal() + 1)
    )


def test_cut_a6_forwarding_needs_an_aware_time_and_zero_days_means_the_same_day(
    cut: MemberLibrary,
) -> None:
    calendar = calendar_for(cut, "CUT")
    with pytest.raises(ValueError, match="timezone"):
        is_late(cut, calendar, created_at=datetime(2026, 3, 2, 9), today=date(2026, 3, 4))  # noqa: DTZ001
    same_day = replace(
        cut, ill_requesting=replace(cut.ill_requesting, forward_within_working_days=0)
    )
    assert processing_deadline(same_day, calendar, created_on=date(2026, 3, 7)) == date(2026, 3, 9)
    assert at(date(2026, 3, 2)).tzinfo is EET
