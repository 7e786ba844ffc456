"""The ILL lifecycle: every transition allowed and refused; invalid pairs; the rules it
carries end to end (TUC-ILL-4, TUC-ILL-5, TUC-SUP-1, CONS-3, CUT-A2..A11, CUT-B2..B9)."""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from kallimachos.domain.actors import Actor
from kallimachos.domain.ill_states import (
    ISO_STATUS,
    TERMINAL,
    TRANSITIONS,
    ActionDetails,
    IllAction,
    IllEvent,
    IllEventKind,
    IllRequestFacts,
    IllRole,
    IllStatus,
    RequestingAction,
    SupplyStatus,
    TransitionResult,
    apply,
    available_actions,
    roles_of,
    stage_of,
    transition_table,
)
from kallimachos.domain.policy import PolicySet
from kallimachos.services.holiday_data import calendar_for

from .ill_builders import (
    CUT_PARTNER,
    CUT_STAFF,
    JOBS,
    PATRON,
    TUC_STAFF,
    UOC_PARTNER,
    at,
    make_request,
    tuc_from_cut,
)

S, R, U = IllStatus, RequestingAction, SupplyStatus
E = IllEventKind
D = Decimal


def run(
    policies: PolicySet,
    request: IllRequestFacts,
    action: IllAction,
    actor: Actor,
    day: date,
    **details: Any,
) -> TransitionResult:
    library = policies.member(request.requesting_library)
    return apply(
        request,
        action,
        actor,
        now=at(day),
        policies=policies,
        calendar=calendar_for(library, library.branch_codes[0]),
        details=ActionDetails(**details),
    )


def events(result: TransitionResult, kind: IllEventKind) -> list[IllEvent]:
    return [e for e in result.events if e.kind is kind]


def refused(result: TransitionResult) -> list[tuple[str, str | None]]:
    assert result.new_state is result.request.status
    assert result.events == ()
    return [(r.code.value, r.rule) for r in result.refusals]


# --- every transition, allowed and refused ---------------------------------------------------


@dataclass(frozen=True)
class Case:
    request: IllRequestFacts
    action: IllAction
    actor: Actor
    day: date
    expect: IllStatus | str  # the next state, or the refusal code
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[IllStatus, IllAction]:
        return (self.request.status, self.action)

    @property
    def id(self) -> str:
        return f"{self.request.status.value}-{self.action.value}"


ALLOWED: list[Case] = []
REFUSED: list[Case] = []
DAY = date(2026, 3, 3)
COPY = {"service_type": "copy", "material_type": "ejournal_article"}


def both(
    states: tuple[IllStatus, ...],
    action: IllAction,
    allow: dict[str, Any],
    refuse: dict[str, Any],
) -> None:
    """An allowed and a refused case of ``action`` from each of ``states``."""
    for state in states:
        for spec, into in ((allow, ALLOWED), (refuse, REFUSED)):
            spec = dict(spec)
            build = spec.pop("build", make_request)
            request = build(state, **spec.pop("request", {}))
            expect = spec.pop("expect")
            into.append(
                Case(
                    request=request,
                    action=action,
                    actor=spec.pop("actor"),
                    day=spec.pop("day", DAY),
                    expect=state if expect == "same" else expect,
                    details=spec.pop("details", {}),
                )
            )


TO_SEND = (S.AWAITING_PROCESSING, S.RETRY_POSSIBLE, S.UNFILLED, S.END_OF_ROTA)
WITH_SUPPLIER = (S.SENT_TO_SUPPLIER, S.EXPECT_TO_SUPPLY, S.WILL_SUPPLY)
INVALID = "ILL_INVALID_TRANSITION"
DETAILS = "ILL_DETAILS_INVALID"

both(
    TO_SEND,
    R.PROCESS,
    {"actor": CUT_STAFF, "expect": S.SENT_TO_SUPPLIER},
    {"actor": CUT_STAFF, "request": {"supplier": None}, "expect": DETAILS},
)
both(
    (S.AWAITING_PROCESSING,),
    R.CANCEL,
    {"actor": PATRON, "expect": S.CANCELLED},
    {"actor": CUT_STAFF, "expect": "ILL_CANCEL_NOT_ALLOWED"},  # staff need a reason
)
both(
    (*WITH_SUPPLIER, S.RETRY_POSSIBLE, S.UNFILLED, S.END_OF_ROTA),
    R.CANCEL,
    {"actor": CUT_STAFF, "details": {"reason": "not_found"}, "expect": S.CANCELLED},
    {"actor": PATRON, "expect": "ILL_CANCEL_NOT_ALLOWED"},
)
too_dear = {"request": {"max_cost": D(10)}, "details": {"supplier_charge": D(50)}}
both(
    (S.SENT_TO_SUPPLIER,),
    U.EXPECT_TO_SUPPLY,
    {"actor": UOC_PARTNER, "expect": S.EXPECT_TO_SUPPLY},
    {"actor": UOC_PARTNER, **too_dear, "expect": "ILL_MAX_COST_EXCEEDED"},
)
both(
    (S.SENT_TO_SUPPLIER, S.EXPECT_TO_SUPPLY),
    U.WILL_SUPPLY,
    {"actor": UOC_PARTNER, "expect": S.WILL_SUPPLY},
    {"actor": UOC_PARTNER, **too_dear, "expect": "ILL_MAX_COST_EXCEEDED"},
)
both(
    WITH_SUPPLIER,
    U.RETRY_POSSIBLE,
    {"actor": UOC_PARTNER, "details": {"reason": "OnLoan"}, "expect": S.RETRY_POSSIBLE},
    {"actor": UOC_PARTNER, "expect": DETAILS},
)
both(
    WITH_SUPPLIER,
    U.UNFILLED,
    {"actor": UOC_PARTNER, "details": {"reason": "NotOnShelf"}, "expect": S.UNFILLED},
    {"actor": UOC_PARTNER, "details": {"reason": "  "}, "expect": DETAILS},
)
both(
    WITH_SUPPLIER,
    U.CANCELLED,
    {"actor": UOC_PARTNER, "details": {"reason": "on_loan"}, "expect": S.UNFILLED},
    {"actor": UOC_PARTNER, "details": {"reason": "busy"}, "expect": "ILL_CANCEL_NOT_ALLOWED"},
)
both(
    WITH_SUPPLIER,
    U.LOANED,
    {"actor": UOC_PARTNER, "expect": S.SHIPPED},
    {"actor": UOC_PARTNER, "request": COPY, "expect": INVALID},
)
both(
    WITH_SUPPLIER,
    U.COPY_COMPLETED,
    {
        "actor": UOC_PARTNER,
        "request": {**COPY, "copyright_declared": True},
        "expect": S.COPY_DELIVERED,
    },
    {"actor": UOC_PARTNER, "request": COPY, "expect": "ILL_COPYRIGHT_DECLARATION_MISSING"},
)
both(
    (S.SHIPPED,),
    R.RECEIVED,
    {"actor": CUT_STAFF, "day": date(2026, 3, 6), "expect": S.RECEIVED},
    {"actor": PATRON, "day": date(2026, 3, 6), "expect": INVALID},
)
both(
    (S.COPY_DELIVERED,),
    R.CHECKOUT_TO_PATRON,
    {"actor": CUT_STAFF, "expect": S.COMPLETED},
    {"actor": UOC_PARTNER, "expect": INVALID},
)
both(
    (S.RECEIVED,),
    R.CHECKOUT_TO_PATRON,
    {"actor": CUT_STAFF, "day": date(2026, 3, 16), "expect": S.CHECKED_OUT_TO_PATRON},
    {"actor": CUT_STAFF, "day": date(2026, 3, 17), "expect": "ILL_PICKUP_EXPIRED"},
)
both(
    (S.RECEIVED,),
    R.RETURN_UNCOLLECTED,
    {"actor": JOBS, "day": date(2026, 3, 17), "expect": S.RETURNED_UNCOLLECTED},
    {"actor": JOBS, "day": date(2026, 3, 16), "expect": INVALID},
)
renewable = {"build": tuc_from_cut, "request": {"supplier_due_on": date(2026, 4, 6)}}
both(
    (S.CHECKED_OUT_TO_PATRON,),
    R.RENEW,
    {**renewable, "actor": PATRON, "day": date(2026, 3, 20), "expect": "same"},
    {
        "build": tuc_from_cut,
        "request": {"supplier_due_on": date(2026, 4, 6), "supplier_local_hold": True},
        "actor": PATRON,
        "day": date(2026, 3, 20),
        "expect": "ILL_RENEWAL_REFUSED",
    },
)
both(
    (S.RECEIVED, S.CHECKED_OUT_TO_PATRON),
    U.RECALLED,
    {
        "actor": UOC_PARTNER,
        "day": date(2026, 3, 9),
        "details": {"due_on": date(2026, 3, 13)},
        "expect": S.RECALLED,
    },
    {"actor": UOC_PARTNER, "day": date(2026, 3, 9), "expect": DETAILS},
)
both(
    (S.CHECKED_OUT_TO_PATRON, S.RECALLED),
    R.MARK_OVERDUE,
    {"actor": JOBS, "day": date(2026, 3, 19), "expect": S.OVERDUE},
    {"actor": JOBS, "day": date(2026, 3, 18), "expect": INVALID},
)
both(
    (S.CHECKED_OUT_TO_PATRON, S.RECALLED, S.OVERDUE),
    R.PATRON_RETURN,
    {"actor": CUT_STAFF, "expect": S.RETURNED_BY_PATRON},
    {"actor": CUT_STAFF, "request": {"checked_out_on": None}, "expect": INVALID},
)
both(
    (S.RECALLED,),
    R.SHIPPED_RETURN,
    {"actor": CUT_STAFF, "request": {"checked_out_on": None}, "expect": S.SHIPPED_RETURN},
    {"actor": CUT_STAFF, "expect": INVALID},  # the patron still has it
)
both(
    (S.RETURNED_BY_PATRON, S.RETURNED_UNCOLLECTED),
    R.SHIPPED_RETURN,
    {"actor": CUT_STAFF, "expect": S.SHIPPED_RETURN},
    {"actor": PATRON, "expect": INVALID},
)
both(
    (S.SHIPPED_RETURN, S.LOST),
    U.LOAN_COMPLETED,
    {"actor": UOC_PARTNER, "expect": S.COMPLETED},
    {"actor": CUT_STAFF, "expect": INVALID},  # UOC speaks for itself
)
both(
    (
        S.SHIPPED,
        S.RECEIVED,
        S.CHECKED_OUT_TO_PATRON,
        S.RECALLED,
        S.OVERDUE,
        S.RETURNED_BY_PATRON,
        S.SHIPPED_RETURN,
    ),
    R.LOST,
    {"actor": CUT_STAFF, "expect": S.LOST},
    {"actor": UOC_PARTNER, "expect": INVALID},
)
both(
    (S.LOST,),
    U.COMPLETED_WITHOUT_RETURN,
    {
        "actor": UOC_PARTNER,
        "details": {"supplier_charge": D(45)},
        "expect": S.COMPLETED_WITHOUT_RETURN,
    },
    {"actor": UOC_PARTNER, "expect": DETAILS},
)
both(
    tuple(state for state, action in TRANSITIONS if action is R.NOTIFICATION),
    R.NOTIFICATION,
    {"actor": CUT_STAFF, "details": {"note": "Please send by courier."}, "expect": "same"},
    {"actor": CUT_STAFF, "details": {"note": ""}, "expect": DETAILS},
)


def test_every_transition_has_an_allowed_and_a_refused_case() -> None:
    assert sorted(c.key for c in ALLOWED) == sorted(TRANSITIONS)
    assert sorted(c.key for c in REFUSED) == sorted(TRANSITIONS)


@pytest.mark.parametrize("case", ALLOWED, ids=[c.id for c in ALLOWED])
def test_transition_allowed(policies: PolicySet, case: Case) -> None:
    result = run(policies, case.request, case.action, case.actor, case.day, **case.details)
    assert result.refusals == ()
    assert result.new_state is case.expect
    assert result.request.status is case.expect
    first = result.events[0]
    assert first.kind is E.STATUS_CHANGED
    assert first.message == f"{case.request.status} -> {case.expect} ({case.action})"


@pytest.mark.parametrize("case", REFUSED, ids=[c.id for c in REFUSED])
def test_transition_refused(policies: PolicySet, case: Case) -> None:
    result = run(policies, case.request, case.action, case.actor, case.day, **case.details)
    assert case.expect in [code for code, _ in refused(result)]
    assert result.request == case.request


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (S.AWAITING_PROCESSING, R.RECEIVED),
        (S.SHIPPED, U.WILL_SUPPLY),
        (S.COMPLETED, R.CANCEL),
        (S.CANCELLED, R.NOTIFICATION),
        (S.COPY_DELIVERED, R.RENEW),
    ],
)
def test_an_invalid_pair_is_refused_with_ill_invalid_transition(
    policies: PolicySet, status: IllStatus, action: IllAction
) -> None:
    result = run(policies, make_request(status), action, CUT_STAFF, DAY)
    assert refused(result) == [("ILL_INVALID_TRANSITION", None)]
    assert f"cannot take {action}" in result.refusals[0].message


def test_only_the_parties_act(policies: PolicySet) -> None:
    outsider = run(policies, make_request(), R.PROCESS, TUC_STAFF, DAY)
    assert refused(outsider) == [("ILL_INVALID_TRANSITION", None)]
    assert "Only the requesting staff" in outsider.refusals[0].message
    with pytest.raises(ValueError, match="timezone"):
        apply(
            make_request(),
            R.PROCESS,
            CUT_STAFF,
            now=datetime(2026, 3, 3, 10),  # noqa: DTZ001
            policies=policies,
            calendar=calendar_for(policies.member("CUT"), "CUT"),
        )


def test_the_table_in_the_docstring_is_the_table_in_the_code() -> None:
    import kallimachos.domain.ill_states as module

    indented = "\n".join("    " + line for line in transition_table().splitlines())
    assert indented in (module.__doc__ or "")


def test_every_state_is_reachable_and_only_terminal_states_have_no_way_out() -> None:
    reached, frontier = {S.AWAITING_PROCESSING}, [S.AWAITING_PROCESSING]
    while frontier:
        state = frontier.pop()
        for (source, _), t in TRANSITIONS.items():
            for target in (t.next_state, t.end_of_rota):
                if source is state and target is not None and target not in reached:
                    reached.add(target)
                    frontier.append(target)
    assert reached == set(IllStatus)
    exits = {source for source, _ in TRANSITIONS}
    assert set(IllStatus) - exits == TERMINAL
    assert set(ISO_STATUS) == set(IllStatus)
    assert [stage_of(s) for s in (S.AWAITING_PROCESSING, S.END_OF_ROTA, S.SHIPPED)] == [
        "submitted",
        "processed",
        "shipped",
    ]


def test_available_actions_and_roles(policies: PolicySet) -> None:
    request = make_request()
    assert available_actions(request, CUT_STAFF, policies) == (R.PROCESS, R.CANCEL)
    assert available_actions(request, PATRON, policies) == (R.CANCEL,)
    assert available_actions(request, TUC_STAFF, policies) == ()
    sent = make_request(S.SENT_TO_SUPPLIER)
    assert U.LOANED in available_actions(sent, UOC_PARTNER, policies)
    assert U.LOANED not in available_actions(sent, CUT_STAFF, policies)
    from_bl = make_request(S.SENT_TO_SUPPLIER, supplier="BL")
    assert roles_of(CUT_STAFF, from_bl, policies) == {IllRole.REQUESTING_STAFF, IllRole.SUPPLIER}
    assert roles_of(JOBS, from_bl, policies) == {IllRole.SYSTEM}
    assert roles_of(CUT_PARTNER, tuc_from_cut(S.SENT_TO_SUPPLIER), policies) == {IllRole.SUPPLIER}


# --- the rules, through the lifecycle ---------------------------------------------------------


def test_cut_a6_forwarding_after_the_next_working_day_is_recorded_as_late(
    policies: PolicySet,
) -> None:
    on_time = run(policies, make_request(), R.PROCESS, CUT_STAFF, date(2026, 3, 3))
    assert events(on_time, E.PROCESSED_LATE) == []
    late = run(policies, make_request(), R.PROCESS, CUT_STAFF, date(2026, 3, 4))
    [event] = events(late, E.PROCESSED_LATE)
    assert event.rule == "CUT-A6"
    [sent] = events(late, E.NOTIFY_SUPPLIER)
    assert (sent.message, sent.rule) == ("request sent to UOC", "CUT-A6")
    assert late.request.request_received_on == date(2026, 3, 4)


def test_cut_a4_pre_a_personal_charge_is_paid_before_the_request_goes_out(
    policies: PolicySet,
) -> None:
    unpaid = make_request(patron_category="undergraduate")
    assert refused(run(policies, unpaid, R.PROCESS, CUT_STAFF, DAY)) == [
        ("ILL_PREPAYMENT_REQUIRED", "CUT-A4-PRE")
    ]
    paid = run(
        policies,
        make_request(patron_category="undergraduate", prepaid=True),
        R.PROCESS,
        CUT_STAFF,
        DAY,
    )
    [charge] = events(paid, E.CHARGE_PATRON)
    assert (charge.amount, charge.rule, charge.message) == (
        D("54.74"),
        "CUT-A1-PAY",
        "personal charge (paid in advance)",
    )
    [cost] = events(paid, E.COST_SET)
    assert (cost.amount, cost.rule) == (D("54.74"), "CUT-A4")
    assert paid.request.cost is not None and paid.request.cost.payer == "patron"


def test_cut_a4_the_patrons_maximum_cost_is_checked_before_sending(policies: PolicySet) -> None:
    result = run(policies, make_request(max_cost=D(50)), R.PROCESS, CUT_STAFF, DAY)
    assert refused(result) == [("ILL_MAX_COST_EXCEEDED", "CUT-A4")]


def test_cut_a2_material_held_locally_is_checked_before_the_request_goes_out(
    policies: PolicySet,
) -> None:
    result = run(policies, make_request(held_locally=True), R.PROCESS, CUT_STAFF, DAY)
    assert refused(result) == [("ILL_HELD_LOCALLY", "CUT-A2")]


def test_cut_a3_material_not_requestable_is_not_sent(policies: PolicySet) -> None:
    request = make_request(material_type="conference_presentation")  # a copy, never a loan
    assert refused(run(policies, request, R.PROCESS, CUT_STAFF, DAY)) == [
        ("ILL_MATERIAL_NOT_REQUESTABLE", "CUT-A3"),
        ("ILL_NOT_SUPPLIABLE", None),  # nor does UOC lend it (assumed terms, no rule ID)
    ]


def test_cut_b2_cut_takes_no_sixteenth_request_from_one_library(policies: PolicySet) -> None:
    request = tuc_from_cut(S.AWAITING_PROCESSING, open_requests_at_supplier=15)
    assert refused(run(policies, request, R.PROCESS, TUC_STAFF, DAY)) == [
        ("ILL_SUPPLIER_LIMIT", "CUT-B2")
    ]


def test_cut_b9_a_copy_request_to_cut_needs_the_copyright_declaration(
    policies: PolicySet,
) -> None:
    request = tuc_from_cut(
        S.AWAITING_PROCESSING, **{**COPY, "material_type": "print_journal_article"}
    )
    assert refused(run(policies, request, R.PROCESS, TUC_STAFF, DAY)) == [
        ("ILL_COPYRIGHT_DECLARATION_MISSING", "CUT-B9")
    ]


def test_tuc_sup_1_tuc_lends_for_two_weeks_from_the_day_it_received_the_request(
    policies: PolicySet,
) -> None:
    sent = run(policies, make_request(supplier="TUC"), R.PROCESS, CUT_STAFF, date(2026, 3, 3))
    assert sent.request.request_received_on == date(2026, 3, 3)
    tuc = Actor(UOC_PARTNER.kind, library="TUC")
    shipped = run(policies, sent.request, U.LOANED, tuc, date(2026, 3, 6))
    [due] = events(shipped, E.SUPPLIER_DUE_DATE_SET)
    assert (due.on, due.rule) == (date(2026, 3, 17), "TUC-SUP-1")


def test_tuc_ill_5_the_loan_period_is_the_lending_librarys_not_the_patrons_category(
    policies: PolicySet,
) -> None:
    """A TUC teacher (own loans: 60 days) borrows from CUT: one month from CUT's shipping,
    and the patron's date three Greek working days before it."""
    request = tuc_from_cut(S.AWAITING_PROCESSING)
    request = run(policies, request, R.PROCESS, TUC_STAFF, date(2026, 3, 2)).request
    request = run(policies, request, U.WILL_SUPPLY, CUT_PARTNER, date(2026, 3, 2)).request
    shipped = run(
        policies, request, U.LOANED, CUT_PARTNER, date(2026, 3, 3), delivery_method="courier"
    )
    assert (shipped.request.supplier_due_on, shipped.request.delivery_method) == (
        date(2026, 4, 3),
        "courier",
    )
    assert events(shipped, E.SUPPLIER_DUE_DATE_SET)[0].rule == "CUT-B7"
    received = run(policies, shipped.request, R.RECEIVED, TUC_STAFF, date(2026, 3, 5))
    collected = run(policies, received.request, R.CHECKOUT_TO_PATRON, TUC_STAFF, date(2026, 3, 5))
    assert collected.request.patron_due_on == date(2026, 3, 31)
    assert collected.request.checked_out_on == date(2026, 3, 5)


def test_tuc_ill_4_the_patron_is_told_as_soon_as_the_material_arrives(
    policies: PolicySet,
) -> None:
    tuc = run(policies, tuc_from_cut(S.SHIPPED), R.RECEIVED, TUC_STAFF, date(2026, 3, 6))
    [notice] = events(tuc, E.NOTIFY_PATRON)
    assert (notice.message, notice.rule) == ("your loan has arrived", "TUC-ILL-4")
    copy = make_request(S.WILL_SUPPLY, **COPY, copyright_declared=True)
    delivered = run(policies, copy, U.COPY_COMPLETED, UOC_PARTNER, DAY, delivery_method="email")
    [notice] = events(delivered, E.NOTIFY_PATRON)
    assert notice.message == "your copy has arrived; it is yours to keep"
    assert delivered.request.delivery_method == "email"


def test_cut_a9_told_at_once_collect_by_two_days_before_the_suppliers_due_date(
    policies: PolicySet,
) -> None:
    result = run(policies, make_request(S.SHIPPED), R.RECEIVED, CUT_STAFF, date(2026, 3, 6))
    [notice] = events(result, E.NOTIFY_PATRON)
    [deadline] = events(result, E.PICKUP_DEADLINE_SET)
    assert (notice.rule, deadline.on, deadline.rule) == ("CUT-A9", date(2026, 3, 16), "CUT-A9")
    collected = run(policies, result.request, R.CHECKOUT_TO_PATRON, CUT_STAFF, date(2026, 3, 9))
    [due] = events(collected, E.PATRON_DUE_DATE_SET)
    assert due.message.endswith("(signed for)")


def test_cut_a9_uncollected_goes_back_and_the_patron_pays_the_fee_and_shipping(
    policies: PolicySet,
) -> None:
    result = run(policies, make_request(S.RECEIVED), R.RETURN_UNCOLLECTED, JOBS, date(2026, 3, 17))
    [charge] = events(result, E.CHARGE_PATRON)
    assert (charge.amount, charge.rule) == (D("40.00"), "CUT-A9")
    back = run(policies, result.request, R.SHIPPED_RETURN, CUT_STAFF, date(2026, 3, 17))
    [sent] = events(back, E.NOTIFY_SUPPLIER)
    assert (sent.message, sent.rule) == ("shipped back by post (ISO ShippedReturn)", "CUT-A11")


def test_cut_a11_the_patrons_due_date_is_set_at_pickup_within_three_to_five_working_days(
    policies: PolicySet,
) -> None:
    received = make_request(S.RECEIVED)
    default = run(policies, received, R.CHECKOUT_TO_PATRON, CUT_STAFF, date(2026, 3, 9))
    assert default.request.patron_due_on == date(2026, 3, 12)
    five = run(
        policies, received, R.CHECKOUT_TO_PATRON, CUT_STAFF, date(2026, 3, 9), working_days_before=5
    )
    assert five.request.patron_due_on == date(2026, 3, 11)
    six = run(
        policies, received, R.CHECKOUT_TO_PATRON, CUT_STAFF, date(2026, 3, 9), working_days_before=6
    )
    assert refused(six) == [("ILL_DETAILS_INVALID", "CUT-A11")]


def test_cut_a10_a_supplier_recall_recalls_the_patron(policies: PolicySet) -> None:
    out = make_request(S.CHECKED_OUT_TO_PATRON)
    result = run(policies, out, U.RECALLED, UOC_PARTNER, date(2026, 3, 9), due_on=date(2026, 3, 16))
    [recall] = events(result, E.RECALLED_FROM_PATRON)
    assert (recall.on, recall.rule) == (date(2026, 3, 10), "CONS-3")
    assert (result.request.supplier_due_on, result.request.patron_due_on) == (
        date(2026, 3, 16),
        date(2026, 3, 10),
    )
    later = run(policies, out, U.RECALLED, UOC_PARTNER, date(2026, 3, 9), due_on=date(2026, 4, 30))
    assert later.request.supplier_due_on == date(2026, 3, 18)  # a recall never lengthens
    waiting = run(
        policies, make_request(S.RECEIVED), U.RECALLED, UOC_PARTNER, DAY, due_on=date(2026, 3, 13)
    )
    assert [e.message for e in events(waiting, E.NOTIFY_REQUESTING_LIBRARY)] == [
        "recalled: ship it back"
    ]


def test_cut_a10_renewal_refused_where_the_supplier_does_not_renew(policies: PolicySet) -> None:
    out = make_request(S.CHECKED_OUT_TO_PATRON)
    assert refused(run(policies, out, R.RENEW, PATRON, date(2026, 3, 9))) == [
        ("ILL_RENEWAL_REFUSED", "CUT-A10")
    ]


def test_cut_b7_renewed_once_for_a_month_and_the_patrons_date_follows(
    policies: PolicySet,
) -> None:
    out = tuc_from_cut(S.CHECKED_OUT_TO_PATRON, supplier_due_on=date(2026, 4, 6))
    renewed = run(policies, out, R.RENEW, PATRON, date(2026, 3, 20))
    assert (
        renewed.request.supplier_due_on,
        renewed.request.patron_due_on,
        renewed.request.renewals,
    ) == (date(2026, 5, 6), date(2026, 4, 30), 1)
    assert [e.rule for e in events(renewed, E.RENEWED)] == ["CUT-B7"]
    again = run(policies, renewed.request, R.RENEW, PATRON, date(2026, 4, 1))
    assert refused(again) == [("ILL_RENEWAL_REFUSED", "CUT-B7")]


def test_cut_b6_loans_from_cut_travel_by_post_or_courier(policies: PolicySet) -> None:
    result = run(
        policies,
        tuc_from_cut(S.WILL_SUPPLY),
        U.LOANED,
        CUT_PARTNER,
        DAY,
        delivery_method="email",
    )
    assert refused(result) == [("ILL_DELIVERY_METHOD_REFUSED", "CUT-B6")]


def test_cut_a8_cut_takes_material_only_by_the_methods_it_accepts(policies: PolicySet) -> None:
    result = run(
        policies, make_request(S.WILL_SUPPLY), U.LOANED, UOC_PARTNER, DAY, delivery_method="drone"
    )
    assert ("ILL_DELIVERY_METHOD_REFUSED", "CUT-A8") in refused(result)


def test_cut_a7_user_the_patron_cannot_cancel_once_staff_processed_it(
    policies: PolicySet,
) -> None:
    for state in (S.SENT_TO_SUPPLIER, S.SHIPPED, S.CHECKED_OUT_TO_PATRON):
        result = run(policies, make_request(state), R.CANCEL, PATRON, DAY)
        assert refused(result) == [("ILL_CANCEL_NOT_ALLOWED", "CUT-A7-USER")]
        assert "must collect it and pay" in result.refusals[0].message
    before = run(policies, make_request(), R.CANCEL, PATRON, DAY)
    [notice] = events(before, E.NOTIFY_PATRON)
    assert (notice.message, notice.rule) == ("cancelled: at the patron's request", "CUT-A7-USER")


def test_cut_a7_staff_cancel_with_a_reason_and_tell_the_patron_and_the_supplier(
    policies: PolicySet,
) -> None:
    result = run(
        policies, make_request(S.WILL_SUPPLY), R.CANCEL, CUT_STAFF, DAY, reason="held_locally"
    )
    assert result.new_state is S.CANCELLED
    [patron] = events(result, E.NOTIFY_PATRON)
    assert (patron.message, patron.rule) == ("cancelled: held_locally", "CUT-A7-STAFF")
    assert [e.message for e in events(result, E.NOTIFY_SUPPLIER)] == ["cancelled (ISO Cancel)"]
    no_reason = run(policies, make_request(S.END_OF_ROTA), R.CANCEL, CUT_STAFF, DAY, reason="tired")
    assert refused(no_reason) == [("ILL_CANCEL_NOT_ALLOWED", "CUT-A7-STAFF")]


def test_cut_a7_sup_a_supplier_cancellation_moves_on_to_the_next_supplier(
    policies: PolicySet,
) -> None:
    sent = make_request(S.SENT_TO_SUPPLIER)
    next_one = run(policies, sent, U.CANCELLED, UOC_PARTNER, DAY, reason="publisher_restriction")
    assert next_one.new_state is S.UNFILLED
    last = make_request(S.SENT_TO_SUPPLIER, rota_remaining=0)
    end = run(policies, last, U.CANCELLED, UOC_PARTNER, DAY, reason="lost")
    assert end.new_state is S.END_OF_ROTA
    shipped = run(policies, make_request(S.SHIPPED), U.CANCELLED, UOC_PARTNER, DAY, reason="lost")
    assert refused(shipped) == [("ILL_CANCEL_NOT_ALLOWED", "CUT-A7-SUP")]
    resend = run(policies, next_one.request, R.PROCESS, CUT_STAFF, DAY)
    assert resend.new_state is S.SENT_TO_SUPPLIER


def test_cut_b5_after_cut_ships_the_requesting_library_must_take_it(
    policies: PolicySet,
) -> None:
    before = run(
        policies, tuc_from_cut(S.WILL_SUPPLY), R.CANCEL, TUC_STAFF, DAY, reason="not_found"
    )
    assert before.new_state is S.CANCELLED
    after = run(policies, tuc_from_cut(S.SHIPPED), R.CANCEL, TUC_STAFF, DAY, reason="not_found")
    assert refused(after) == [("ILL_CANCEL_NOT_ALLOWED", "CUT-B5")]
    assert "must take the item and pay shipping both ways" in after.refusals[0].message


def test_cut_b8_a_late_return_costs_cuts_fee_and_is_not_passed_on_at_tuc(
    policies: PolicySet,
) -> None:
    returning = tuc_from_cut(
        S.SHIPPED_RETURN, supplier_due_on=date(2026, 4, 6), return_shipped_on=date(2026, 4, 6)
    )
    result = run(policies, returning, U.LOAN_COMPLETED, CUT_PARTNER, date(2026, 4, 9))
    [fee] = events(result, E.CHARGE_REQUESTING_LIBRARY)
    assert (fee.amount, fee.rule) == (D("0.60"), "CUT-B8")
    assert events(result, E.CHARGE_PATRON) == []
    on_time = run(policies, returning, U.LOAN_COMPLETED, CUT_PARTNER, date(2026, 4, 6))
    assert events(on_time, E.CHARGE_REQUESTING_LIBRARY) == []


def test_cut_a11_supplier_fines_and_replacement_are_passed_on_to_the_patron(
    policies: PolicySet,
) -> None:
    late = run(
        policies, make_request(S.SHIPPED_RETURN), U.LOAN_COMPLETED, UOC_PARTNER, date(2026, 3, 20)
    )
    [patron] = events(late, E.CHARGE_PATRON)
    assert (patron.amount, patron.rule) == (D("1.08"), "CUT-A11")
    lost = run(
        policies,
        make_request(S.LOST),
        U.COMPLETED_WITHOUT_RETURN,
        UOC_PARTNER,
        DAY,
        supplier_charge=D("45.00"),
    )
    assert [(e.kind, e.amount, e.rule) for e in lost.events[1:]] == [
        (E.CHARGE_REQUESTING_LIBRARY, D("45.00"), None),
        (E.CHARGE_PATRON, D("45.00"), "CUT-A11"),
    ]


def test_cut_b8_a_lost_loan_costs_the_replacement(policies: PolicySet) -> None:
    lost = tuc_from_cut(S.LOST)
    result = run(
        policies, lost, U.COMPLETED_WITHOUT_RETURN, CUT_PARTNER, DAY, supplier_charge=D(48)
    )
    assert [(e.kind, e.rule) for e in result.events[1:]] == [
        (E.CHARGE_REQUESTING_LIBRARY, "CUT-B8"),
        (E.CHARGE_PATRON, "TUC-ILL-6"),
    ]
    missing = run(policies, lost, U.COMPLETED_WITHOUT_RETURN, CUT_PARTNER, DAY)
    assert refused(missing) == [("ILL_DETAILS_INVALID", "CUT-B8")]


def test_cut_a4_external_supplier_answers_are_recorded_by_requesting_staff(
    policies: PolicySet,
) -> None:
    """BL is mediated by CUT staff: they record its answers, with its own due date and charge."""
    request = make_request(S.SENT_TO_SUPPLIER, supplier="BL", patron_category="doctoral")
    undated = run(policies, request, U.LOANED, CUT_STAFF, DAY)
    assert refused(undated) == [("ILL_DETAILS_INVALID", None)]
    shipped = run(
        policies, request, U.LOANED, CUT_STAFF, DAY, due_on=date(2026, 4, 30), supplier_charge=D(35)
    )
    assert shipped.request.supplier_due_on == date(2026, 4, 30)
    assert events(shipped, E.SUPPLIER_DUE_DATE_SET)[0].rule == "CONS-3"
    assert shipped.request.cost is not None
    assert (shipped.request.cost.supplier_charge, shipped.request.cost.total) == (
        D("35.00"),
        D("102.64"),  # 35 + 40 shipping abroad + 15 % (11.25) + 19 % VAT (16.39)
    )
    outsider = run(policies, request, U.LOANED, TUC_STAFF, DAY, due_on=date(2026, 4, 30))
    assert refused(outsider) == [("ILL_INVALID_TRANSITION", None)]


def test_cons_3_dates_flow_from_the_supplier_to_the_library_to_the_patron(
    policies: PolicySet,
) -> None:
    """A CUT academic's loan from UOC, start to finish."""
    r = make_request()
    steps: list[tuple[IllAction, Actor, date, dict[str, Any]]] = [
        (R.PROCESS, CUT_STAFF, date(2026, 3, 2), {}),
        (U.EXPECT_TO_SUPPLY, UOC_PARTNER, date(2026, 3, 2), {}),
        (U.WILL_SUPPLY, UOC_PARTNER, date(2026, 3, 3), {}),
        (U.LOANED, UOC_PARTNER, date(2026, 3, 4), {"delivery_method": "courier"}),
        (R.RECEIVED, CUT_STAFF, date(2026, 3, 6), {}),
        (R.CHECKOUT_TO_PATRON, CUT_STAFF, date(2026, 3, 9), {}),
        (R.NOTIFICATION, CUT_STAFF, date(2026, 3, 9), {"note": "Collected."}),
        (U.RECALLED, UOC_PARTNER, date(2026, 3, 10), {"due_on": date(2026, 3, 16)}),
        (R.PATRON_RETURN, CUT_STAFF, date(2026, 3, 10), {}),
        (R.SHIPPED_RETURN, CUT_STAFF, date(2026, 3, 11), {}),
        (U.LOAN_COMPLETED, UOC_PARTNER, date(2026, 3, 13), {}),
    ]
    states = []
    for action, actor, day, details in steps:
        result = run(policies, r, action, actor, day, **details)
        assert result.ok, result.refusals
        r = result.request
        states.append((r.status, r.supplier_due_on, r.patron_due_on))
    assert states[3:] == [
        (S.SHIPPED, date(2026, 3, 18), None),
        (S.RECEIVED, date(2026, 3, 18), None),
        (S.CHECKED_OUT_TO_PATRON, date(2026, 3, 18), date(2026, 3, 12)),
        (S.CHECKED_OUT_TO_PATRON, date(2026, 3, 18), date(2026, 3, 12)),
        (S.RECALLED, date(2026, 3, 16), date(2026, 3, 10)),
        (S.RETURNED_BY_PATRON, date(2026, 3, 16), date(2026, 3, 10)),
        (S.SHIPPED_RETURN, date(2026, 3, 16), date(2026, 3, 10)),
        (S.COMPLETED, date(2026, 3, 16), date(2026, 3, 10)),
    ]
    assert r.status in TERMINAL
