"""The lifecycle of an interlibrary loan request, in both roles, shaped after ISO 18626.

``TRANSITIONS`` maps ``(state, action)`` to a :class:`Transition`: the next state, the one
guard that must pass (``ill_guards``), who may act, and the effect (new dates, charges,
notices). :func:`apply` looks the pair up, checks the party and the guard, and returns the
new state with its events, or the refusals. Nothing is saved here: the service saves the
request and writes the events to the outbox.

Dates flow from the supplier to the requesting library to the patron (CONS-3): the loan
period is the lending library's (TUC-ILL-5), the patron's due date is set from it at pickup
(CUT-A11), and renewals and recalls follow the supplier's answer (CUT-A10). The patron is
told as soon as the material arrives (TUC-ILL-4, CUT-A9).

The states are documented on :class:`~kallimachos.domain.ill_request.IllStatus`. The table,
as :func:`transition_table` prints it (party: P patron, S requesting staff, U supplier,
Y system; "| X" is where an unfilled request goes when no supplier is left)::

    AWAITING_PROCESSING
      PROCESS                   S    -> SENT_TO_SUPPLIER           forward_to_supplier
      CANCEL                    PS   -> CANCELLED                  cancel_by_requesting_side
    SENT_TO_SUPPLIER
      CANCEL                    PS   -> CANCELLED                  cancel_by_requesting_side
      EXPECT_TO_SUPPLY          U    -> EXPECT_TO_SUPPLY           supplier_answers
      WILL_SUPPLY               U    -> WILL_SUPPLY                supplier_answers
      RETRY_POSSIBLE            U    -> RETRY_POSSIBLE             supplier_asks_retry
      UNFILLED                  U    -> UNFILLED | END_OF_ROTA     supplier_unfilled
      CANCELLED                 U    -> UNFILLED | END_OF_ROTA     supplier_cancels
      LOANED                    U    -> SHIPPED                    supplier_ships_loan
      COPY_COMPLETED            U    -> COPY_DELIVERED             supplier_delivers_copy
      NOTIFICATION              S    -> SENT_TO_SUPPLIER           note_to_supplier
    EXPECT_TO_SUPPLY
      CANCEL                    PS   -> CANCELLED                  cancel_by_requesting_side
      WILL_SUPPLY               U    -> WILL_SUPPLY                supplier_answers
      RETRY_POSSIBLE            U    -> RETRY_POSSIBLE             supplier_asks_retry
      UNFILLED                  U    -> UNFILLED | END_OF_ROTA     supplier_unfilled
      CANCELLED                 U    -> UNFILLED | END_OF_ROTA     supplier_cancels
      LOANED                    U    -> SHIPPED                    supplier_ships_loan
      COPY_COMPLETED            U    -> COPY_DELIVERED             supplier_delivers_copy
      NOTIFICATION              S    -> EXPECT_TO_SUPPLY           note_to_supplier
    WILL_SUPPLY
      CANCEL                    PS   -> CANCELLED                  cancel_by_requesting_side
      RETRY_POSSIBLE            U    -> RETRY_POSSIBLE             supplier_asks_retry
      UNFILLED                  U    -> UNFILLED | END_OF_ROTA     supplier_unfilled
      CANCELLED                 U    -> UNFILLED | END_OF_ROTA     supplier_cancels
      LOANED                    U    -> SHIPPED                    supplier_ships_loan
      COPY_COMPLETED            U    -> COPY_DELIVERED             supplier_delivers_copy
      NOTIFICATION              S    -> WILL_SUPPLY                note_to_supplier
    RETRY_POSSIBLE
      PROCESS                   S    -> SENT_TO_SUPPLIER           forward_to_supplier
      CANCEL                    PS   -> CANCELLED                  cancel_by_requesting_side
      NOTIFICATION              S    -> RETRY_POSSIBLE             note_to_supplier
    UNFILLED
      PROCESS                   S    -> SENT_TO_SUPPLIER           forward_to_supplier
      CANCEL                    PS   -> CANCELLED                  cancel_by_requesting_side
    END_OF_ROTA
      PROCESS                   S    -> SENT_TO_SUPPLIER           forward_to_supplier
      CANCEL                    PS   -> CANCELLED                  cancel_by_requesting_side
    SHIPPED
      RECEIVED                  S    -> RECEIVED                   no_conditions
      LOST                      S    -> LOST                       no_conditions
      NOTIFICATION              S    -> SHIPPED                    note_to_supplier
    COPY_DELIVERED
      CHECKOUT_TO_PATRON        S    -> COMPLETED                  no_conditions
    RECEIVED
      CHECKOUT_TO_PATRON        S    -> CHECKED_OUT_TO_PATRON      patron_collects
      RETURN_UNCOLLECTED        SY   -> RETURNED_UNCOLLECTED       return_uncollected
      RECALLED                  U    -> RECALLED                   supplier_recalls
      LOST                      S    -> LOST                       no_conditions
      NOTIFICATION              S    -> RECEIVED                   note_to_supplier
    CHECKED_OUT_TO_PATRON
      RENEW                     PS   -> CHECKED_OUT_TO_PATRON      renew_with_supplier
      RECALLED                  U    -> RECALLED                   supplier_recalls
      MARK_OVERDUE              SY   -> OVERDUE                    mark_overdue
      PATRON_RETURN             S    -> RETURNED_BY_PATRON         patron_returns
      LOST                      S    -> LOST                       no_conditions
      NOTIFICATION              S    -> CHECKED_OUT_TO_PATRON      note_to_supplier
    RECALLED
      MARK_OVERDUE              SY   -> OVERDUE                    mark_overdue
      PATRON_RETURN             S    -> RETURNED_BY_PATRON         patron_returns
      SHIPPED_RETURN            S    -> SHIPPED_RETURN             ship_back
      LOST                      S    -> LOST                       no_conditions
      NOTIFICATION              S    -> RECALLED                   note_to_supplier
    OVERDUE
      PATRON_RETURN             S    -> RETURNED_BY_PATRON         patron_returns
      LOST                      S    -> LOST                       no_conditions
      NOTIFICATION              S    -> OVERDUE                    note_to_supplier
    RETURNED_BY_PATRON
      SHIPPED_RETURN            S    -> SHIPPED_RETURN             ship_back
      LOST                      S    -> LOST                       no_conditions
      NOTIFICATION              S    -> RETURNED_BY_PATRON         note_to_supplier
    RETURNED_UNCOLLECTED
      SHIPPED_RETURN            S    -> SHIPPED_RETURN             ship_back
      NOTIFICATION              S    -> RETURNED_UNCOLLECTED       note_to_supplier
    SHIPPED_RETURN
      LOAN_COMPLETED            U    -> COMPLETED                  no_conditions
      LOST                      S    -> LOST                       no_conditions
      NOTIFICATION              S    -> SHIPPED_RETURN             note_to_supplier
    LOST
      LOAN_COMPLETED            U    -> COMPLETED                  no_conditions
      COMPLETED_WITHOUT_RETURN  U    -> COMPLETED_WITHOUT_RETURN   supplier_writes_off
      NOTIFICATION              S    -> LOST                       note_to_supplier

Any other pair is refused with ILL_INVALID_TRANSITION, except a cancellation too late, which
is refused by the cancellation rule that forbids it (CUT-A7-USER, CUT-B5, CUT-A7-SUP).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from kallimachos.domain.actors import SYSTEM, Actor, ActorKind
from kallimachos.domain.calendar import LibraryCalendar
from kallimachos.domain.errors import Refusal
from kallimachos.domain.ill_cancellation import CancelParty, cancel_refusals
from kallimachos.domain.ill_effects import (
    Effect,
    Events,
    arrived,
    cancelled,
    collected,
    copy_delivered,
    event,
    handed_over,
    loan_completed,
    lost,
    needs_staff,
    noted,
    nothing,
    overdue,
    recalled,
    renewed,
    sent,
    shipped,
    shipped_back,
    supplier_answered,
    uncollected,
    written_off,
)
from kallimachos.domain.ill_errors import IllInvalidTransition
from kallimachos.domain.ill_guards import (
    Guard,
    Step,
    cancel_by_requesting_side,
    forward_to_supplier,
    mark_overdue,
    no_conditions,
    note_to_supplier,
    patron_collects,
    patron_returns,
    renew_with_supplier,
    return_uncollected,
    ship_back,
    supplier_answers,
    supplier_asks_retry,
    supplier_cancels,
    supplier_delivers_copy,
    supplier_recalls,
    supplier_ships_loan,
    supplier_unfilled,
    supplier_writes_off,
)
from kallimachos.domain.ill_request import (
    ISO_STATUS,
    NO_DETAILS,
    TERMINAL,
    ActionDetails,
    IllAction,
    IllEvent,
    IllEventKind,
    IllRequestFacts,
    IllRole,
    IllStatus,
    RequestingAction,
    SupplyStatus,
    stage_of,
)
from kallimachos.domain.policy import ExternalSupplier, LibraryPolicy, PolicySet

__all__ = [
    "ISO_STATUS",
    "NO_DETAILS",
    "TERMINAL",
    "TRANSITIONS",
    "ActionDetails",
    "IllAction",
    "IllEvent",
    "IllEventKind",
    "IllRequestFacts",
    "IllRole",
    "IllStatus",
    "RequestingAction",
    "SupplyStatus",
    "Transition",
    "TransitionResult",
    "apply",
    "available_actions",
    "roles_of",
    "stage_of",
    "transition_table",
]

S, R, U = IllStatus, RequestingAction, SupplyStatus
P_ = IllRole.PATRON
S_ = IllRole.REQUESTING_STAFF
U_ = IllRole.SUPPLIER
Y_ = IllRole.SYSTEM
STAFF = frozenset({S_})
PATRON_OR_STAFF = frozenset({P_, S_})
SUPPLIER = frozenset({U_})
STAFF_OR_SYSTEM = frozenset({S_, Y_})


@dataclass(frozen=True)
class Transition:
    """One step of the lifecycle: where it leads, its guard, who may take it, its effect.

    ``end_of_rota``: where the request goes instead of ``next_state`` when no supplier is left
    in the rota (an unfilled or supplier-cancelled request).
    """

    next_state: IllStatus
    guard: Guard
    by: frozenset[IllRole]
    effect: Effect
    end_of_rota: IllStatus | None = None


@dataclass(frozen=True, kw_only=True)
class TransitionResult:
    """The outcome of :func:`apply`: the new state and the request after the step (both
    unchanged when refused), what the step makes happen, and every reason it was refused."""

    new_state: IllStatus
    request: IllRequestFacts
    events: Events
    refusals: tuple[Refusal, ...]

    @property
    def ok(self) -> bool:
        return not self.refusals


# --- the table -----------------------------------------------------------------------------


def _from(
    states: Iterable[IllStatus], action: IllAction, transition: Transition
) -> dict[tuple[IllStatus, IllAction], Transition]:
    return {(state, action): transition for state in states}


_WITH_SUPPLIER = (S.SENT_TO_SUPPLIER, S.EXPECT_TO_SUPPLY, S.WILL_SUPPLY)
"""Sent to a supplier that has not shipped yet."""

_TO_SEND = (S.AWAITING_PROCESSING, S.RETRY_POSSIBLE, S.UNFILLED, S.END_OF_ROTA)
"""Staff choose a supplier and send it."""

_NOTE_TO_SUPPLIER = (
    *_WITH_SUPPLIER,
    S.RETRY_POSSIBLE,
    S.SHIPPED,
    S.RECEIVED,
    S.CHECKED_OUT_TO_PATRON,
    S.RECALLED,
    S.OVERDUE,
    S.RETURNED_BY_PATRON,
    S.RETURNED_UNCOLLECTED,
    S.SHIPPED_RETURN,
    S.LOST,
)

_UNFILLED = Transition(S.UNFILLED, supplier_unfilled, SUPPLIER, needs_staff, S.END_OF_ROTA)
_SUPPLIER_CANCELLED = Transition(S.UNFILLED, supplier_cancels, SUPPLIER, needs_staff, S.END_OF_ROTA)

TRANSITIONS: Final[Mapping[tuple[IllStatus, IllAction], Transition]] = {
    # the requesting library sends it out, or calls it off
    **_from(_TO_SEND, R.PROCESS, Transition(S.SENT_TO_SUPPLIER, forward_to_supplier, STAFF, sent)),
    **_from(
        (*_TO_SEND, *_WITH_SUPPLIER),
        R.CANCEL,
        Transition(S.CANCELLED, cancel_by_requesting_side, PATRON_OR_STAFF, cancelled),
    ),
    # the supplier answers
    **_from(
        (S.SENT_TO_SUPPLIER,),
        U.EXPECT_TO_SUPPLY,
        Transition(S.EXPECT_TO_SUPPLY, supplier_answers, SUPPLIER, supplier_answered),
    ),
    **_from(
        (S.SENT_TO_SUPPLIER, S.EXPECT_TO_SUPPLY),
        U.WILL_SUPPLY,
        Transition(S.WILL_SUPPLY, supplier_answers, SUPPLIER, supplier_answered),
    ),
    **_from(
        _WITH_SUPPLIER,
        U.RETRY_POSSIBLE,
        Transition(S.RETRY_POSSIBLE, supplier_asks_retry, SUPPLIER, needs_staff),
    ),
    **_from(_WITH_SUPPLIER, U.UNFILLED, _UNFILLED),
    **_from(_WITH_SUPPLIER, U.CANCELLED, _SUPPLIER_CANCELLED),
    **_from(
        _WITH_SUPPLIER, U.LOANED, Transition(S.SHIPPED, supplier_ships_loan, SUPPLIER, shipped)
    ),
    **_from(
        _WITH_SUPPLIER,
        U.COPY_COMPLETED,
        Transition(S.COPY_DELIVERED, supplier_delivers_copy, SUPPLIER, copy_delivered),
    ),
    # arrival and pickup
    (S.SHIPPED, R.RECEIVED): Transition(S.RECEIVED, no_conditions, STAFF, arrived),
    (S.COPY_DELIVERED, R.CHECKOUT_TO_PATRON): Transition(
        S.COMPLETED, no_conditions, STAFF, handed_over
    ),
    (S.RECEIVED, R.CHECKOUT_TO_PATRON): Transition(
        S.CHECKED_OUT_TO_PATRON, patron_collects, STAFF, collected
    ),
    (S.RECEIVED, R.RETURN_UNCOLLECTED): Transition(
        S.RETURNED_UNCOLLECTED, return_uncollected, STAFF_OR_SYSTEM, uncollected
    ),
    # on loan to the patron
    (S.CHECKED_OUT_TO_PATRON, R.RENEW): Transition(
        S.CHECKED_OUT_TO_PATRON, renew_with_supplier, PATRON_OR_STAFF, renewed
    ),
    **_from(
        (S.RECEIVED, S.CHECKED_OUT_TO_PATRON),
        U.RECALLED,
        Transition(S.RECALLED, supplier_recalls, SUPPLIER, recalled),
    ),
    **_from(
        (S.CHECKED_OUT_TO_PATRON, S.RECALLED),
        R.MARK_OVERDUE,
        Transition(S.OVERDUE, mark_overdue, STAFF_OR_SYSTEM, overdue),
    ),
    **_from(
        (S.CHECKED_OUT_TO_PATRON, S.RECALLED, S.OVERDUE),
        R.PATRON_RETURN,
        Transition(S.RETURNED_BY_PATRON, patron_returns, STAFF, nothing),
    ),
    # back to the supplier
    **_from(
        (S.RECALLED, S.RETURNED_BY_PATRON, S.RETURNED_UNCOLLECTED),
        R.SHIPPED_RETURN,
        Transition(S.SHIPPED_RETURN, ship_back, STAFF, shipped_back),
    ),
    **_from(
        (S.SHIPPED_RETURN, S.LOST),
        U.LOAN_COMPLETED,
        Transition(S.COMPLETED, no_conditions, SUPPLIER, loan_completed),
    ),
    **_from(
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
        Transition(S.LOST, no_conditions, STAFF, lost),
    ),
    (S.LOST, U.COMPLETED_WITHOUT_RETURN): Transition(
        S.COMPLETED_WITHOUT_RETURN, supplier_writes_off, SUPPLIER, written_off
    ),
    # a note to the supplier changes nothing but the history
    **{
        (state, R.NOTIFICATION): Transition(state, note_to_supplier, STAFF, noted)
        for state in _NOTE_TO_SUPPLIER
    },
}


# --- applying a step -----------------------------------------------------------------------


def roles_of(actor: Actor, request: IllRequestFacts, policies: PolicySet) -> frozenset[IllRole]:
    """The parts ``actor`` plays in ``request``.

    Staff of the patron's library are requesting staff; staff or the partner account of the
    supplier of the moment speak for it, and so do requesting staff for an external supplier
    they mediate; the consortium's own jobs run as SYSTEM. The caller checks that a patron
    acts on their own request.
    """
    roles: set[IllRole] = set()
    if actor.kind is ActorKind.PATRON:
        roles.add(P_)
    if actor.kind is ActorKind.STAFF and actor.library == request.requesting_library:
        roles.add(S_)
        supplier = _library(policies, request.supplier)
        if isinstance(supplier, ExternalSupplier) and supplier.mediated_by_staff:
            roles.add(U_)
    if actor.kind in (ActorKind.STAFF, ActorKind.PARTNER) and actor.library == request.supplier:
        roles.add(U_)
    if actor == SYSTEM:  # the consortium's own timed jobs
        roles.add(Y_)
    elif actor.kind is ActorKind.ADMIN:  # a consortium admin may act for any party
        roles.update({S_, U_, Y_})
    return frozenset(roles)


def available_actions(
    request: IllRequestFacts, actor: Actor, policies: PolicySet
) -> tuple[IllAction, ...]:
    """The actions ``actor`` may try on ``request`` now (their guards may still refuse)."""
    roles = roles_of(actor, request, policies)
    return tuple(
        action
        for (state, action), transition in TRANSITIONS.items()
        if state is request.status and roles & transition.by
    )


def apply(
    request: IllRequestFacts,
    action: IllAction,
    actor: Actor,
    *,
    now: datetime,
    policies: PolicySet,
    calendar: LibraryCalendar,
    details: ActionDetails = NO_DETAILS,
) -> TransitionResult:
    """Take ``action`` on ``request`` for ``actor``: the new state and events, or refusals.

    ``now`` is aware, in the requesting library's time zone; ``calendar`` is the requesting
    library's (the patron's pickup branch). ``details`` is what the party said with the step.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    requesting = policies.member(request.requesting_library)
    supplier = _library(policies, request.supplier)
    roles = roles_of(actor, request, policies)
    step = Step(
        request=request,
        action=action,
        roles=roles,
        details=details,
        now=now,
        requesting=requesting,
        supplier=supplier,
        calendar=calendar,
    )
    transition = TRANSITIONS.get((request.status, action))
    if transition is None:
        return _refused(request, _why_not(step))
    if not roles & transition.by:
        who = " or ".join(role.value.lower().replace("_", " ") for role in sorted(transition.by))
        message = f"Only the {who} may do this ({action.value}) now."
        return _refused(request, (IllInvalidTransition(message=message, rule=None),))
    refusals = transition.guard(step)
    if refusals:
        return _refused(request, refusals)
    updated, events = transition.effect(step)
    next_state = transition.next_state
    if transition.end_of_rota is not None and request.rota_remaining <= 0:
        next_state = transition.end_of_rota
    changed = event(
        IllEventKind.STATUS_CHANGED,
        f"{request.status.value} -> {next_state.value} ({action.value})",
    )
    return TransitionResult(
        new_state=next_state,
        request=replace(updated, status=next_state),
        events=(changed, *events),
        refusals=(),
    )


def transition_table() -> str:
    """The table in the module docstring, printed from ``TRANSITIONS``."""
    letters = {P_: "P", S_: "S", U_: "U", Y_: "Y"}
    lines: list[str] = []
    for state in IllStatus:
        rows = [(a, t) for (s, a), t in TRANSITIONS.items() if s is state]
        if not rows:
            continue
        lines.append(state.value)
        for action, t in rows:
            by = "".join(letters[role] for role in IllRole if role in t.by)
            goes = t.next_state.value + (f" | {t.end_of_rota.value}" if t.end_of_rota else "")
            lines.append(f"  {action.value:<25} {by:<4} -> {goes:<26} {t.guard.__name__}")
    return "\n".join(lines)


def _library(policies: PolicySet, code: str | None) -> LibraryPolicy | None:
    return policies.library(code) if code is not None and code in policies else None


def _canceller(step: Step) -> CancelParty | None:
    """Who is trying to cancel, if the step is a cancellation by a party that may cancel."""
    if step.action is U.CANCELLED and U_ in step.roles:
        return "supplier"
    if step.action is R.CANCEL and S_ in step.roles:
        return "requesting_library"
    if step.action is R.CANCEL and P_ in step.roles:
        return "patron"
    return None


def _refused(request: IllRequestFacts, refusals: Iterable[Refusal]) -> TransitionResult:
    return TransitionResult(
        new_state=request.status, request=request, events=(), refusals=tuple(refusals)
    )


def _why_not(step: Step) -> tuple[Refusal, ...]:
    """No such step in this state: a cancellation too late says which rule forbids it."""
    r = step.request
    party = _canceller(step)
    if r.status not in TERMINAL and party is not None:
        found = cancel_refusals(
            step.requesting, step.supplier, party=party, stage=stage_of(r.status)
        )
        late = tuple(refusal for refusal in found if refusal.field != "reason")
        if late:
            return late
    possible = [a.value for (s, a) in TRANSITIONS if s is r.status]
    message = (
        f"A request that is {r.status.value} cannot take {step.action.value}; "
        f"possible now: {', '.join(possible) or 'nothing (it is closed)'}."
    )
    return (IllInvalidTransition(message=message, rule=None),)
