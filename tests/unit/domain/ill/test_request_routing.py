"""Discover and request in one round trip (CONS-2): own branch, another branch (UOC-6), a
hold, partner libraries by their own rules (TUC-SUP-1, CUT-B2, CUT-B3), external suppliers
(CUT-A4); ILL only for eligible patrons (TUC-ILL-1, CUT-A1, CUT-A2)."""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from kallimachos.domain.policy import IllMaterialType, IllServiceType, PolicySet
from kallimachos.domain.request_routing import (
    HeldCopy,
    RequestKind,
    RequestOption,
    Routing,
    RoutingPatron,
    choose,
    request_options,
)

from ..builders import make_copy, make_patron

TODAY = date(2026, 3, 2)
K = RequestKind


def held(library: str, branch: str | None = None, queue: int = 0, **copy: Any) -> HeldCopy:
    return HeldCopy(
        library=library, branch=branch or library, copy=make_copy(**copy), hold_queue=queue
    )


def route(
    policies: PolicySet,
    library: str,
    category: str,
    copies: Sequence[HeldCopy],
    *,
    branch: str | None = None,
    service: IllServiceType = "loan",
    material: IllMaterialType | None = "printed_book",
    open_requests: dict[str, int] | None = None,
    max_cost: str | None = None,
    pickup: str | None = None,
) -> Routing:
    patron = RoutingPatron(
        library=library,
        home_branch=branch or library,
        pickup_branch=pickup,
        facts=make_patron(category),
    )
    return request_options(
        policies,
        patron=patron,
        copies=copies,
        service_type=service,
        material_type=material,
        today=TODAY,
        open_requests=open_requests,
        max_cost=Decimal(max_cost) if max_cost else None,
    )


def summary(options: Sequence[RequestOption]) -> list[tuple[int, str, str, str | None]]:
    return [(o.rank, o.kind.value, o.library, o.branch) for o in options]


def test_cons_2_an_available_copy_at_the_patrons_own_branch_comes_first(
    policies: PolicySet,
) -> None:
    found = route(
        policies,
        "UOC",
        "faculty",
        [held("UOC", "UOC-RET"), held("UOC", "UOC-HER"), held("TUC")],
        branch="UOC-HER",
    )
    assert summary(found.options) == [(1, "LOCAL_PICKUP", "UOC", "UOC-HER")]
    best = choose(found.options)
    assert best is not None
    assert (best.loan_days, best.payer, best.estimated_cost, best.rule) == (
        120,  # UOC-5-FAC: to the end of the spring period, 30 June
        None,
        None,
        "CONS-2",
    )
    assert [r.code.value for r in found.refusals] == ["ILL_HELD_LOCALLY"]


def test_cons_2_another_branch_sends_it_to_the_pickup_branch(policies: PolicySet) -> None:
    found = route(
        policies,
        "UOC",
        "undergraduate",
        [
            held("UOC", "UOC-HER", status="ON_LOAN"),
            held("UOC", "UOC-RET"),
            held("UOC", "UOC-RET"),
            held("UOC", "UOC-HER", collection="reference"),
        ],
        branch="UOC-HER",
    )
    [option] = found.options
    assert (option.kind, option.branch, option.rule, option.loan_days) == (
        K.BRANCH_TRANSFER,
        "UOC-RET",
        "UOC-6",
        10,
    )
    assert option.reason == "2 available at UOC-RET, sent to UOC-HER for pickup"


def test_cons_2_a_chosen_pickup_branch_replaces_the_home_branch(policies: PolicySet) -> None:
    found = route(
        policies, "AEG", "faculty", [held("AEG", "AEG-SAM")], branch="AEG-MYT", pickup="AEG-SAM"
    )
    assert summary(found.options) == [(1, "LOCAL_PICKUP", "AEG", "AEG-SAM")]


def test_cons_2_a_hold_when_every_lendable_copy_of_the_home_library_is_out(
    policies: PolicySet,
) -> None:
    found = route(
        policies,
        "UOC",
        "faculty",
        [held("UOC", "UOC-HER", status="ON_LOAN"), held("UOC", "UOC-RET", queue=2)],
        branch="UOC-HER",
    )
    [option] = found.options
    assert (option.kind, option.branch, option.rule) == (K.HOLD, "UOC-HER", "UOC-4a")
    assert option.reason == "all 2 lendable copies are out; 2 already waiting"


def test_cons_2_nothing_local_for_a_copy_request_nor_for_non_lending_copies(
    policies: PolicySet,
) -> None:
    copy = route(
        policies,
        "CUT",
        "doctoral",
        [held("CUT", collection="periodicals")],
        service="copy",
        material="print_journal_article",
    )
    assert copy.options == ()
    assert [(r.code.value, r.rule) for r in copy.refusals] == [("ILL_HELD_LOCALLY", "CUT-A2")]
    reference = route(policies, "CUT", "doctoral", [held("CUT", collection="reference")])
    assert reference.options == ()


def test_cons_2_partners_rank_available_first_then_cheaper_then_fewer_open_requests(
    policies: PolicySet,
) -> None:
    found = route(
        policies,
        "CUT",
        "academic_staff",
        [
            held("UOC", "UOC-HER", status="ON_LOAN"),
            held("UOC", "UOC-RET"),
            held("TUC"),
            held("AEG", "AEG-SYR"),
            held("AEG", "AEG-CHI", status="ON_LOAN"),
        ],
        open_requests={"UOC": 3, "TUC": 2, "AEG": 1},
    )
    assert summary(found.options) == [
        (1, "INTERLIBRARY_LOAN", "AEG", "AEG-SYR"),
        (2, "INTERLIBRARY_LOAN", "TUC", "TUC"),
        (3, "INTERLIBRARY_LOAN", "UOC", "UOC-RET"),
    ]
    first = found.options[0]
    assert first.reason == (
        "available now at AEG-SYR; estimated 54.74 EUR, paid by the library; "
        "1 of 10 requests from CUT open there"
    )
    assert (first.payer, first.loan_days) == ("library", 14)
    assert first.estimated_cost is not None and first.estimated_cost.total == Decimal("54.74")
    assert (found.refusals, found.skipped) == ((), ())


def test_cons_2_cheaper_before_fewer_open_requests(policies: PolicySet) -> None:
    found = route(
        policies,
        "TUC",
        "faculty",
        [held("CUT"), held("UOC", "UOC-HER")],
        open_requests={"UOC": 9, "CUT": 0},
    )
    assert [
        (o.library, str(o.estimated_cost.total if o.estimated_cost else "")) for o in found.options
    ] == [
        ("UOC", "12.00"),
        ("CUT", "50.00"),
    ]
    cut = found.options[1]
    assert (cut.rule, cut.loan_days) == ("CUT-B1", 31)  # one month from 2 March


def test_cons_2_external_suppliers_by_citation_in_the_policys_order(policies: PolicySet) -> None:
    found = route(policies, "CUT", "undergraduate", [], service="copy", material="ejournal_article")
    assert [(o.rank, o.kind.value, o.library) for o in found.options] == [
        (1, "EXTERNAL_SUPPLIER", "CYUC"),
        (2, "EXTERNAL_SUPPLIER", "EKT"),
        (3, "EXTERNAL_SUPPLIER", "SUBITO"),
        (4, "EXTERNAL_SUPPLIER", "BL"),
    ]
    assert [o.estimated_cost.total for o in found.options if o.estimated_cost] == [
        Decimal("0.00"),
        Decimal("20.53"),
        Decimal("15.05"),
        Decimal("41.06"),
    ]
    assert found.options[3].reason.endswith("estimated at least 41.06 EUR, paid by the patron")
    assert all(o.branch is None and o.rule == "CUT-A4" for o in found.options)
    [vdx] = found.skipped
    assert (vdx.library, vdx.kind, [r.code.value for r in vdx.refusals]) == (
        "VDX",
        K.EXTERNAL_SUPPLIER,
        ["ILL_NOT_SUPPLIABLE"],
    )


def test_cons_2_external_suppliers_follow_partners_that_cannot_supply_now(
    policies: PolicySet,
) -> None:
    out = route(policies, "CUT", "academic_staff", [held("TUC", status="ON_LOAN")])
    assert [(o.kind.value, o.library) for o in out.options] == [
        ("INTERLIBRARY_LOAN", "TUC"),
        ("EXTERNAL_SUPPLIER", "CYUC"),
        ("EXTERNAL_SUPPLIER", "VDX"),
        ("EXTERNAL_SUPPLIER", "SUBITO"),
        ("EXTERNAL_SUPPLIER", "BL"),
    ]
    assert out.options[0].reason.startswith("all copies out: supplied when back")
    on_shelf = route(policies, "CUT", "academic_staff", [held("TUC")])
    assert [o.kind for o in on_shelf.options] == [K.INTERLIBRARY_LOAN]


def test_cons_2_choose_takes_the_best_ranked_option(policies: PolicySet) -> None:
    found = route(policies, "CUT", "academic_staff", [held("TUC", status="ON_LOAN")])
    assert choose(tuple(reversed(found.options))) == found.options[0]
    assert choose(()) is None


def test_tuc_ill_1_an_undergraduate_gets_the_local_options_only(policies: PolicySet) -> None:
    found = route(
        policies, "TUC", "undergraduate", [held("TUC", status="ON_LOAN"), held("UOC", "UOC-HER")]
    )
    assert [o.kind for o in found.options] == [K.HOLD]
    assert [(r.code.value, r.rule) for r in found.refusals] == [
        ("ILL_NOT_ELIGIBLE", "TUC-ILL-1"),
        ("ILL_HELD_LOCALLY", "TUC-ILL-2"),
    ]


def test_cut_a1_cooperation_members_keep_local_options_and_are_told_why_not_ill(
    policies: PolicySet,
) -> None:
    found = route(policies, "CUT", "cooperation_member", [held("CUT"), held("TUC")])
    assert summary(found.options) == [(1, "LOCAL_PICKUP", "CUT", "CUT")]
    assert [(r.code.value, r.rule) for r in found.refusals] == [
        ("ILL_NOT_ELIGIBLE", "CUT-A1"),
        ("ILL_HELD_LOCALLY", "CUT-A2"),
    ]
    nothing_local = route(policies, "CUT", "cooperation_member", [held("TUC")])
    assert nothing_local.options == ()


def test_cut_a3_material_not_requestable_gets_no_ill(policies: PolicySet) -> None:
    found = route(policies, "CUT", "doctoral", [held("TUC")], material="conference_presentation")
    assert found.options == ()
    assert [(r.code.value, r.rule) for r in found.refusals] == [
        ("ILL_MATERIAL_NOT_REQUESTABLE", "CUT-A3")
    ]


def test_tuc_sup_1_tuc_is_skipped_for_copies_it_does_not_mark_loanable(
    policies: PolicySet,
) -> None:
    found = route(policies, "CUT", "doctoral", [held("TUC", damaged=True), held("UOC", "UOC-HER")])
    assert [o.library for o in found.options if o.kind is K.INTERLIBRARY_LOAN] == ["UOC"]
    [tuc] = [s for s in found.skipped if s.library == "TUC"]
    assert [(r.code.value, r.rule) for r in tuc.refusals] == [("ILL_NOT_SUPPLIABLE", "TUC-SUP-1")]


def test_cut_b2_cut_is_skipped_at_fifteen_open_requests(policies: PolicySet) -> None:
    copies = [held("CUT"), held("UOC", "UOC-HER", status="ON_LOAN")]
    busy = route(policies, "TUC", "faculty", copies, open_requests={"CUT": 15})
    assert [o.library for o in busy.options if o.kind is K.INTERLIBRARY_LOAN] == ["UOC"]
    [cut] = busy.skipped[:1]
    assert (cut.library, [(r.code.value, r.rule) for r in cut.refusals]) == (
        "CUT",
        [("ILL_SUPPLIER_LIMIT", "CUT-B2")],
    )
    free = route(policies, "TUC", "faculty", copies, open_requests={"CUT": 14})
    assert free.options[0].library == "CUT"


def test_cut_b3_copies_from_cuts_lending_collections_only(policies: PolicySet) -> None:
    found = route(
        policies,
        "TUC",
        "postgraduate",
        [held("CUT", collection="reference")],
        service="copy",
        material="print_journal_article",
    )
    assert [o.kind for o in found.options] == [K.EXTERNAL_SUPPLIER] * 3  # EKT, SUBITO, BL
    [cut] = [s for s in found.skipped if s.library == "CUT"]
    assert [(r.code.value, r.rule) for r in cut.refusals] == [("ILL_NOT_SUPPLIABLE", "CUT-B3")]
    periodicals = route(
        policies,
        "TUC",
        "postgraduate",
        [held("CUT", collection="periodicals")],
        service="copy",
        material="print_journal_article",
    )
    best = periodicals.options[0]
    assert (best.kind, best.library, best.loan_days) == (K.INTERLIBRARY_LOAN, "CUT", None)


def test_cut_a4_sources_above_the_patrons_maximum_are_skipped(policies: PolicySet) -> None:
    found = route(
        policies, "CUT", "alumni", [], service="copy", material="ejournal_article", max_cost="16"
    )
    assert [o.library for o in found.options] == ["CYUC", "SUBITO"]
    too_dear = {s.library: [r.code.value for r in s.refusals] for s in found.skipped}
    assert too_dear == {
        "EKT": ["ILL_MAX_COST_EXCEEDED"],
        "VDX": ["ILL_NOT_SUPPLIABLE"],
        "BL": ["ILL_MAX_COST_EXCEEDED"],
    }
