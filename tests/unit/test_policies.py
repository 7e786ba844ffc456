"""The policy files load, hold the values of RULES.md, and bad files fail naming file and key."""

import re
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from kallimachos.domain.policy import (
    COLLECTION_CODES,
    ITEM_FLAGS,
    CategoryPolicy,
    IllServiceType,
    MemberLibrary,
    PolicySet,
)
from kallimachos.policies import (
    POLICIES_DIR_ENV,
    PolicyFileError,
    default_policies_dir,
    load_policies,
)

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies"
API_MD = REPO / "tests" / "fixtures" / "shared_docs" / "API.md"

MEMBERS = ("AEG", "CUT", "TUC", "UOC")
SUPPLIERS = ("BL", "CYUC", "EKT", "SUBITO", "VDX")


@pytest.fixture(scope="module")
def policies() -> PolicySet:
    return load_policies(POLICIES)


def api_categories() -> dict[str, list[str]]:
    """The patron categories per library, as listed in API.md."""
    text = API_MD.read_text(encoding="utf-8")
    return {
        code: [name.strip() for name in names.split(",")]
        for code, names in re.findall(r"^- `([A-Z]+)`: (.+)$", text, flags=re.MULTILINE)
    }


def terms(category: CategoryPolicy) -> tuple[object, ...]:
    return (
        category.max_loans,
        category.loan_days,
        category.due_at_academic_period_end,
        category.max_renewals,
        category.renewal_days,
        category.grace_days,
        category.fine_per_day,
        category.exceptional_max_loan_months,
    )


# --- loading the real files ----------------------------------------------------------------


def test_real_files_load_members_then_suppliers(policies: PolicySet) -> None:
    assert policies.codes == MEMBERS + SUPPLIERS
    assert tuple(m.code for m in policies.members) == MEMBERS
    assert tuple(s.code for s in policies.external_suppliers) == SUPPLIERS
    assert all(lib.currency == "EUR" for lib in policies.libraries)


def test_default_dir_is_the_repository_policies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(POLICIES_DIR_ENV, raising=False)
    assert default_policies_dir() == POLICIES
    assert load_policies().codes == MEMBERS + SUPPLIERS


def test_env_var_chooses_the_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(POLICIES_DIR_ENV, str(tmp_path))
    assert default_policies_dir() == tmp_path


@pytest.mark.parametrize("code", MEMBERS)
def test_categories_are_exactly_those_of_api_md(policies: PolicySet, code: str) -> None:
    assert sorted(policies.member(code).categories) == sorted(api_categories()[code])


@pytest.mark.parametrize("code", MEMBERS)
def test_every_collection_and_flag_has_a_policy(policies: PolicySet, code: str) -> None:
    library = policies.member(code)
    assert [c for c, _ in library.collections.items()] == list(COLLECTION_CODES)
    assert all(library.item_flags.get(flag) for flag in ITEM_FLAGS)


def test_identity_countries_and_branches(policies: PolicySet) -> None:
    assert {m.code: m.country for m in policies.members} == {
        "AEG": "GR",
        "CUT": "CY",
        "TUC": "GR",
        "UOC": "GR",
    }
    assert policies.member("UOC").branch_codes == ("UOC-HER", "UOC-RET")
    assert policies.member("AEG").branch_codes == (
        *("AEG-MYT", "AEG-CHI", "AEG-SAM", "AEG-RHO", "AEG-SYR", "AEG-LEM"),
    )
    assert policies.member("TUC").branch_codes == ("TUC",)
    assert policies.member("CUT").branch_codes == ("CUT",)
    assert policies.branch_owner("UOC-RET").code == "UOC"
    assert policies.member("UOC").name.en == "University of Crete Library"
    assert policies.member("UOC").name.el == "Βιβλιοθήκη Πανεπιστημίου Κρήτης"


def test_lookup_errors_say_what_is_wrong(policies: PolicySet) -> None:
    with pytest.raises(KeyError, match="unknown library code 'XYZ'"):
        policies.library("XYZ")
    with pytest.raises(KeyError, match="external supplier"):
        policies.member("BL")
    with pytest.raises(KeyError, match="no patron category 'student'"):
        policies.member("UOC").category("student")


def test_calendars_use_the_holidays_package_of_their_country(policies: PolicySet) -> None:
    assert policies.member("CUT").calendar.holidays_country == "CY"
    for code in ("TUC", "UOC", "AEG"):
        calendar = policies.member(code).calendar
        assert calendar.holidays_country == "GR"
        assert calendar.holiday_categories == ("public",)
        assert calendar.closed_weekdays == ("saturday", "sunday")
        assert {c.on(2026) for c in calendar.annual_closures if not c.branches} >= {
            date(2026, 1, 30),
            date(2026, 11, 17),
        }


def test_rule_for_prefers_cite_then_the_first_rule(policies: PolicySet) -> None:
    faculty = policies.member("AEG").categories["faculty"]
    assert faculty.rule_for("max_loans") == "AEG-4"
    assert faculty.rule_for("loan_days") == "AEG-3"
    assert policies.member("UOC").categories["undergraduate"].rule_for("max_loans") == "UOC-5-UG"
    assert policies.member("TUC").categories["faculty"].rule_for("max_loans") is None
    with pytest.raises(ValueError, match="no key 'max_lons'"):
        faculty.rule_for("max_lons")


# --- UOC -----------------------------------------------------------------------------------


def test_uoc_5_ug_undergraduate_7_items_10_days_2_renewals_3_grace_days(
    policies: PolicySet,
) -> None:
    undergraduate = policies.member("UOC").categories["undergraduate"]
    assert undergraduate.rule_ids == ("UOC-5-UG",)
    assert (undergraduate.max_loans, undergraduate.loan_days) == (7, 10)
    assert (undergraduate.max_renewals, undergraduate.grace_days) == (2, 3)


def test_uoc_5_ug_exchange_and_continuing_education_have_student_terms(
    policies: PolicySet,
) -> None:
    categories = policies.member("UOC").categories
    for code in ("exchange_student", "continuing_education"):
        assert categories[code].inherits_from == "undergraduate"
        assert categories[code].rule_ids == ("UOC-5-UG",)
        assert terms(categories[code]) == terms(categories["undergraduate"])


@pytest.mark.parametrize(
    ("code", "rule", "max_loans", "loan_days"),
    [
        ("admin_staff", "UOC-5-ADM", 8, 20),
        ("postgraduate", "UOC-5-PG", 10, 30),
        ("external", "UOC-5-EXT", 5, 15),
    ],
)
def test_uoc_5_no_renewals_no_grace_days(
    policies: PolicySet, code: str, rule: str, max_loans: int, loan_days: int
) -> None:
    category = policies.member("UOC").categories[code]
    assert category.rule_ids == (rule,)
    assert (category.max_loans, category.loan_days) == (max_loans, loan_days)
    assert (category.max_renewals, category.grace_days) == (0, 0)


def test_uoc_5_ext_needs_the_annual_fee(policies: PolicySet) -> None:
    assert policies.member("UOC").categories["external"].requirements == ("annual_fee_paid",)


def test_uoc_5_fac_loans_end_with_the_academic_period(policies: PolicySet) -> None:
    uoc = policies.member("UOC")
    faculty = uoc.categories["faculty"]
    assert (faculty.max_loans, faculty.loan_days, faculty.due_at_academic_period_end) == (
        30,
        None,
        True,
    )
    assert faculty.max_renewals == 1  # at most two consecutive periods
    assert faculty.recall_all_loans_on_leave
    calendar = uoc.calendar
    assert calendar.periods_are_contiguous()
    spring = calendar.period_containing(date(2026, 3, 10))
    assert spring is not None
    assert spring.kind == "spring"
    summer = calendar.period_after(spring)
    assert summer is not None
    assert summer.kind == "summer"
    assert {p.kind for p in calendar.academic_periods} == {"winter", "spring", "summer"}
    assert calendar.period_containing(date(2026, 1, 1)) is not None
    assert calendar.period_containing(date(2027, 12, 31)) is not None


def test_uoc_5_ug_grace_days_mean_fine_from_the_due_date(policies: PolicySet) -> None:
    fines = policies.member("UOC").fines
    assert fines.after_grace_counts_from == "due_date"
    assert fines.rule_ids == ("UOC-5-UG",)


def test_uoc_1_debt_or_overdue_blocks(policies: PolicySet) -> None:
    blocks = policies.member("UOC").blocks
    assert blocks.rule_ids == ("UOC-1",)
    assert blocks.block_on_overdue_loans
    assert blocks.max_unpaid_balance == Decimal("0")


def test_uoc_1b_restricted_loan_is_not_loanable(policies: PolicySet) -> None:
    restricted = policies.member("UOC").collections.get("restricted_loan")
    assert not restricted.loanable
    assert restricted.rule_ids == ("UOC-1b",)
    assert policies.member("UOC").collections.get("general").loanable


def test_uoc_3_damage_at_return_charges_replacement(policies: PolicySet) -> None:
    replacement = policies.member("UOC").replacement
    assert replacement.inspect_at_checkout
    assert replacement.inspect_at_return
    assert replacement.damage_at_return_charges_replacement


def test_uoc_4a_4b_recall_7_working_days_hold_shelf_7_days(policies: PolicySet) -> None:
    holds = policies.member("UOC").holds
    assert holds.recall_on_hold
    assert holds.recall_return_working_days == 7
    assert holds.hold_shelf_days == 7
    assert holds.rule_for("recall_return_working_days") == "UOC-4a"
    assert holds.rule_for("hold_shelf_days") == "UOC-4b"


def test_uoc_6_branch_transfers(policies: PolicySet) -> None:
    lending = policies.member("UOC").branch_lending
    assert lending.rule_ids == ("UOC-6",)
    assert lending.branch_transfers
    assert lending.borrow_at_any_branch
    assert lending.return_to_owning_branch


def test_uoc_branch_specific_closure_names_a_branch(policies: PolicySet) -> None:
    local = [c for c in policies.member("UOC").calendar.annual_closures if c.branches]
    assert [c.branches for c in local] == [("UOC-HER",)]


# --- AEG -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "loan_days", "max_loans", "cap_months"),
    [
        ("undergraduate", 7, 3, 1),
        ("admin_staff", 14, 3, 1),
        ("postgraduate", 14, 6, 2),
        ("faculty", 14, 8, 2),
    ],
)
def test_aeg_3_4_5_periods_limits_and_extension_caps(
    policies: PolicySet, code: str, loan_days: int, max_loans: int, cap_months: int
) -> None:
    category = policies.member("AEG").categories[code]
    assert (category.loan_days, category.max_loans) == (loan_days, max_loans)
    assert category.exceptional_max_loan_months == cap_months
    assert category.rule_for("loan_days") == "AEG-3"
    assert category.rule_for("max_loans") == "AEG-4"


def test_aeg_5_exceptions_by_branch_head_after_a_clean_year(policies: PolicySet) -> None:
    exceptional = policies.member("AEG").exceptional_loans
    assert exceptional is not None
    assert exceptional.granted_by == "branch_head"
    assert exceptional.min_clean_record_academic_years == 1
    assert all(m.exceptional_loans is None for m in policies.members if m.code != "AEG")


def test_aeg_1_visitors_have_their_counterparts_rights_until_the_visit_ends(
    policies: PolicySet,
) -> None:
    categories = policies.member("AEG").categories
    visiting = categories["visiting_faculty"]
    assert terms(visiting) == terms(categories["faculty"])
    assert visiting.loans_end_by_patron_expiry
    assert visiting.rule_for("loans_end_by_patron_expiry") == "AEG-1"
    assert visiting.rule_for("max_loans") == "AEG-4"
    assert categories["visiting_student"].inherits_from == "undergraduate"
    assert categories["eap_student"].requirements == ("resides_on_branch_island",)


def test_aeg_1_external_users_one_week_at_the_branch_heads_discretion(
    policies: PolicySet,
) -> None:
    external = policies.member("AEG").categories["external"]
    assert external.loan_days == 7
    assert set(external.requirements) == {"branch_head_approval", "police_id_deposited"}


def test_aeg_2_non_loanable_collections_and_flags(policies: PolicySet) -> None:
    aeg = policies.member("AEG")
    for code in ("reference", "periodicals", "audiovisual", "grey_literature", "rare"):
        assert not aeg.collections.get(code).loanable, code
        assert "AEG-2" in aeg.collections.get(code).rule_ids
    for flag in ITEM_FLAGS:
        assert not aeg.item_flags.get(flag).loanable, flag
        assert "AEG-2" in aeg.item_flags.get(flag).rule_ids


def test_aeg_6_special_collection_has_its_own_period(policies: PolicySet) -> None:
    special = policies.member("AEG").collections.get("special")
    assert special.loanable
    assert special.loan_days is not None
    assert special.rule_ids == ("AEG-6",)


def test_aeg_7_high_demand_shortened_and_fined_double(policies: PolicySet) -> None:
    high_demand = policies.member("AEG").item_flags.high_demand
    assert high_demand.overdue_fine_multiplier == Decimal(2)
    assert high_demand.shortened_loan_days is not None
    assert high_demand.rule_for("overdue_fine_multiplier") == "AEG-7"


def test_aeg_8_sanctions(policies: PolicySet) -> None:
    aeg = policies.member("AEG")
    assert aeg.replacement.replace_in_kind_within_days == 15
    assert aeg.replacement.unreplaced_charged_at_value
    assert aeg.blocks.systematic_late_suspension_months == 6
    assert aeg.blocks.clearance_requires_no_loans_or_fees
    assert isinstance(aeg.fines.security_gate_fine, Decimal)
    assert aeg.fines.rule_ids == ("AEG-8",)


def test_aeg_9_inventory_announced_three_months_ahead(policies: PolicySet) -> None:
    inventory = policies.member("AEG").inventory
    assert inventory.rule_ids == ("AEG-9",)
    assert inventory.min_notice_months == 3
    assert inventory.unreturned_declared_lost
    assert inventory.closures == ()


# --- TUC -----------------------------------------------------------------------------------


def test_tuc_ill_1_only_staff_and_postgraduates_may_request(policies: PolicySet) -> None:
    tuc = policies.member("TUC")
    eligibility = tuc.ill_requesting.eligibility
    assert set(eligibility.categories) == {
        "faculty",
        "research_staff",
        "etep",
        "eedip",
        "postgraduate",
    }
    assert set(tuc.categories) - set(eligibility.categories) == {"undergraduate", "admin_staff"}
    assert eligibility.rule_for("categories") == "TUC-ILL-1"
    assert eligibility.rule_for("require_not_held_locally") == "TUC-ILL-2"


def test_tuc_ill_3_articles_are_copies_monographs_are_loans(policies: PolicySet) -> None:
    requestable = policies.member("TUC").ill_requesting.requestable
    assert requestable["printed_book"] == ("loan",)
    assert requestable["print_journal_article"] == ("copy",)


def test_tuc_ill_6_late_ill_return_costs_054_per_item_per_day(policies: PolicySet) -> None:
    loans = policies.member("TUC").ill_requesting.loans
    assert loans.overdue_fine_per_day_per_item == Decimal("0.54")
    assert isinstance(loans.overdue_fine_per_day_per_item, Decimal)
    assert loans.rule_for("overdue_fine_per_day_per_item") == "TUC-ILL-6"


def test_tuc_ill_7_patrons_request_online_themselves(policies: PolicySet) -> None:
    ill = policies.member("TUC").ill_requesting
    assert ill.submission_channels == ("patron_online",)
    assert ill.rule_for("submission_channels") == "TUC-ILL-7"


def test_tuc_sup_1_lends_loanable_monographs_14_days_from_request_receipt(
    policies: PolicySet,
) -> None:
    supplying = policies.member("TUC").ill_supplying
    assert supplying.rule_ids == ("TUC-SUP-1",)
    assert supplying.lendable_material_types == ("printed_book",)
    assert supplying.loans_require_locally_loanable_item
    assert supplying.open_to == "consortium_members"
    assert (supplying.loan.loan_days, supplying.loan.loan_months) == (14, None)
    assert supplying.loan.counted_from == "request_received"


# --- CUT -----------------------------------------------------------------------------------


def test_cut_a1_cooperation_members_are_refused(policies: PolicySet) -> None:
    cut = policies.member("CUT")
    eligibility = cut.ill_requesting.eligibility
    assert "cooperation_member" not in eligibility.categories
    assert set(cut.categories) - set(eligibility.categories) == {"cooperation_member"}
    assert eligibility.rule_for("categories") == "CUT-A1"


def test_cut_a1_pay_who_pays(policies: PolicySet) -> None:
    cost = policies.member("CUT").ill_requesting.cost
    library = {code for code, payer in cost.payer_by_category.items() if payer == "library"}
    assert library == {"academic_staff", "special_scientist", "postgraduate", "doctoral"}
    assert cost.payer_by_category["undergraduate"] == "patron"
    assert cost.rule_for("payer_by_category") == "CUT-A1-PAY"


def test_cut_a2_ill_loans_count_toward_the_loan_limit(policies: PolicySet) -> None:
    eligibility = policies.member("CUT").ill_requesting.eligibility
    assert eligibility.ill_loans_count_toward_loan_limit
    assert eligibility.require_not_held_locally
    assert eligibility.refuse_if_blocked


def test_cut_a3_requestable_material(policies: PolicySet) -> None:
    requestable = policies.member("CUT").ill_requesting.requestable
    assert set(requestable) == {
        "printed_book",
        "book_chapter",
        "ejournal_article",
        "print_journal_article",
        "doctoral_thesis",
        "conference_proceedings",
        "conference_presentation",
    }


def test_cut_a4_cost_formula_and_prepayment(policies: PolicySet) -> None:
    cost = policies.member("CUT").ill_requesting.cost
    assert cost.service_charge_rate == Decimal("0.15")
    assert cost.vat_rate == Decimal("0.19")
    assert dict(cost.shipping_legs) == {"loan": 2, "copy": 0}
    assert all(isinstance(amount, Decimal) for amount in cost.shipping_per_leg.values())
    assert cost.personal_charge_prepaid
    assert cost.rule_for("personal_charge_prepaid") == "CUT-A4-PRE"


def test_cut_a4_external_supplier_charges(policies: PolicySet) -> None:
    def charge(code: str, service: IllServiceType) -> tuple[Decimal, Decimal | None]:
        entry = policies.external_supplier(code).charges[service]
        return entry.minimum, entry.maximum

    assert charge("BL", "copy") == (Decimal(30), None)  # 30 € minimum
    assert policies.external_supplier("BL").charges["copy"].estimate == Decimal(30)
    assert charge("BL", "loan") == (Decimal(30), Decimal(30))
    assert charge("SUBITO", "copy") == (Decimal(6), Decimal(11))
    assert charge("SUBITO", "loan") == (Decimal(13), Decimal(13))
    assert charge("EKT", "copy") == (Decimal(2), Decimal(15))
    assert charge("VDX", "loan") == (Decimal(30), Decimal(30))
    assert charge("CYUC", "loan") == (Decimal(20), Decimal(20))
    assert charge("CYUC", "copy") == (Decimal(0), Decimal(0))
    assert policies.external_supplier("EKT").service_types == ("copy",)
    assert policies.external_supplier("VDX").service_types == ("loan",)
    for supplier in policies.external_suppliers:
        assert (supplier.request_by, supplier.has_holdings) == ("citation", False)
        assert supplier.mediated_by_staff
        assert supplier.branches == ()
    assert {s.code: s.country for s in policies.external_suppliers} == {
        "BL": "GB",
        "CYUC": "CY",
        "EKT": "GR",
        "SUBITO": "DE",
        "VDX": "GR",
    }


def test_cut_a6_to_a11_deadlines(policies: PolicySet) -> None:
    ill = policies.member("CUT").ill_requesting
    assert ill.forward_within_working_days == 1
    assert ill.rule_for("forward_within_working_days") == "CUT-A6"
    assert ill.cancellation.patron_may_cancel_before == "processed"
    assert ill.pickup.uncollected_return_days_before_supplier_due == 2
    assert ill.loans.renewal_request_min_days_before_due == 4
    offset = ill.loans.patron_due_working_days_before_supplier_due
    assert (offset.minimum, offset.maximum) == (3, 5)
    assert offset.minimum <= offset.default <= offset.maximum
    assert set(ill.accepted_delivery_methods) == {"post", "courier", "fax", "email", "download"}


def test_cut_b2_at_most_15_open_per_requesting_library(policies: PolicySet) -> None:
    supplying = policies.member("CUT").ill_supplying
    assert supplying.max_open_per_requesting_library == 15
    assert supplying.rule_for("max_open_per_requesting_library") == "CUT-B2"


def test_cut_b3_non_lending_collections(policies: PolicySet) -> None:
    supplying = policies.member("CUT").ill_supplying
    assert set(supplying.non_lending_collections) == {
        "restricted_loan",
        "reference",
        "audiovisual",
        "standards",
    }


def test_cut_b5_b6_b7_b9_supplying_terms(policies: PolicySet) -> None:
    supplying = policies.member("CUT").ill_supplying
    loan = supplying.loan
    assert (loan.loan_days, loan.loan_months, loan.counted_from) == (None, 1, "shipped")
    assert loan.due_means == "back_at_supplier"
    assert (loan.max_renewals, loan.renewal_months) == (1, 1)
    assert loan.renewal_request_min_days_before_due == 4
    assert loan.renewal_refused_if_local_hold
    assert loan.may_recall
    assert dict(supplying.delivery.methods) == {
        "copy": ("fax", "email"),
        "loan": ("post", "courier"),
    }
    assert supplying.delivery.chosen_by == "requesting_library"
    assert supplying.cancellation.requester_may_cancel_before == "shipped"
    assert supplying.copy_requires_copyright_declaration
    assert supplying.open_to == "any_library"


def test_money_and_rates_are_decimals(policies: PolicySet) -> None:
    for member in policies.members:
        for category in member.categories.values():
            assert isinstance(category.fine_per_day, Decimal)
        assert isinstance(member.ill_requesting.cost.vat_rate, Decimal)
        assert isinstance(member.ill_supplying.loan.late_fee_per_day_per_item, Decimal)
    assert str(policies.member("UOC").categories["faculty"].fine_per_day) == "0.20"


# --- bad files -----------------------------------------------------------------------------


def policies_copy(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


BAD_EDITS = [
    pytest.param(
        "UOC",
        "loan_days = 10",
        'loan_days = "ten"',
        "policies/UOC.toml: categories.undergraduate.loan_days: Input should be a valid integer",
        id="wrong-type",
    ),
    pytest.param(
        "UOC",
        "max_loans = 7",
        'max_loans = "7"',
        "policies/UOC.toml: categories.undergraduate.max_loans: Input should be a valid integer",
        id="quoted-number",
    ),
    pytest.param(
        "UOC",
        "max_unpaid_balance = 0.00",
        "max_unpaid_balance = true",
        "policies/UOC.toml: blocks.max_unpaid_balance: Decimal input should be",
        id="bool-for-money",
    ),
    pytest.param(
        "UOC",
        "grace_days = 3 ",
        "grace_dayz = 1\ngrace_days = 3 ",
        "policies/UOC.toml: categories.undergraduate.grace_dayz: unknown key",
        id="unknown-key",
    ),
    pytest.param(
        "UOC",
        "hold_shelf_days = 7",
        "# hold_shelf_days removed",
        "policies/UOC.toml: holds.hold_shelf_days: Field required",
        id="missing-key",
    ),
    pytest.param(
        "TUC",
        'categories = ["faculty", "research_staff"',
        'categories = ["facutly", "research_staff"',
        "policies/TUC.toml: ill_requesting.eligibility.categories[0]: unknown category 'facutly'",
        id="unknown-category",
    ),
    pytest.param(
        "CUT",
        'special_scientist = "library", ',
        "",
        "policies/CUT.toml: ill_requesting.cost.payer_by_category: "
        "no payer for eligible category 'special_scientist'",
        id="eligible-category-without-payer",
    ),
    pytest.param(
        "UOC",
        'inherits_from = "undergraduate"',
        'inherits_from = "undergrad"',
        "policies/UOC.toml: categories.exchange_student.inherits_from: "
        "unknown category 'undergrad'",
        id="unknown-parent-category",
    ),
    pytest.param(
        "UOC",
        "max_loans = 7",
        "max_loans = ",
        "policies/UOC.toml: invalid TOML: ",
        id="malformed-toml",
    ),
    pytest.param(
        "UOC",
        'code = "UOC"',
        'code = "UOX"',
        "policies/UOC.toml: code: must match the file name 'UOC'",
        id="code-is-not-the-file-name",
    ),
    pytest.param(
        "UOC",
        '{ code = "UOC-RET"',
        '{ code = "UOC-HER"',
        "policies/UOC.toml: branches: branch codes must be unique",
        id="duplicate-branch",
    ),
    pytest.param(
        "AEG",
        '{ code = "AEG-CHI"',
        '{ code = "CHI"',
        "policies/AEG.toml: branches[1].code: must be 'AEG' or start with 'AEG-'",
        id="branch-code-prefix",
    ),
    pytest.param(
        "UOC",
        'branches = ["UOC-HER"]',
        'branches = ["UOC-XXX"]',
        "policies/UOC.toml: calendar.annual_closures[2].branches[0]: unknown branch 'UOC-XXX'",
        id="closure-unknown-branch",
    ),
    pytest.param(
        "UOC",
        'external_suppliers = ["VDX"',
        'external_suppliers = ["OCLC"',
        'policies/UOC.toml: ill_requesting.external_suppliers[0]: no OCLC.toml with role = "ext',
        id="unknown-external-supplier",
    ),
    pytest.param(
        "UOC",
        'counts_from = "renewal_date"',
        'counts_from = "tomorrow"',
        "policies/UOC.toml: renewals.counts_from: Input should be 'renewal_date' or 'due_date'",
        id="value-not-in-vocabulary",
    ),
    pytest.param(
        "UOC",
        'rule = "UOC-1"',
        'rule = "uoc 1"',
        "policies/UOC.toml: blocks: 'uoc 1' is not a rule ID like 'UOC-5-UG'",
        id="malformed-rule-id",
    ),
    pytest.param(
        "UOC",
        'cite = { hold_shelf_days = "UOC-4b" }',
        'cite = { hold_shelf_days = "UOC-4c" }',
        "policies/UOC.toml: holds: cite: 'UOC-4c' is not in this section's rules",
        id="cite-outside-rules",
    ),
    pytest.param(
        "UOC",
        "due_at_academic_period_end = true ",
        "loan_days = 90\ndue_at_academic_period_end = true ",
        "policies/UOC.toml: categories.faculty: "
        "give exactly one of loan_days or due_at_academic_period_end = true",
        id="two-loan-periods",
    ),
    pytest.param(
        "UOC",
        "end = 2026-06-30",
        "end = 2026-06-20",
        "policies/UOC.toml: calendar.academic_periods: must follow each other without gaps",
        id="gap-between-periods",
    ),
    pytest.param(
        "CUT",
        'holiday_categories = ["public"]',
        'holiday_categories = ["public", "feast"]',
        "policies/CUT.toml: calendar.holiday_categories: Category is not supported: feast",
        id="unknown-holiday-category",
    ),
    pytest.param(
        "AEG",
        "closures = []",
        "closures = [{ announced_on = 2027-05-01, start = 2027-07-01, end = 2027-07-15 }]",
        "policies/AEG.toml: inventory: closure starting 2027-07-01 was announced on 2027-05-01, "
        "less than 3 months ahead",
        id="inventory-notice-too-short",
    ),
    pytest.param(
        "SUBITO",
        "minimum = 6.00",
        'minimum = "six"',
        "policies/SUBITO.toml: charges.copy.minimum: Input should be a valid decimal",
        id="supplier-wrong-type",
    ),
    pytest.param(
        "BL",
        'role = "external_supplier"',
        'role = "supplier"',
        "policies/BL.toml: role: Input should be 'member' or 'external_supplier'",
        id="unknown-role",
    ),
]


@pytest.mark.parametrize(("code", "old", "new", "message"), BAD_EDITS)
def test_bad_file_names_file_and_key(
    tmp_path: Path, code: str, old: str, new: str, message: str
) -> None:
    directory = policies_copy(tmp_path)
    edit(directory / f"{code}.toml", old, new)
    with pytest.raises(PolicyFileError) as caught:
        load_policies(directory)
    assert str(caught.value).startswith(message)
    assert caught.value.path == directory / f"{code}.toml"


def test_error_carries_path_key_and_problem(tmp_path: Path) -> None:
    directory = policies_copy(tmp_path)
    edit(directory / "UOC.toml", "loan_days = 20", "loan_days = 2.5")
    with pytest.raises(PolicyFileError) as caught:
        load_policies(directory)
    error = caught.value
    assert (error.key, error.problem) == ("categories.admin_staff.loan_days", error.problems[0][1])
    assert error.problem.startswith("Input should be a valid integer")


def test_every_problem_in_a_file_is_reported(tmp_path: Path) -> None:
    directory = policies_copy(tmp_path)
    edit(directory / "UOC.toml", "loan_days = 10", 'loan_days = "ten"')
    with pytest.raises(PolicyFileError) as caught:
        load_policies(directory)
    # the two categories that inherit from undergraduate inherit the mistake too
    assert [key for key, _ in caught.value.problems] == [
        "categories.undergraduate.loan_days",
        "categories.exchange_student.loan_days",
        "categories.continuing_education.loan_days",
    ]
    assert len(str(caught.value).splitlines()) == 3


def test_branch_code_used_by_two_libraries(tmp_path: Path) -> None:
    directory = policies_copy(tmp_path)
    clash = directory / "AEG-MYT.toml"
    shutil.copy(directory / "TUC.toml", clash)
    edit(clash, 'code = "TUC"', 'code = "AEG-MYT"')
    edit(clash, '{ code = "TUC"', '{ code = "AEG-MYT"')
    with pytest.raises(PolicyFileError, match=r"branches\[0\]\.code: also a branch in AEG"):
        load_policies(directory)


def test_missing_or_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="policy directory not found"):
        load_policies(tmp_path / "nowhere")
    with pytest.raises(PolicyFileError, match=r"no \*\.toml policy files"):
        load_policies(tmp_path)


def test_a_member_library_file_alone_is_valid(tmp_path: Path) -> None:
    for name in ("TUC.toml", "BL.toml", "EKT.toml", "SUBITO.toml", "VDX.toml"):
        shutil.copy(POLICIES / name, tmp_path / name)
    loaded = load_policies(tmp_path)
    assert loaded.codes == ("TUC", "BL", "EKT", "SUBITO", "VDX")
    assert isinstance(loaded.library("TUC"), MemberLibrary)
