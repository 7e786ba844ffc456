"""Checkout and renewal decisions against the real policy files (UOC-5-*, AEG-1...AEG-8, CUT-A2)."""

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from kallimachos.domain.circulation import (
    Decision,
    ExceptionalGrant,
    Granted,
    Refused,
    checkout,
    renew,
)
from kallimachos.domain.errors import (
    CardExpired,
    ItemNotAvailable,
    LoanLimitReached,
    NotLoanable,
    OverdueLoansBlock,
    RefusalCode,
    SuspensionBlock,
    UnpaidFeesBlock,
)
from kallimachos.domain.policy import MemberLibrary
from kallimachos.services.holiday_data import calendar_for

from .builders import make_item, make_loan, make_patron, with_category, with_section

MONDAY = date(2026, 3, 2)


def granted(decision: Decision) -> Granted:
    assert isinstance(decision, Granted), decision
    return decision


def refused(decision: Decision) -> Refused:
    assert isinstance(decision, Refused), decision
    return decision


def lend(
    library: MemberLibrary, patron_category: str, today: date = MONDAY, **facts: Any
) -> Decision:
    item_facts = {k: facts.pop(k) for k in list(facts) if k in ITEM_KEYS}
    branch = library.branch_codes[0]
    return checkout(
        library,
        calendar_for(library, branch),
        patron=make_patron(patron_category, **facts),
        item=make_item(**item_facts),
        today=today,
    )


ITEM_KEYS = {
    "collection",
    "status",
    "high_demand",
    "damaged",
    "unprocessed",
    "hold_waiting_for_other",
    "trapped_for_patron",
}


# --- UOC-5: limits and loan periods --------------------------------------------------------


@pytest.mark.parametrize("category", ["undergraduate", "exchange_student", "continuing_education"])
def test_uoc_5_ug_limit_7_eighth_refused(uoc: MemberLibrary, category: str) -> None:
    seventh = granted(lend(uoc, category, open_loans=6))
    assert (seventh.due_on, seventh.rule) == (date(2026, 3, 12), "UOC-5-UG")

    eighth = refused(lend(uoc, category, open_loans=7))
    assert eighth.refusals == (
        LoanLimitReached(message="The patron already has 7 of 7 items.", rule="UOC-5-UG"),
    )


@pytest.mark.parametrize(
    ("category", "limit", "due_on", "rule"),
    [
        pytest.param("admin_staff", 8, date(2026, 3, 23), "UOC-5-ADM", id="adm-20-days-sunday"),
        pytest.param("postgraduate", 10, date(2026, 4, 1), "UOC-5-PG", id="pg-30-days"),
    ],
)
def test_uoc_5_adm_and_uoc_5_pg_limits_and_periods(
    uoc: MemberLibrary, category: str, limit: int, due_on: date, rule: str
) -> None:
    decision = granted(lend(uoc, category, open_loans=limit - 1))
    assert (decision.due_on, decision.rule) == (due_on, rule)
    assert refused(lend(uoc, category, open_loans=limit)).refusals[0].rule == rule


@pytest.mark.parametrize(
    ("fee_paid_until", "open_loans", "codes"),
    [
        pytest.param(date(2026, 12, 31), 4, (), id="paid-fifth-item"),
        pytest.param(date(2026, 12, 31), 5, ("LOAN_LIMIT_REACHED",), id="paid-sixth-item"),
        pytest.param(date(2026, 3, 2), 0, (), id="paid-through-today"),
        pytest.param(date(2026, 3, 1), 0, ("ANNUAL_FEE_UNPAID",), id="fee-lapsed-yesterday"),
        pytest.param(None, 0, ("ANNUAL_FEE_UNPAID",), id="never-paid"),
    ],
)
def test_uoc_5_ext_5_items_15_days_only_while_annual_fee_paid(
    uoc: MemberLibrary, fee_paid_until: date | None, open_loans: int, codes: tuple[str, ...]
) -> None:
    decision = lend(uoc, "external", fee_paid_until=fee_paid_until, open_loans=open_loans)
    if not codes:
        assert (granted(decision).due_on, granted(decision).rule) == (
            date(2026, 3, 17),
            "UOC-5-EXT",
        )
    else:
        assert refused(decision).codes == codes
        assert {r.rule for r in refused(decision).refusals} == {"UOC-5-EXT"}


@pytest.mark.parametrize(
    ("today", "due_on", "moved_from"),
    [
        pytest.param(date(2025, 10, 1), date(2026, 2, 16), date(2026, 2, 14), id="winter-sat"),
        pytest.param(date(2026, 3, 10), date(2026, 6, 30), None, id="spring"),
        pytest.param(date(2026, 7, 15), date(2026, 8, 31), None, id="summer"),
        pytest.param(date(2026, 9, 14), date(2027, 2, 15), date(2027, 2, 14), id="winter-sun"),
    ],
)
def test_uoc_5_fac_due_at_period_end(
    uoc: MemberLibrary, today: date, due_on: date, moved_from: date | None
) -> None:
    decision = granted(lend(uoc, "faculty", today, open_loans=29))
    assert decision.due.on == due_on
    assert decision.due.moved_from == moved_from
    assert decision.rule == "UOC-5-FAC"
    assert refused(lend(uoc, "faculty", today, open_loans=30)).codes == ("LOAN_LIMIT_REACHED",)


# --- UOC-1, UOC-1b, UOC-4: blocks, loanability, availability -------------------------------


def test_uoc_1_every_refusal_in_the_order_a_librarian_checks(uoc: MemberLibrary) -> None:
    decision = refused(
        lend(
            uoc,
            "undergraduate",
            overdue_loans=1,
            open_balance=Decimal("0.20"),
            card_expires_on=date(2026, 1, 31),
            open_loans=7,
            collection="restricted_loan",
            status="ON_LOAN",
        )
    )
    assert [type(r) for r in decision.refusals] == [
        OverdueLoansBlock,
        UnpaidFeesBlock,
        CardExpired,
        LoanLimitReached,
        NotLoanable,
        ItemNotAvailable,
    ]
    assert [r.rule for r in decision.refusals] == [
        "UOC-1",
        "UOC-1",
        "UOC-1",
        "UOC-5-UG",
        "UOC-1b",
        None,
    ]
    assert decision.refusals[0].user_error() == {
        "code": "PATRON_BLOCKED",
        "message": "The patron has 1 item overdue.",
        "rule": "UOC-1",
        "field": None,
    }


@pytest.mark.parametrize(
    "collection", ["restricted_loan", "reference", "periodicals", "grey_literature", "rare"]
)
def test_uoc_1b_restricted_categories_not_loanable(uoc: MemberLibrary, collection: str) -> None:
    decision = refused(lend(uoc, "faculty", collection=collection))
    assert (decision.codes, decision.refusals[0].rule) == (("NOT_LOANABLE",), "UOC-1b")


@pytest.mark.parametrize(
    ("status", "trapped", "waiting", "result"),
    [
        pytest.param("ON_HOLD_SHELF", True, False, None, id="kept-for-this-patron"),
        pytest.param("ON_HOLD_SHELF", False, False, "UOC-4b", id="kept-for-another"),
        pytest.param("AVAILABLE", False, True, "UOC-4c", id="queue-goes-first"),
        pytest.param("AVAILABLE", True, True, None, id="this-patron-is-first"),
    ],
)
def test_uoc_4b_uoc_4c_hold_shelf_and_queue_at_checkout(
    uoc: MemberLibrary, status: str, trapped: bool, waiting: bool, result: str | None
) -> None:
    decision = lend(
        uoc,
        "undergraduate",
        status=status,
        trapped_for_patron=trapped,
        hold_waiting_for_other=waiting,
    )
    if result is None:
        assert isinstance(decision, Granted)
    else:
        assert refused(decision).refusals[0] == ItemNotAvailable(
            message=refused(decision).refusals[0].message, rule=result
        )


@pytest.mark.parametrize(
    ("status", "codes"),
    [
        pytest.param("ON_LOAN", ("ITEM_NOT_AVAILABLE",), id="on-loan"),
        pytest.param("IN_TRANSIT", ("ITEM_NOT_AVAILABLE",), id="in-transit"),
        pytest.param("LOST", ("NOT_LOANABLE",), id="lost-only-once"),
    ],
)
def test_uoc_1b_lost_copy_not_loanable_copy_out_not_available(
    uoc: MemberLibrary, status: str, codes: tuple[str, ...]
) -> None:
    assert refused(lend(uoc, "undergraduate", status=status)).codes == codes


# --- UOC-5 renewals ------------------------------------------------------------------------


def renewal(
    library: MemberLibrary,
    category: str,
    today: date,
    loan: tuple[date, date],
    patron: dict[str, Any] | None = None,
    **facts: Any,
) -> Decision:
    loan_keys = {"renewals", "recalled"}
    loan_facts = {k: facts.pop(k) for k in list(facts) if k in loan_keys}
    return renew(
        library,
        calendar_for(library, library.branch_codes[0]),
        patron=make_patron(category, **(patron or {})),
        item=make_item(**facts),
        loan=make_loan(*loan, **loan_facts),
        today=today,
    )


@pytest.mark.parametrize(
    ("renewals", "due_on"),
    [
        pytest.param(0, date(2026, 3, 20), id="first"),
        pytest.param(1, date(2026, 3, 20), id="second"),
        pytest.param(2, None, id="third-refused"),
    ],
)
def test_uoc_5_ug_two_renewals_third_refused(
    uoc: MemberLibrary, renewals: int, due_on: date | None
) -> None:
    decision = renewal(
        uoc, "undergraduate", date(2026, 3, 10), (MONDAY, date(2026, 3, 12)), renewals=renewals
    )
    if due_on is None:
        assert refused(decision).codes == ("RENEWAL_LIMIT_REACHED",)
        assert refused(decision).refusals[0].rule == "UOC-5-UG"
    else:
        assert (granted(decision).due_on, granted(decision).rule) == (due_on, "UOC-5-UG")


@pytest.mark.parametrize("category", ["admin_staff", "postgraduate", "external"])
def test_uoc_5_adm_pg_ext_no_renewals(uoc: MemberLibrary, category: str) -> None:
    patron = {"fee_paid_until": date(2026, 12, 31)}
    decision = refused(
        renewal(uoc, category, date(2026, 3, 10), (MONDAY, date(2026, 3, 22)), patron)
    )
    assert decision.codes == ("RENEWAL_LIMIT_REACHED",)
    assert decision.refusals[0].message == "Loans of this category cannot be renewed."
    assert decision.refusals[0].rule == uoc.category(category).rule


def test_uoc_5_fac_one_renewal_into_the_next_period_second_refused(uoc: MemberLibrary) -> None:
    loan = (date(2025, 10, 1), date(2026, 2, 16))
    first = granted(renewal(uoc, "faculty", date(2026, 2, 10), loan))
    assert (first.due_on, first.rule) == (date(2026, 6, 30), "UOC-5-FAC")
    second = refused(renewal(uoc, "faculty", date(2026, 6, 20), loan, renewals=1))
    assert (second.codes, second.refusals[0].rule) == (("RENEWAL_LIMIT_REACHED",), "UOC-5-FAC")


@pytest.mark.parametrize(
    ("facts", "codes", "rules"),
    [
        pytest.param(
            {"hold_waiting_for_other": True},
            ("RENEWAL_BLOCKED_BY_HOLD",),
            ("UOC-4a",),
            id="hold-waits",
        ),
        pytest.param({"recalled": True}, ("LOAN_RECALLED",), ("UOC-4a",), id="recalled"),
        pytest.param(
            {"patron": {"overdue_loans": 1}}, ("PATRON_BLOCKED",), ("UOC-1",), id="blocked"
        ),
        pytest.param(
            {"recalled": True, "renewals": 2, "hold_waiting_for_other": True},
            ("LOAN_RECALLED", "RENEWAL_LIMIT_REACHED", "RENEWAL_BLOCKED_BY_HOLD"),
            ("UOC-4a", "UOC-5-UG", "UOC-4a"),
            id="all-in-order",
        ),
    ],
)
def test_uoc_4a_uoc_1_renewal_refused_for_hold_recall_or_block(
    uoc: MemberLibrary, facts: dict[str, Any], codes: tuple[str, ...], rules: tuple[str, ...]
) -> None:
    patron = facts.pop("patron", None)
    decision = refused(
        renewal(
            uoc,
            "undergraduate",
            date(2026, 3, 10),
            (MONDAY, date(2026, 3, 12)),
            patron,
            **facts,
        )
    )
    assert decision.codes == codes
    assert tuple(r.rule for r in decision.refusals) == rules


def test_uoc_5_ug_renewal_blocks_follow_the_policy_switches(uoc: MemberLibrary) -> None:
    lenient = with_section(
        uoc, "renewals", blocked_by_waiting_hold=False, blocked_for_blocked_patron=False
    )
    decision = renewal(
        lenient,
        "undergraduate",
        date(2026, 3, 10),
        (MONDAY, date(2026, 3, 12)),
        {"overdue_loans": 1},
        hold_waiting_for_other=True,
    )
    assert granted(decision).due_on == date(2026, 3, 20)


# --- AEG ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "due_on"),
    [
        pytest.param("undergraduate", date(2026, 3, 9), id="one-week"),
        pytest.param("faculty", date(2026, 3, 16), id="faculty-two-weeks"),
        pytest.param("postgraduate", date(2026, 3, 16), id="pg-two-weeks"),
        pytest.param("admin_staff", date(2026, 3, 16), id="admin-two-weeks"),
    ],
)
def test_aeg_3_one_week_for_undergraduates_two_for_others(
    aeg: MemberLibrary, category: str, due_on: date
) -> None:
    decision = granted(lend(aeg, category))
    assert (decision.due_on, decision.rule) == (due_on, "AEG-3")


@pytest.mark.parametrize(
    ("category", "limit"),
    [("undergraduate", 3), ("admin_staff", 3), ("postgraduate", 6), ("faculty", 8)],
)
def test_aeg_4_items_at_once(aeg: MemberLibrary, category: str, limit: int) -> None:
    assert isinstance(lend(aeg, category, open_loans=limit - 1), Granted)
    over = refused(lend(aeg, category, open_loans=limit))
    assert (over.codes, over.refusals[0].rule) == (("LOAN_LIMIT_REACHED",), "AEG-4")


def test_aeg_1_visitor_has_counterpart_rights_until_the_visit_ends(aeg: MemberLibrary) -> None:
    # Undergraduate rights (one week), but the visit ends on Saturday 7 March: the loan falls
    # due on the Friday before, because Monday would be after the visit.
    decision = granted(lend(aeg, "visiting_student", visit_ends_on=date(2026, 3, 7)))
    assert decision.due.on == date(2026, 3, 6)
    assert decision.due.moved_from == date(2026, 3, 7)
    assert decision.rule == "AEG-1"

    over = refused(lend(aeg, "visiting_faculty", visit_ends_on=date(2026, 3, 1)))
    assert over.refusals == (
        CardExpired(message="The patron's visit ended on 2026-03-01.", rule="AEG-1"),
    )


@pytest.mark.parametrize(
    ("category", "met", "codes"),
    [
        pytest.param("external", set(), ("REQUIREMENT_NOT_MET",) * 2, id="external-nothing"),
        pytest.param(
            "external", {"branch_head_approval"}, ("REQUIREMENT_NOT_MET",), id="external-no-id"
        ),
        pytest.param("external", {"branch_head_approval", "police_id_deposited"}, (), id="ok"),
        pytest.param("eap_student", set(), ("REQUIREMENT_NOT_MET",), id="hou-off-island"),
        pytest.param("eap_student", {"resides_on_branch_island"}, (), id="hou-on-island"),
    ],
)
def test_aeg_1_external_users_and_hou_students_conditions(
    aeg: MemberLibrary, category: str, met: set[str], codes: tuple[str, ...]
) -> None:
    decision = lend(aeg, category, requirements_met=frozenset(met))
    if codes:
        assert refused(decision).codes == codes
        assert {r.rule for r in refused(decision).refusals} == {"AEG-1"}
    else:
        assert granted(decision).due_on == date(2026, 3, 9)


def test_aeg_1_external_users_one_item_one_week(aeg: MemberLibrary) -> None:
    met = frozenset({"branch_head_approval", "police_id_deposited"})
    assert granted(lend(aeg, "external", requirements_met=met)).rule == "AEG-1"
    over = refused(lend(aeg, "external", requirements_met=met, open_loans=1))
    assert (over.codes, over.refusals[0].rule) == (("LOAN_LIMIT_REACHED",), "AEG-1")


@pytest.mark.parametrize(
    "facts",
    [
        pytest.param({"collection": "reference"}, id="reference"),
        pytest.param({"collection": "periodicals"}, id="journal-issues"),
        pytest.param({"collection": "audiovisual"}, id="audiovisual"),
        pytest.param({"collection": "grey_literature"}, id="theses"),
        pytest.param({"collection": "rare"}, id="rare"),
        pytest.param({"high_demand": True}, id="high-demand"),
        pytest.param({"damaged": True}, id="awaiting-conservation"),
        pytest.param({"unprocessed": True}, id="not-yet-processed"),
    ],
)
def test_aeg_2_not_loanable(aeg: MemberLibrary, facts: dict[str, Any]) -> None:
    decision = refused(lend(aeg, "faculty", **facts))
    assert (decision.codes, decision.refusals[0].rule) == (("NOT_LOANABLE",), "AEG-2")


def test_aeg_2_high_demand_copy_is_not_renewed(aeg: MemberLibrary) -> None:
    decision = refused(
        renewal(aeg, "faculty", date(2026, 3, 10), (MONDAY, date(2026, 3, 16)), high_demand=True)
    )
    assert decision.codes == ("RENEWAL_LIMIT_REACHED", "NOT_LOANABLE")
    assert [r.rule for r in decision.refusals] == ["AEG-3", "AEG-2"]


@pytest.mark.parametrize(
    ("category", "grant", "clean_years", "open_loans", "outcome"),
    [
        pytest.param(
            "faculty",
            ExceptionalGrant(due_on=date(2026, 5, 2)),
            1,
            0,
            (date(2026, 4, 30), "AEG-5"),
            id="two-months-sat-then-labour-day-moves-back",
        ),
        pytest.param(
            "undergraduate",
            ExceptionalGrant(due_on=date(2026, 4, 2)),
            3,
            0,
            (date(2026, 4, 2), "AEG-5"),
            id="undergraduate-one-month",
        ),
        pytest.param(
            "undergraduate",
            ExceptionalGrant(due_on=date(2026, 4, 3)),
            3,
            0,
            ("EXTENSION_NOT_ALLOWED",),
            id="undergraduate-past-one-month",
        ),
        pytest.param(
            "postgraduate",
            ExceptionalGrant(due_on=date(2026, 4, 2)),
            0,
            0,
            ("EXTENSION_NOT_ALLOWED",),
            id="no-clean-year",
        ),
        pytest.param(
            "undergraduate",
            ExceptionalGrant(extra_loans=2),
            1,
            4,
            (date(2026, 3, 9), "AEG-3"),
            id="two-more-items",
        ),
        pytest.param(
            "undergraduate",
            ExceptionalGrant(extra_loans=3),
            1,
            3,
            ("EXTENSION_NOT_ALLOWED", "LOAN_LIMIT_REACHED"),
            id="three-more-items-too-many",
        ),
    ],
)
def test_aeg_5_exceptional_longer_loan_or_more_items(
    aeg: MemberLibrary,
    category: str,
    grant: ExceptionalGrant,
    clean_years: int,
    open_loans: int,
    outcome: tuple[date, str] | tuple[str, ...],
) -> None:
    decision = checkout(
        aeg,
        calendar_for(aeg, "AEG-MYT"),
        patron=make_patron(
            category, clean_record_academic_years=clean_years, open_loans=open_loans
        ),
        item=make_item(),
        today=MONDAY,
        grant=grant,
    )
    if isinstance(outcome[0], date):
        assert (granted(decision).due_on, granted(decision).rule) == outcome
    else:
        assert refused(decision).codes == outcome
        assert refused(decision).refusals[0].rule == "AEG-5"


@pytest.mark.parametrize(
    ("today", "allowed"),
    [
        pytest.param(date(2026, 6, 30), False, id="last-day-of-suspension"),
        pytest.param(date(2026, 7, 1), True, id="day-after"),
    ],
)
def test_aeg_8_suspended_patron_cannot_borrow(
    aeg: MemberLibrary, today: date, allowed: bool
) -> None:
    decision = lend(aeg, "undergraduate", today, suspended_until=date(2026, 6, 30))
    if allowed:
        assert isinstance(decision, Granted)
    else:
        assert refused(decision).refusals == (
            SuspensionBlock(message="Borrowing is suspended until 2026-06-30.", rule="AEG-8"),
        )


# --- CUT, TUC -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("open_loans", "ill_loans", "counts", "refused_by"),
    [
        pytest.param(4, 1, True, None, id="sixth-with-ill"),
        pytest.param(4, 2, True, "CUT-A2", id="ill-loans-fill-the-limit"),
        pytest.param(6, 0, True, "", id="own-loans-fill-the-limit-no-rule-named"),
        pytest.param(4, 2, False, None, id="policy-without-ill-counting"),
    ],
)
def test_cut_a2_ill_loans_count_toward_the_loan_limit(
    cut: MemberLibrary, open_loans: int, ill_loans: int, counts: bool, refused_by: str | None
) -> None:
    eligibility = replace(cut.ill_requesting.eligibility, ill_loans_count_toward_loan_limit=counts)
    library = with_section(cut, "ill_requesting", eligibility=eligibility)
    decision = lend(library, "undergraduate", open_loans=open_loans, open_ill_loans=ill_loans)
    if refused_by is None:
        assert granted(decision).due_on == date(2026, 3, 16)
    else:
        refusal = refused(decision).refusals[0]
        assert refusal.code is RefusalCode.LOAN_LIMIT_REACHED
        assert refusal.rule == (refused_by or None)


def test_cut_a7_user_unpaid_ill_charge_suspends_borrowing(cut: MemberLibrary) -> None:
    decision = refused(
        lend(cut, "undergraduate", unpaid_ill_charges=Decimal(12), open_balance=Decimal(12))
    )
    assert decision.refusals == (
        SuspensionBlock(
            message="Borrowing is suspended until the interlibrary loan charge of "
            "12.00 EUR is paid.",
            rule="CUT-A7-USER",
        ),
        UnpaidFeesBlock(message="The patron owes 12.00 EUR in unpaid fees.", rule=None),
    )


@pytest.mark.parametrize(
    ("code", "category", "due_on"),
    [
        pytest.param("TUC", "faculty", date(2026, 5, 4), id="tuc-60-days-labour-day"),
        pytest.param("TUC", "undergraduate", date(2026, 3, 16), id="tuc-14-days"),
        pytest.param("CUT", "academic_staff", date(2026, 5, 4), id="cut-60-days-labour-day"),
        pytest.param("CUT", "erasmus", date(2026, 3, 16), id="cut-erasmus-inherits-14"),
    ],
)
def test_local_loans_tuc_cut_use_their_policy_values(
    tuc: MemberLibrary, cut: MemberLibrary, code: str, category: str, due_on: date
) -> None:
    decision = granted(lend(tuc if code == "TUC" else cut, category))
    assert (decision.due_on, decision.rule) == (due_on, None)


def test_local_loans_cut_renewal_from_the_renewal_date(cut: MemberLibrary) -> None:
    decision = renewal(cut, "undergraduate", date(2026, 3, 12), (MONDAY, date(2026, 3, 16)))
    assert granted(decision).due_on == date(2026, 3, 26)
    no_more = renewal(
        cut, "undergraduate", date(2026, 3, 12), (MONDAY, date(2026, 3, 16)), renewals=1
    )
    assert refused(no_more).codes == ("RENEWAL_LIMIT_REACHED",)


def test_uoc_5_ug_renewal_never_shortens_the_loan(uoc: MemberLibrary) -> None:
    short = with_category(uoc, "undergraduate", renewal_days=3)
    decision = renewal(short, "undergraduate", date(2026, 3, 3), (MONDAY, date(2026, 3, 12)))
    assert granted(decision).due_on == date(2026, 3, 12)
