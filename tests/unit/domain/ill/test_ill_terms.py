"""Who may request ILL, for what, from whom (TUC-ILL-1..3, TUC-SUP-1, CUT-A1..A3, CUT-A8,
CUT-B1..B3, CUT-B6, CUT-B9), and who may cancel when (CUT-A7-*, CUT-B5)."""

from dataclasses import replace
from datetime import date

import pytest

from kallimachos.domain.errors import Refusal
from kallimachos.domain.ill_cancellation import CancelParty, Stage, cancel_refusals, reached
from kallimachos.domain.ill_terms import (
    copyright_refusals,
    delivery_methods,
    delivery_refusals,
    eligibility_refusals,
    holds_locally,
    is_returnable,
    requestable_refusals,
    signature_required,
    suppliable_copies,
    supplier_refusals,
)
from kallimachos.domain.policy import (
    IllMaterialType,
    IllServiceType,
    IllStage,
    MemberLibrary,
    PolicySet,
)

from ..builders import make_copy, make_patron

TODAY = date(2026, 3, 2)


def codes(refusals: tuple[Refusal, ...]) -> list[tuple[str, str | None]]:
    return [(r.code.value, r.rule) for r in refusals]


def eligible(library: MemberLibrary, category: str, **facts: object) -> tuple[Refusal, ...]:
    return eligibility_refusals(
        library,
        patron=make_patron(category, **facts),
        today=TODAY,
        service_type="loan",
        held_locally=False,
    )


# --- eligibility -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "refused"),
    [
        ("faculty", False),
        ("research_staff", False),
        ("etep", False),
        ("eedip", False),
        ("postgraduate", False),
        ("undergraduate", True),
        ("admin_staff", True),
    ],
)
def test_tuc_ill_1_only_staff_and_postgraduates_may_request(
    tuc: MemberLibrary, category: str, refused: bool
) -> None:
    found = eligible(tuc, category)
    assert codes(found) == ([("ILL_NOT_ELIGIBLE", "TUC-ILL-1")] if refused else [])
    if refused:
        assert "faculty, research staff, etep, eedip, postgraduate" in found[0].message


def test_cut_a1_cooperation_members_are_refused_and_everyone_else_may_request(
    cut: MemberLibrary,
) -> None:
    [refusal] = eligible(cut, "cooperation_member")
    assert (refusal.code.value, refusal.rule) == ("ILL_NOT_ELIGIBLE", "CUT-A1")
    assert refusal.message.startswith("Cooperation members (other Cypriot academic libraries)")
    others = [c for c in cut.categories if c != "cooperation_member"]
    assert len(others) == 10
    assert all(eligible(cut, category) == () for category in others)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        pytest.param({"overdue_loans": 1}, [("PATRON_BLOCKED", "CUT-A2")], id="overdue"),
        pytest.param(
            {"card_expires_on": date(2026, 1, 31)}, [("CARD_EXPIRED", "CUT-A2")], id="expired"
        ),
        pytest.param(
            {"unpaid_ill_charges": 12, "open_balance": 12},
            [("PATRON_BLOCKED", "CUT-A7-USER"), ("PATRON_BLOCKED", "CUT-A2")],
            id="unpaid-ill-charge-names-its-own-rule",
        ),
        pytest.param({}, [], id="no-obligation"),
    ],
)
def test_cut_a2_no_outstanding_obligation(
    cut: MemberLibrary, facts: dict[str, object], expected: list[tuple[str, str]]
) -> None:
    assert codes(eligible(cut, "undergraduate", **facts)) == expected


@pytest.mark.parametrize(
    ("loans", "ill_loans", "requests", "service", "refused"),
    [
        (5, 0, 0, "loan", False),
        (4, 1, 1, "loan", True),
        (3, 3, 0, "loan", True),
        (6, 0, 0, "copy", False),  # a copy is kept, not a loan
    ],
)
def test_cut_a2_ill_loans_count_toward_the_loan_limit(
    cut: MemberLibrary,
    loans: int,
    ill_loans: int,
    requests: int,
    service: IllServiceType,
    refused: bool,
) -> None:
    found = eligibility_refusals(
        cut,
        patron=make_patron("undergraduate", open_loans=loans, open_ill_loans=ill_loans),
        today=TODAY,
        service_type=service,
        held_locally=False,
        open_ill_loan_requests=requests,
    )
    assert codes(found) == ([("LOAN_LIMIT_REACHED", "CUT-A2")] if refused else [])


def test_cut_a2_material_the_library_holds_is_not_requested(cut: MemberLibrary) -> None:
    found = eligibility_refusals(
        cut, patron=make_patron("doctoral"), today=TODAY, service_type="copy", held_locally=True
    )
    assert codes(found) == [("ILL_HELD_LOCALLY", "CUT-A2")]


@pytest.mark.parametrize(
    ("statuses", "held"),
    [
        ([], False),
        (["LOST", "WITHDRAWN", "MISSING"], False),
        (["ON_LOAN"], True),
        (["LOST", "AVAILABLE"], True),
    ],
)
def test_tuc_ill_2_ill_only_for_material_tuc_does_not_hold(
    tuc: MemberLibrary, statuses: list[str], held: bool
) -> None:
    assert holds_locally(make_copy(status=s) for s in statuses) is held
    found = eligibility_refusals(
        tuc, patron=make_patron("faculty"), today=TODAY, service_type="loan", held_locally=held
    )
    assert codes(found) == ([("ILL_HELD_LOCALLY", "TUC-ILL-2")] if held else [])


# --- requestable material --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("material", "service", "field"),
    [
        ("printed_book", "loan", None),
        ("printed_book", "copy", "serviceType"),
        ("book_chapter", "copy", None),
        ("ejournal_article", "copy", None),
        ("print_journal_article", "copy", None),
        ("doctoral_thesis", "loan", None),
        ("doctoral_thesis", "copy", None),
        ("conference_proceedings", "loan", None),
        ("conference_presentation", "copy", None),
        ("conference_presentation", "loan", "serviceType"),
        (None, "copy", "materialType"),
    ],
)
def test_cut_a3_requestable_material(
    cut: MemberLibrary,
    material: IllMaterialType | None,
    service: IllServiceType,
    field: str | None,
) -> None:
    found = requestable_refusals(cut, material_type=material, service_type=service)
    if field is None:
        assert found == ()
    else:
        assert [(r.code.value, r.rule, r.field) for r in found] == [
            ("ILL_MATERIAL_NOT_REQUESTABLE", "CUT-A3", field)
        ]


def test_tuc_ill_3_articles_come_as_copies_kept_and_monographs_as_loans_returned(
    tuc: MemberLibrary,
) -> None:
    assert (
        requestable_refusals(tuc, material_type="print_journal_article", service_type="copy") == ()
    )
    assert requestable_refusals(tuc, material_type="printed_book", service_type="loan") == ()
    [as_loan] = requestable_refusals(tuc, material_type="ejournal_article", service_type="loan")
    assert (as_loan.rule, as_loan.field) == ("TUC-ILL-3", "serviceType")
    [chapter] = requestable_refusals(tuc, material_type="book_chapter", service_type="copy")
    assert chapter.rule == "TUC-ILL-3"
    assert (is_returnable("copy"), is_returnable("loan")) == (False, True)
    assert (signature_required(tuc, "copy"), signature_required(tuc, "loan")) == (False, True)


# --- the supplier's rules --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("material", "service", "copy", "expected"),
    [
        pytest.param("printed_book", "loan", {}, [], id="loanable-monograph"),
        pytest.param(
            "conference_proceedings",
            "loan",
            {},
            [("ILL_NOT_SUPPLIABLE", "TUC-SUP-1")],
            id="not-a-monograph",
        ),
        pytest.param(
            "printed_book",
            "loan",
            {"damaged": True},
            [("ILL_NOT_SUPPLIABLE", "TUC-SUP-1")],
            id="not-marked-loanable",
        ),
        pytest.param(
            "printed_book",
            "loan",
            {"collection": "reference"},
            [("ILL_NOT_SUPPLIABLE", "TUC-SUP-1")],
            id="reference-not-loanable",
        ),
        pytest.param(
            "print_journal_article",
            "copy",
            {},
            [("ILL_NOT_SUPPLIABLE", "TUC-SUP-1")],
            id="lends-only",
        ),
    ],
)
def test_tuc_sup_1_lends_only_monographs_marked_loanable(
    cut: MemberLibrary,
    tuc: MemberLibrary,
    material: IllMaterialType,
    service: IllServiceType,
    copy: dict[str, object],
    expected: list[tuple[str, str]],
) -> None:
    found = supplier_refusals(
        cut,
        tuc,
        service_type=service,
        material_type=material,
        copies=[make_copy(**copy)],  # type: ignore[arg-type]
    )
    assert codes(found) == expected


@pytest.mark.parametrize("requester", ["TUC", "UOC", "AEG"])
def test_cut_b1_any_member_library_may_request_from_cut(
    policies: PolicySet, requester: str
) -> None:
    cut = policies.member("CUT")
    assert cut.ill_supplying.open_to == "any_library"
    assert cut.ill_supplying.rule_for("open_to") == "CUT-B1"
    found = supplier_refusals(
        policies.member(requester),
        cut,
        service_type="loan",
        material_type="printed_book",
        copies=[make_copy()],
    )
    assert found == ()


@pytest.mark.parametrize(("open_requests", "refused"), [(0, False), (14, False), (15, True)])
def test_cut_b2_at_most_fifteen_open_requests_per_requesting_library(
    tuc: MemberLibrary, cut: MemberLibrary, open_requests: int, refused: bool
) -> None:
    found = supplier_refusals(
        tuc, cut, service_type="loan", material_type="printed_book", open_requests=open_requests
    )
    assert codes(found) == ([("ILL_SUPPLIER_LIMIT", "CUT-B2")] if refused else [])


@pytest.mark.parametrize(
    ("collection", "lent"),
    [
        ("general", True),
        ("periodicals", True),
        ("grey_literature", True),
        ("restricted_loan", False),
        ("reference", False),
        ("audiovisual", False),
        ("standards", False),
    ],
)
def test_cut_b3_everything_but_the_non_lending_collections(
    tuc: MemberLibrary, cut: MemberLibrary, collection: str, lent: bool
) -> None:
    copies = [make_copy(collection)]
    assert bool(suppliable_copies(cut, copies, "copy")) is lent
    found = supplier_refusals(
        tuc, cut, service_type="copy", material_type="print_journal_article", copies=copies
    )
    assert codes(found) == ([] if lent else [("ILL_NOT_SUPPLIABLE", "CUT-B3")])


def test_cut_b3_gone_copies_are_never_supplied(cut: MemberLibrary) -> None:
    assert suppliable_copies(cut, [make_copy(status="LOST")], "copy") == ()


# --- delivery and copyright ------------------------------------------------------------------


def test_cut_a8_material_arrives_by_post_courier_fax_email_or_download(
    policies: PolicySet, cut: MemberLibrary
) -> None:
    assert cut.ill_requesting.accepted_delivery_methods == (
        "post",
        "courier",
        "fax",
        "email",
        "download",
    )
    subito = policies.external_supplier("SUBITO")
    assert delivery_methods(cut, subito, "copy") == ("email", "download")
    assert delivery_refusals(cut, subito, "loan", "post") == ()
    found = delivery_refusals(cut, subito, "loan", "pigeon")
    assert [(r.code.value, r.rule, r.field) for r in found] == [
        ("ILL_DELIVERY_METHOD_REFUSED", "CUT-A8", "deliveryMethod"),
        ("ILL_DELIVERY_METHOD_REFUSED", "CUT-A4", "deliveryMethod"),
    ]


@pytest.mark.parametrize(
    ("service", "method", "refused"),
    [
        ("copy", "email", False),
        ("copy", "fax", False),
        ("copy", "post", True),
        ("loan", "post", False),
        ("loan", "courier", False),
        ("loan", "email", True),
    ],
)
def test_cut_b6_articles_by_fax_or_email_books_by_post_or_courier(
    policies: PolicySet, service: IllServiceType, method: str, refused: bool
) -> None:
    aeg, cut = policies.member("AEG"), policies.member("CUT")
    by_cut = [r for r in delivery_refusals(aeg, cut, service, method) if r.rule == "CUT-B6"]
    assert len(by_cut) == (1 if refused else 0)
    assert cut.ill_supplying.delivery.chosen_by == "requesting_library"


def test_cut_b6_methods_both_sides_use(policies: PolicySet) -> None:
    tuc, cut = policies.member("TUC"), policies.member("CUT")
    assert delivery_methods(tuc, cut, "copy") == ("email",)  # TUC takes no fax
    assert delivery_methods(tuc, cut, "loan") == ("post", "courier")


@pytest.mark.parametrize(
    ("service", "declared", "refused"),
    [("copy", False, True), ("copy", True, False), ("loan", False, False)],
)
def test_cut_b9_copy_requests_carry_the_copyright_declaration(
    policies: PolicySet, service: IllServiceType, declared: bool, refused: bool
) -> None:
    found = copyright_refusals(policies.member("CUT"), service, declared=declared)
    assert [(r.code.value, r.rule, r.field) for r in found] == (
        [("ILL_COPYRIGHT_DECLARATION_MISSING", "CUT-B9", "copyrightDeclaration")] if refused else []
    )
    assert copyright_refusals(policies.external_supplier("BL"), service, declared=False) == ()


# --- cancellation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "cutoff", "expected"),
    [
        ("submitted", "processed", False),
        ("processed", "processed", True),
        ("processed", "shipped", False),
        ("shipped", "shipped", True),
    ],
)
def test_cut_a7_user_stages_in_order(stage: Stage, cutoff: IllStage, expected: bool) -> None:
    assert reached(stage, cutoff) is expected


@pytest.mark.parametrize(
    ("stage", "refused"), [("submitted", False), ("processed", True), ("shipped", True)]
)
def test_cut_a7_user_patron_cancels_only_before_processing(
    policies: PolicySet, stage: Stage, refused: bool
) -> None:
    cut = policies.member("CUT")
    found = cancel_refusals(cut, policies.library("UOC"), party="patron", stage=stage)
    assert codes(found) == ([("ILL_CANCEL_NOT_ALLOWED", "CUT-A7-USER")] if refused else [])
    if refused:
        assert "must collect it and pay" in found[0].message


@pytest.mark.parametrize(
    ("reason", "refused"),
    [
        ("details_incomplete_unreachable", False),
        ("held_locally", False),
        ("not_found", False),
        ("patron_changed_mind", True),
        (None, True),
    ],
)
def test_cut_a7_staff_cancel_only_for_the_policy_reasons(
    policies: PolicySet, reason: str | None, refused: bool
) -> None:
    cut = policies.member("CUT")
    for stage in ("submitted", "processed"):
        found = cancel_refusals(
            cut, policies.library("UOC"), party="requesting_library", stage=stage, reason=reason
        )
        assert [(r.code.value, r.rule, r.field) for r in found] == (
            [("ILL_CANCEL_NOT_ALLOWED", "CUT-A7-STAFF", "reason")] if refused else []
        )


@pytest.mark.parametrize(
    ("reason", "stage", "expected"),
    [
        ("on_loan", "processed", []),
        ("lost", "processed", []),
        ("non_lending_collection", "processed", []),
        ("publisher_restriction", "processed", []),
        ("too_busy", "processed", [("ILL_CANCEL_NOT_ALLOWED", "CUT-A7-SUP")]),
        ("on_loan", "shipped", [("ILL_CANCEL_NOT_ALLOWED", "CUT-A7-SUP")]),
    ],
)
def test_cut_a7_sup_supplier_cancels_only_for_the_accepted_reasons(
    policies: PolicySet, reason: str, stage: Stage, expected: list[tuple[str, str]]
) -> None:
    found = cancel_refusals(
        policies.member("CUT"), policies.library("BL"), party="supplier", stage=stage, reason=reason
    )
    assert codes(found) == expected


@pytest.mark.parametrize(
    ("party", "stage", "reason", "expected"),
    [
        ("requesting_library", "processed", "not_found", []),
        ("requesting_library", "shipped", "not_found", [("ILL_CANCEL_NOT_ALLOWED", "CUT-B5")]),
        ("supplier", "processed", "publisher_restriction", []),
        ("supplier", "processed", "on_loan", []),
    ],
)
def test_cut_b5_requesting_library_may_cancel_until_cut_ships(
    policies: PolicySet,
    party: CancelParty,
    stage: Stage,
    reason: str,
    expected: list[tuple[str, str]],
) -> None:
    found = cancel_refusals(
        policies.member("TUC"), policies.member("CUT"), party=party, stage=stage, reason=reason
    )
    assert codes(found) == expected
    if expected:
        assert "must take the item and pay shipping both ways" in found[0].message


def test_cut_b5_cut_staff_reasons_bind_the_supplier(policies: PolicySet) -> None:
    """A reason the requesting library would accept but CUT's staff may not use is refused
    under CUT's own rule (a hand-built narrower policy)."""
    tuc = policies.member("TUC")
    cut = policies.member("CUT")
    narrow = replace(
        cut,
        ill_supplying=replace(
            cut.ill_supplying,
            cancellation=replace(cut.ill_supplying.cancellation, staff_cancel_reasons=("lost",)),
        ),
    )
    found = cancel_refusals(tuc, narrow, party="supplier", stage="processed", reason="on_loan")
    assert [(r.code.value, r.rule, r.field) for r in found] == [
        ("ILL_CANCEL_NOT_ALLOWED", "CUT-B5", "reason")
    ]


def test_cut_b5_external_supplier_cancellation_ends_at_shipping(policies: PolicySet) -> None:
    cut = policies.member("CUT")
    found = cancel_refusals(
        cut, policies.library("BL"), party="requesting_library", stage="shipped", reason="not_found"
    )
    assert codes(found) == [("ILL_CANCEL_NOT_ALLOWED", "CUT-A4")]
    assert "pay shipping" not in found[0].message
