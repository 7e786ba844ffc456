"""ILL costs (CUT-A4), who pays (CUT-A1-PAY), prepayment (CUT-A4-PRE), and the charges that
follow: uncollected material (CUT-A9), late return and loss (CUT-B8, CUT-A11)."""

from datetime import date
from decimal import Decimal

import pytest

from kallimachos.domain.ill_costs import (
    estimate_cost,
    late_return_fee,
    max_cost_refusal,
    passed_on_to_patron,
    payer_for,
    prepayment_required,
    replacement_charges,
    supplier_charge,
    uncollected_charge,
)
from kallimachos.domain.policy import IllServiceType, PolicySet

D = Decimal


@pytest.mark.parametrize(
    ("supplier", "service", "charge", "shipping", "service_charge", "vat", "total"),
    [
        pytest.param("BL", "loan", "30.00", "40.00", "10.50", "15.30", "95.80", id="bl-book"),
        pytest.param("SUBITO", "copy", "11.00", "0.00", "1.65", "2.40", "15.05", id="subito-art"),
        pytest.param("EKT", "copy", "15.00", "0.00", "2.25", "3.28", "20.53", id="ekt-article"),
        pytest.param("CYUC", "copy", "0.00", "0.00", "0.00", "0.00", "0.00", id="cyuc-free"),
        pytest.param("CYUC", "loan", "20.00", "12.00", "4.80", "6.99", "43.79", id="cyuc-book"),
        pytest.param("UOC", "loan", "0.00", "40.00", "6.00", "8.74", "54.74", id="member-abroad"),
    ],
)
def test_cut_a4_supplier_charge_shipping_both_ways_service_charge_and_vat(
    policies: PolicySet,
    supplier: str,
    service: IllServiceType,
    charge: str,
    shipping: str,
    service_charge: str,
    vat: str,
    total: str,
) -> None:
    cost = estimate_cost(
        policies.member("CUT"),
        policies.library(supplier),
        service_type=service,
        category="undergraduate",
    )
    assert (cost.supplier_charge, cost.shipping, cost.service_charge, cost.vat, cost.total) == (
        D(charge),
        D(shipping),
        D(service_charge),
        D(vat),
        D(total),
    )
    assert (cost.currency, cost.rule, cost.estimated) == ("EUR", "CUT-A4", True)


def test_cut_a4_a_minimum_only_is_quoted_as_at_least_until_the_supplier_states_its_charge(
    policies: PolicySet,
) -> None:
    cut, bl = policies.member("CUT"), policies.library("BL")
    quoted = estimate_cost(cut, bl, service_type="copy", category="doctoral")
    assert (quoted.supplier_charge, quoted.at_least, quoted.estimated) == (D("30.00"), True, True)
    stated = estimate_cost(
        cut, bl, service_type="copy", category="doctoral", actual_charge=D("42.00")
    )
    assert (stated.supplier_charge, stated.at_least, stated.estimated) == (
        D("42.00"),
        False,
        False,
    )
    assert stated.total == D("42.00") + D("6.30") + D("9.18")
    with pytest.raises(ValueError, match="does not offer the copy service"):
        estimate_cost(cut, policies.library("VDX"), service_type="copy", category="doctoral")
    assert supplier_charge(policies.library("VDX"), "copy") is None
    assert supplier_charge(policies.library("TUC"), "copy") is None


def test_cut_a4_domestic_shipping_and_no_service_charge_where_the_policy_has_none(
    policies: PolicySet,
) -> None:
    cost = estimate_cost(
        policies.member("TUC"), policies.library("UOC"), service_type="loan", category="faculty"
    )
    assert (cost.shipping, cost.service_charge, cost.vat, cost.total) == (
        D("12.00"),
        D("0.00"),
        D("0.00"),
        D("12.00"),
    )


@pytest.mark.parametrize(
    ("requesting", "service", "total"),
    [("AEG", "copy", "5.00"), ("TUC", "loan", "50.00"), ("UOC", "loan", "50.00")],
)
def test_cut_a4_member_suppliers_charge_their_own_ill_supplying_charges(
    policies: PolicySet, requesting: str, service: IllServiceType, total: str
) -> None:
    """CUT as a supplier charges 10 € a loan and 5 € a copy (assumed); the borrower adds
    shipping abroad for loans, and its own service charge (none at TUC, UOC, AEG)."""
    cost = estimate_cost(
        policies.member(requesting),
        policies.library("CUT"),
        service_type=service,
        category="faculty",
    )
    assert cost.total == D(total)


@pytest.mark.parametrize(
    ("supplier", "maximum", "refused"),
    [("BL", "100.00", False), ("BL", "95.80", False), ("BL", "90.00", True), ("CYUC", None, False)],
)
def test_cut_a4_never_more_than_the_patrons_maximum(
    policies: PolicySet, supplier: str, maximum: str | None, refused: bool
) -> None:
    cut = policies.member("CUT")
    cost = estimate_cost(cut, policies.library(supplier), service_type="loan", category="alumni")
    refusal = max_cost_refusal(cut, cost, D(maximum) if maximum else None)
    if not refused:
        assert refusal is None
    else:
        assert refusal is not None
        assert (refusal.code.value, refusal.rule, refusal.field) == (
            "ILL_MAX_COST_EXCEEDED",
            "CUT-A4",
            "maxCost",
        )
        assert "95.80 EUR" in refusal.message


@pytest.mark.parametrize(
    ("category", "payer"),
    [
        ("academic_staff", "library"),
        ("special_scientist", "library"),
        ("postgraduate", "library"),
        ("doctoral", "library"),
        ("undergraduate", "patron"),
        ("erasmus", "patron"),
        ("alumni", "patron"),
        ("external", "patron"),
        ("medical_staff", "patron"),
        ("admin_staff", "patron"),
        ("cooperation_member", None),
    ],
)
def test_cut_a1_pay_library_budget_or_the_patron_by_category(
    policies: PolicySet, category: str, payer: str | None
) -> None:
    cut = policies.member("CUT")
    assert payer_for(cut, category) == payer
    if payer is not None:
        cost = estimate_cost(cut, policies.library("BL"), service_type="loan", category=category)
        assert cost.payer == payer
        assert cut.ill_requesting.cost.rule_for("payer_by_category") == "CUT-A1-PAY"


@pytest.mark.parametrize(
    ("category", "supplier", "service", "prepay"),
    [
        ("undergraduate", "BL", "loan", True),
        ("academic_staff", "BL", "loan", False),  # the library pays
        ("undergraduate", "CYUC", "copy", False),  # free: nothing to pay
    ],
)
def test_cut_a4_pre_a_personal_charge_is_paid_in_advance(
    policies: PolicySet, category: str, supplier: str, service: IllServiceType, prepay: bool
) -> None:
    cut = policies.member("CUT")
    cost = estimate_cost(cut, policies.library(supplier), service_type=service, category=category)
    assert prepayment_required(cut, cost) is prepay
    assert cut.ill_requesting.cost.rule_for("personal_charge_prepaid") == "CUT-A4-PRE"


def test_cut_a9_uncollected_costs_the_patron_the_supplier_fee_and_shipping(
    policies: PolicySet,
) -> None:
    cut = policies.member("CUT")
    cost = estimate_cost(cut, policies.library("BL"), service_type="loan", category="doctoral")
    charge = uncollected_charge(cut, cost)
    assert charge is not None
    assert (charge.debtor, charge.amount, charge.rule, charge.kind) == (
        "patron",
        D("70.00"),
        "CUT-A9",
        "ill_uncollected",
    )


@pytest.mark.parametrize(
    ("back_on", "shipped_back_on", "amount"),
    [
        (date(2026, 4, 6), date(2026, 4, 1), None),
        (date(2026, 4, 9), date(2026, 4, 1), D("0.60")),  # back at CUT three days late
    ],
)
def test_cut_b8_late_return_charges_cuts_late_fee_to_the_requesting_library(
    policies: PolicySet, back_on: date, shipped_back_on: date, amount: Decimal | None
) -> None:
    fee = late_return_fee(
        policies.library("CUT"),
        supplier_due_on=date(2026, 4, 6),
        back_on=back_on,
        shipped_back_on=shipped_back_on,
    )
    if amount is None:
        assert fee is None
        return
    assert fee is not None
    assert (fee.debtor, fee.amount, fee.rule, fee.days) == (
        "requesting_library",
        amount,
        "CUT-B8",
        3,
    )
    assert passed_on_to_patron(policies.member("TUC"), fee) is None  # TUC charges its own fine
    passed = passed_on_to_patron(policies.member("UOC"), fee)
    assert passed is not None
    assert (passed.debtor, passed.amount) == ("patron", amount)


def test_cut_a11_supplier_fines_are_passed_on_to_the_patron(policies: PolicySet) -> None:
    fee = late_return_fee(
        policies.library("UOC"),
        supplier_due_on=date(2026, 4, 6),
        back_on=date(2026, 4, 8),
        shipped_back_on=None,
    )
    assert fee is not None
    passed = passed_on_to_patron(policies.member("CUT"), fee)
    assert passed is not None
    assert (passed.debtor, passed.amount, passed.rule) == ("patron", D("1.08"), "CUT-A11")
    assert (
        late_return_fee(
            policies.library("BL"),
            supplier_due_on=date(2026, 4, 6),
            back_on=date(2026, 4, 30),
            shipped_back_on=None,
        )
        is None
    )


def test_cut_b8_loss_charges_the_replacement_passed_on_under_the_suppliers_rules(
    policies: PolicySet,
) -> None:
    library, patron = replacement_charges(
        policies.member("AEG"), policies.library("CUT"), D("48.00")
    )
    assert (library.debtor, library.amount, library.rule) == (
        "requesting_library",
        D("48.00"),
        "CUT-B8",
    )
    assert (patron.debtor, patron.amount) == ("patron", D("48.00"))
    _, from_bl = replacement_charges(policies.member("CUT"), policies.library("BL"), D("60"))
    assert from_bl.rule == "CUT-A11"
