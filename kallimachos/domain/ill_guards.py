"""The conditions of each step of an interlibrary loan request (the guards of the lifecycle).

A guard answers "may this step happen now?" with every reason it may not (empty: it may).
Who may take a step is the lifecycle table's business (``ill_states.TRANSITIONS``); a guard
checks the library rules, reading only policy data. Each transition has exactly one guard;
a guard serves several transitions when the same rule applies from several states (sending
to a supplier, cancelling, the supplier's answers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from kallimachos.domain.calendar import LibraryCalendar
from kallimachos.domain.errors import Refusal
from kallimachos.domain.ill_cancellation import CancelParty, cancel_refusals
from kallimachos.domain.ill_costs import (
    CostBreakdown,
    estimate_cost,
    max_cost_refusal,
    prepayment_required,
    supplier_charge,
)
from kallimachos.domain.ill_dates import pickup_deadline, renewal_refusals, supplier_due_date
from kallimachos.domain.ill_errors import (
    IllDetailsInvalid,
    IllHeldLocally,
    IllInvalidTransition,
    IllPickupExpired,
    IllPrepaymentRequired,
)
from kallimachos.domain.ill_request import (
    ActionDetails,
    IllAction,
    IllRequestFacts,
    IllRole,
    IllStatus,
    stage_of,
)
from kallimachos.domain.ill_terms import (
    copyright_refusals,
    delivery_refusals,
    requestable_refusals,
    supplier_refusals,
)
from kallimachos.domain.policy import LibraryPolicy, MemberLibrary

__all__ = [
    "WITH_PATRON",
    "Guard",
    "Step",
    "cancel_by_requesting_side",
    "forward_to_supplier",
    "mark_overdue",
    "no_conditions",
    "note_to_supplier",
    "patron_collects",
    "patron_returns",
    "renew_with_supplier",
    "return_uncollected",
    "ship_back",
    "supplier_answers",
    "supplier_asks_retry",
    "supplier_cancels",
    "supplier_delivers_copy",
    "supplier_recalls",
    "supplier_ships_loan",
    "supplier_unfilled",
    "supplier_writes_off",
]

WITH_PATRON = frozenset({IllStatus.CHECKED_OUT_TO_PATRON, IllStatus.RECALLED, IllStatus.OVERDUE})
"""States in which the patron may have the item (if they collected it)."""


@dataclass(frozen=True, kw_only=True)
class Step:
    """One step being tried: the request, the action, who acts, what they said, and the rules.

    ``now`` is aware and in the requesting library's time zone (its date is business "today");
    ``calendar`` is the requesting library's (pickup branch's).
    """

    request: IllRequestFacts
    action: IllAction
    roles: frozenset[IllRole]
    details: ActionDetails
    now: datetime
    requesting: MemberLibrary
    supplier: LibraryPolicy | None
    calendar: LibraryCalendar

    @property
    def today(self) -> date:
        return self.now.date()

    @property
    def with_patron(self) -> bool:
        """Does the patron have the item now?"""
        return self.request.status in WITH_PATRON and self.request.checked_out_on is not None

    def cost(self) -> CostBreakdown | None:
        """The request's cost at the supplier of the moment, with the charge it stated."""
        r = self.request
        if self.supplier is None:
            return None
        stated = self.details.supplier_charge
        if stated is None and r.cost is not None and r.cost.supplier == self.supplier.code:
            return r.cost
        if stated is None and supplier_charge(self.supplier, r.service_type) is None:
            return None
        return estimate_cost(
            self.requesting,
            self.supplier,
            service_type=r.service_type,
            category=r.patron_category,
            actual_charge=stated,
        )


Guard = Callable[[Step], tuple[Refusal, ...]]


def no_conditions(step: Step) -> tuple[Refusal, ...]:
    """Nothing but who acts: receiving, reporting a loss, handing over a copy, completing."""
    return ()


def forward_to_supplier(step: Step) -> tuple[Refusal, ...]:
    """Staff send the request to a supplier (CUT-A6), once it may go: a supplier chosen, the
    material not held here (CUT-A2, checked before it goes out), requestable (CUT-A3), the
    supplier's rules met (TUC-SUP-1, CUT-B2), delivery and copyright in order (CUT-A8, CUT-B6,
    CUT-B9), within the patron's maximum, and a personal charge paid first (CUT-A4-PRE)."""
    r, supplier = step.request, step.supplier
    if supplier is None or supplier.code == r.requesting_library:
        message = "Choose the supplier to send the request to (not the library itself)."
        return (IllDetailsInvalid(message=message, rule=None, field="supplier"),)
    requesting = step.requesting
    found: list[Refusal] = []
    eligibility = requesting.ill_requesting.eligibility
    if r.held_locally and eligibility.require_not_held_locally:
        found.append(
            IllHeldLocally(
                message=f"{requesting.code} holds this material: cancel it as held locally.",
                rule=eligibility.rule_for("require_not_held_locally"),
            )
        )
    found += requestable_refusals(
        requesting, material_type=r.material_type, service_type=r.service_type
    )
    found += supplier_refusals(
        requesting,
        supplier,
        service_type=r.service_type,
        material_type=r.material_type,
        open_requests=r.open_requests_at_supplier,
    )
    if r.delivery_method is not None:
        found += delivery_refusals(requesting, supplier, r.service_type, r.delivery_method)
    found += copyright_refusals(supplier, r.service_type, declared=r.copyright_declared)
    cost = step.cost()
    if cost is not None:
        if (too_much := max_cost_refusal(requesting, cost, r.max_cost)) is not None:
            found.append(too_much)
        if prepayment_required(requesting, cost) and not r.prepaid:
            policy = requesting.ill_requesting.cost
            found.append(
                IllPrepaymentRequired(
                    message=(
                        f"The patron pays {cost.total:.2f} {cost.currency} in advance, "
                        "before the request goes out."
                    ),
                    rule=policy.rule_for("personal_charge_prepaid"),
                )
            )
    return tuple(found)


def cancel_by_requesting_side(step: Step) -> tuple[Refusal, ...]:
    """The patron cancels only before processing (CUT-A7-USER); staff for a policy reason
    (CUT-A7-STAFF) and only until the supplier ships (CUT-B5)."""
    party: CancelParty = (
        "requesting_library" if IllRole.REQUESTING_STAFF in step.roles else "patron"
    )
    return cancel_refusals(
        step.requesting,
        step.supplier,
        party=party,
        stage=stage_of(step.request.status),
        reason=step.details.reason,
    )


def supplier_answers(step: Step) -> tuple[Refusal, ...]:
    """The supplier expects to, or will, supply; a charge it states stays within the patron's
    maximum (otherwise it answers RETRY_POSSIBLE, ISO CostExceedsMaxCost)."""
    return _stated_charge_refusals(step)


def supplier_asks_retry(step: Step) -> tuple[Refusal, ...]:
    """The supplier could supply on other terms: it says which (ISO reasonRetry)."""
    return _reason_required(step, "Say on what terms it could be supplied (reasonRetry).")


def supplier_unfilled(step: Step) -> tuple[Refusal, ...]:
    """The supplier cannot supply: it says why (ISO reasonUnfilled), for the next supplier."""
    return _reason_required(step, "Say why it cannot be supplied (reasonUnfilled).")


def supplier_cancels(step: Step) -> tuple[Refusal, ...]:
    """The supplier cancels for a reason both libraries accept: on loan, lost, non-lending
    collection, publisher restriction (CUT-A7-SUP, CUT-B5), and only before it ships."""
    return cancel_refusals(
        step.requesting,
        step.supplier,
        party="supplier",
        stage=stage_of(step.request.status),
        reason=step.details.reason,
    )


def supplier_ships_loan(step: Step) -> tuple[Refusal, ...]:
    """The supplier ships a loan: with a due date (its terms, or the date it states: TUC-SUP-1,
    CUT-B7, CONS-3), by a method both sides use (CUT-A8, CUT-B6), within the maximum cost."""
    r = step.request
    if r.service_type != "loan":
        message = "A copy request is answered COPY_COMPLETED, not LOANED."
        return (IllInvalidTransition(message=message, rule=None),)
    found = list(_stated_charge_refusals(step)) + list(_delivery(step))
    if step.supplier is not None:
        due = supplier_due_date(
            step.supplier,
            request_received_on=r.request_received_on,
            shipped_on=step.today,
            stated_due_on=step.details.due_on,
        )
        if due is None or due.on <= step.today:
            message = "Give the loan's due date, after today."
            found.append(IllDetailsInvalid(message=message, rule=None, field="dueDate"))
    return tuple(found)


def supplier_delivers_copy(step: Step) -> tuple[Refusal, ...]:
    """The supplier delivers a copy the patron keeps (TUC-ILL-3): with the patron's copyright
    declaration where it asks for one (CUT-B9), by fax, email or download (CUT-A8, CUT-B6)."""
    r = step.request
    if r.service_type != "copy":
        message = "A loan request is answered LOANED, not COPY_COMPLETED."
        return (IllInvalidTransition(message=message, rule=None),)
    found = list(_stated_charge_refusals(step)) + list(_delivery(step))
    if step.supplier is not None:
        found += copyright_refusals(step.supplier, "copy", declared=r.copyright_declared)
    return tuple(found)


def patron_collects(step: Step) -> tuple[Refusal, ...]:
    """The patron collects a loan until the pickup deadline (CUT-A9), for a due date within
    the library's margin before the supplier's (CUT-A11)."""
    r = step.request
    found: list[Refusal] = []
    if r.supplier_due_on is not None:
        deadline = pickup_deadline(step.requesting, supplier_due_on=r.supplier_due_on)
        if step.today > deadline.on:
            found.append(
                IllPickupExpired(
                    message=(
                        f"It could be collected until {deadline.on.isoformat()}: it goes back "
                        "to the supplier."
                    ),
                    rule=deadline.rule,
                )
            )
    chosen = step.details.working_days_before
    margin = step.requesting.ill_requesting.loans.patron_due_working_days_before_supplier_due
    if chosen is not None and not margin.minimum <= chosen <= margin.maximum:
        loans = step.requesting.ill_requesting.loans
        found.append(
            IllDetailsInvalid(
                message=(
                    f"The patron's due date is {margin.minimum} to {margin.maximum} working "
                    "days before the supplier's."
                ),
                rule=loans.rule_for("patron_due_working_days_before_supplier_due"),
                field="workingDaysBefore",
            )
        )
    return tuple(found)


def return_uncollected(step: Step) -> tuple[Refusal, ...]:
    """Material not collected by the pickup deadline goes back to the supplier (CUT-A9)."""
    due = step.request.supplier_due_on
    if due is None:
        return ()
    deadline = pickup_deadline(step.requesting, supplier_due_on=due)
    if step.today > deadline.on:
        return ()
    message = f"The patron may still collect it until {deadline.on.isoformat()}."
    return (IllInvalidTransition(message=message, rule=deadline.rule),)


def supplier_recalls(step: Step) -> tuple[Refusal, ...]:
    """The supplier recalls by a date it states, where its terms let it (CUT-B7, CUT-A10)."""
    found: list[Refusal] = []
    supplier = step.supplier
    if isinstance(supplier, MemberLibrary) and not supplier.ill_supplying.loan.may_recall:
        terms = supplier.ill_supplying.loan
        message = f"{supplier.code}'s terms do not let it recall interlibrary loans."
        found.append(IllInvalidTransition(message=message, rule=terms.rule_for("may_recall")))
    due = step.details.due_on
    if due is None or due < step.today:
        message = "Give the date by which the item must be back (today or later)."
        found.append(IllDetailsInvalid(message=message, rule=None, field="dueDate"))
    return tuple(found)


def renew_with_supplier(step: Step) -> tuple[Refusal, ...]:
    """A renewal only if the supplier renews, asked in time, and not wanted at the supplier
    (CUT-A10, CUT-B7); an external supplier's new date is the one it states."""
    r, supplier = step.request, step.supplier
    if supplier is None or r.supplier_due_on is None:
        return (IllInvalidTransition(message="The loan has no due date yet.", rule=None),)
    found = list(
        renewal_refusals(
            step.requesting,
            supplier,
            supplier_due_on=r.supplier_due_on,
            renewals=r.renewals,
            today=step.today,
            supplier_local_hold=r.supplier_local_hold,
        )
    )
    if not found and not isinstance(supplier, MemberLibrary) and step.details.due_on is None:
        message = f"Give the new due date {supplier.code} stated."
        found.append(IllDetailsInvalid(message=message, rule=None, field="dueDate"))
    return tuple(found)


def patron_returns(step: Step) -> tuple[Refusal, ...]:
    """The patron brings the item back to the requesting library (checked in there)."""
    if step.with_patron:
        return ()
    message = "The patron never collected it: ship it back to the supplier instead."
    return (IllInvalidTransition(message=message, rule=None),)


def ship_back(step: Step) -> tuple[Refusal, ...]:
    """The requesting library ships the item back, once it has it (not while the patron does)."""
    if not step.with_patron:
        return ()
    message = "The patron still has it: check it in first."
    return (IllInvalidTransition(message=message, rule=None),)


def mark_overdue(step: Step) -> tuple[Refusal, ...]:
    """The loan is overdue once the supplier's due date has passed (ISO Overdue)."""
    due = step.request.supplier_due_on
    if due is not None and step.today > due:
        return ()
    shown = due.isoformat() if due is not None else "not set"
    return (IllInvalidTransition(message=f"Not overdue: due {shown}.", rule=None),)


def supplier_writes_off(step: Step) -> tuple[Refusal, ...]:
    """The supplier closes a lost loan; where its terms charge the replacement, it states the
    charge (CUT-B8)."""
    supplier = step.supplier
    if not isinstance(supplier, MemberLibrary):
        return ()
    terms = supplier.ill_supplying.loan
    if not terms.loss_or_damage_charges_replacement or step.details.supplier_charge is not None:
        return ()
    return (
        IllDetailsInvalid(
            message="State the replacement charge.",
            rule=terms.rule_for("loss_or_damage_charges_replacement"),
            field="supplierCharge",
        ),
    )


def note_to_supplier(step: Step) -> tuple[Refusal, ...]:
    """A note to the supplier (ISO Notification) says something."""
    if step.details.note and step.details.note.strip():
        return ()
    return (IllDetailsInvalid(message="Write the note.", rule=None, field="note"),)


# --- shared checks -------------------------------------------------------------------------


def _reason_required(step: Step, message: str) -> tuple[Refusal, ...]:
    if step.details.reason and step.details.reason.strip():
        return ()
    return (IllDetailsInvalid(message=message, rule=None, field="reason"),)


def _stated_charge_refusals(step: Step) -> tuple[Refusal, ...]:
    if step.details.supplier_charge is None:
        return ()
    cost = step.cost()
    if cost is None:
        return ()
    too_much = max_cost_refusal(step.requesting, cost, step.request.max_cost)
    return () if too_much is None else (too_much,)


def _delivery(step: Step) -> tuple[Refusal, ...]:
    method = step.details.delivery_method or step.request.delivery_method
    if method is None or step.supplier is None:
        return ()
    return delivery_refusals(step.requesting, step.supplier, step.request.service_type, method)
