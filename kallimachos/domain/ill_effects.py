"""What each step of an interlibrary loan request makes happen (the effects of the lifecycle).

An effect runs after its transition's guard passed. It returns the request with the dates and
amounts the step sets, and the events to record: notices to the patron and the libraries,
due dates and deadlines, charges. Dates flow from the supplier to the requesting library to
the patron (CONS-3): the supplier's due date from its terms or its answer (TUC-SUP-1, CUT-B7,
TUC-ILL-5), the patron's from it at pickup (CUT-A11), renewals and recalls from the supplier
(CUT-A10); the patron is told as soon as the material arrives (TUC-ILL-4, CUT-A9).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Final, get_args

from kallimachos.domain.ill_costs import (
    IllCharge,
    late_return_fee,
    passed_on_to_patron,
    replacement_charges,
    uncollected_charge,
)
from kallimachos.domain.ill_dates import (
    is_late,
    patron_due_date,
    pickup_deadline,
    recall_patron_due_date,
    renewed_supplier_due_date,
    supplier_due_date,
)
from kallimachos.domain.ill_guards import Step
from kallimachos.domain.ill_request import (
    IllEvent,
    IllEventKind,
    IllRequestFacts,
    IllRole,
    IllStatus,
)
from kallimachos.domain.ill_terms import signature_required
from kallimachos.domain.policy import DeliveryMethod

__all__ = [
    "ARRIVAL_NOTICE_RULE",
    "Effect",
    "Events",
    "arrived",
    "cancelled",
    "collected",
    "copy_delivered",
    "event",
    "handed_over",
    "loan_completed",
    "lost",
    "needs_staff",
    "noted",
    "nothing",
    "overdue",
    "recalled",
    "renewed",
    "sent",
    "shipped",
    "shipped_back",
    "supplier_answered",
    "uncollected",
    "written_off",
]

ARRIVAL_NOTICE_RULE: Final = "TUC-ILL-4"
"""The requester is told when the material arrives: enforced here for every library (see
``rules_in_code``); cited when the library's pickup policy names no rule of its own."""

Events = tuple[IllEvent, ...]
Effect = Callable[[Step], tuple[IllRequestFacts, Events]]

_DELIVERY_METHODS: Final[tuple[DeliveryMethod, ...]] = get_args(DeliveryMethod)
_STAFF = IllRole.REQUESTING_STAFF


def event(
    kind: IllEventKind,
    message: str,
    *,
    rule: str | None = None,
    on: date | None = None,
    amount: Decimal | None = None,
) -> IllEvent:
    """An event of ``kind``; a shorthand for the keyword-only constructor."""
    return IllEvent(kind=kind, message=message, rule=rule, on=on, amount=amount)


def nothing(step: Step) -> tuple[IllRequestFacts, Events]:
    """No change but the state."""
    return step.request, ()


def sent(step: Step) -> tuple[IllRequestFacts, Events]:
    """Sent to the supplier of the moment, which receives it today (TUC-SUP-1 counts from it);
    late if staff took longer than the policy allows (CUT-A6); the cost at that supplier, and
    the patron's personal charge on the first sending (CUT-A1-PAY, CUT-A4-PRE)."""
    r, requesting = step.request, step.requesting
    code = step.supplier.code if step.supplier is not None else "?"
    policy = requesting.ill_requesting
    forward_rule = policy.rule_for("forward_within_working_days")
    events = [event(IllEventKind.NOTIFY_SUPPLIER, f"request sent to {code}", rule=forward_rule)]
    first = r.status is IllStatus.AWAITING_PROCESSING
    if first and is_late(requesting, step.calendar, created_at=r.created_at, today=step.today):
        message = "forwarded later than the policy allows"
        events.append(event(IllEventKind.PROCESSED_LATE, message, rule=forward_rule))
    cost = step.cost()
    if cost is not None:
        estimate = "estimated " if cost.estimated else ""
        message = f"{estimate}cost at {code}, paid by the {cost.payer}"
        events.append(event(IllEventKind.COST_SET, message, rule=cost.rule, amount=cost.total))
        if first and cost.payer == "patron" and cost.total > 0:
            paid = " (paid in advance)" if r.prepaid else ""
            events.append(
                event(
                    IllEventKind.CHARGE_PATRON,
                    f"personal charge{paid}",
                    rule=policy.cost.rule_for("payer_by_category"),
                    amount=cost.total,
                )
            )
    return replace(r, request_received_on=step.today, cost=cost), tuple(events)


def cancelled(step: Step) -> tuple[IllRequestFacts, Events]:
    """The patron is told why; a supplier already asked is told too (ISO Cancel)."""
    r, policy = step.request, step.requesting.ill_requesting.cancellation
    by_staff = _STAFF in step.roles
    key = "staff_cancel_reasons" if by_staff else "patron_may_cancel_before"
    why = step.details.reason if by_staff else "at the patron's request"
    events = [event(IllEventKind.NOTIFY_PATRON, f"cancelled: {why}", rule=policy.rule_for(key))]
    if r.status in _SUPPLIER_ASKED:
        events.append(event(IllEventKind.NOTIFY_SUPPLIER, "cancelled (ISO Cancel)"))
    return r, tuple(events)


def supplier_answered(step: Step) -> tuple[IllRequestFacts, Events]:
    """A charge the supplier states replaces its indicative one (CUT-A4)."""
    if step.details.supplier_charge is None:
        return step.request, ()
    cost = step.cost()
    if cost is None:
        return step.request, ()
    message = "the supplier's stated charge"
    changed = event(IllEventKind.COST_SET, message, rule=cost.rule, amount=cost.total)
    return replace(step.request, cost=cost), (changed,)


def needs_staff(step: Step) -> tuple[IllRequestFacts, Events]:
    """Unfilled, cancelled by the supplier, or retry: staff choose the next supplier or terms."""
    why = step.details.reason or "no reason given"
    supplier = step.supplier.code if step.supplier is not None else "the supplier"
    message = f"{supplier}: {step.action.value.lower().replace('_', ' ')} ({why})"
    return step.request, (event(IllEventKind.NOTIFY_REQUESTING_LIBRARY, message),)


def shipped(step: Step) -> tuple[IllRequestFacts, Events]:
    """The supplier's due date: its terms, or the date it states (TUC-SUP-1, CUT-B7, CONS-3)."""
    r = step.request
    due = None
    if step.supplier is not None:
        due = supplier_due_date(
            step.supplier,
            request_received_on=r.request_received_on,
            shipped_on=step.today,
            stated_due_on=step.details.due_on,
        )
    updated, events = supplier_answered(step)
    updated = replace(
        updated,
        shipped_on=step.today,
        supplier_due_on=due.on if due else None,
        delivery_method=_method(step),
    )
    if due is not None:
        set_due = event(IllEventKind.SUPPLIER_DUE_DATE_SET, due.reason, rule=due.rule, on=due.on)
        events = (*events, set_due)
    return updated, events


def copy_delivered(step: Step) -> tuple[IllRequestFacts, Events]:
    """A copy the patron keeps: told at once, handed over or forwarded (TUC-ILL-3, TUC-ILL-4)."""
    updated, events = supplier_answered(step)
    updated = replace(updated, received_on=step.today, delivery_method=_method(step))
    message = "your copy has arrived; it is yours to keep"
    notice = event(IllEventKind.NOTIFY_PATRON, message, rule=_arrival_rule(step))
    return updated, (*events, notice)


def arrived(step: Step) -> tuple[IllRequestFacts, Events]:
    """Arrived: the patron is told at once and learns the pickup deadline (TUC-ILL-4, CUT-A9)."""
    r = step.request
    message = "your loan has arrived"
    events = [event(IllEventKind.NOTIFY_PATRON, message, rule=_arrival_rule(step))]
    if r.supplier_due_on is not None:
        deadline = pickup_deadline(step.requesting, supplier_due_on=r.supplier_due_on)
        events.append(
            event(
                IllEventKind.PICKUP_DEADLINE_SET,
                f"collect it by {deadline.on.isoformat()} ({deadline.reason})",
                rule=deadline.rule,
                on=deadline.on,
            )
        )
    return replace(r, received_on=step.today), tuple(events)


def handed_over(step: Step) -> tuple[IllRequestFacts, Events]:
    """A copy handed over or forwarded: the patron keeps it, no signature (CUT-A9)."""
    return replace(step.request, checked_out_on=step.today), ()


def collected(step: Step) -> tuple[IllRequestFacts, Events]:
    """Collected: due a few working days before the supplier's date (CUT-A11, TUC-ILL-5), and
    signed for (CUT-A9)."""
    r = step.request
    updated = replace(r, checked_out_on=step.today)
    if r.supplier_due_on is None:
        return updated, ()
    due = patron_due_date(
        step.requesting,
        step.calendar,
        supplier_due_on=r.supplier_due_on,
        today=step.today,
        working_days_before=step.details.working_days_before,
    )
    signed = " (signed for)" if signature_required(step.requesting, r.service_type) else ""
    message = f"{due.reason}{signed}"
    set_due = event(IllEventKind.PATRON_DUE_DATE_SET, message, rule=due.rule, on=due.on)
    return replace(updated, patron_due_on=due.on), (set_due,)


def uncollected(step: Step) -> tuple[IllRequestFacts, Events]:
    """Going back uncollected: the patron pays the supplier's charge and shipping (CUT-A9)."""
    cost = step.cost()
    charge = uncollected_charge(step.requesting, cost) if cost is not None else None
    return step.request, _charges([charge])


def recalled(step: Step) -> tuple[IllRequestFacts, Events]:
    """The supplier's recall, passed on to the patron with a date the library works out
    (CUT-A10, CONS-3); a recall never lengthens a loan."""
    r = step.request
    stated = step.details.due_on
    if stated is None:
        return r, ()
    supplier_due = min(stated, r.supplier_due_on) if r.supplier_due_on else stated
    updated = replace(r, supplier_due_on=supplier_due)
    if not step.with_patron:
        notice = event(IllEventKind.NOTIFY_REQUESTING_LIBRARY, "recalled: ship it back")
        return updated, (notice,)
    due = recall_patron_due_date(
        step.requesting,
        step.calendar,
        recall_due_on=supplier_due,
        current_patron_due_on=r.patron_due_on,
        today=step.today,
    )
    recall = event(IllEventKind.RECALLED_FROM_PATRON, due.reason, rule=due.rule, on=due.on)
    return replace(updated, patron_due_on=due.on), (recall,)


def renewed(step: Step) -> tuple[IllRequestFacts, Events]:
    """Renewed by the supplier's terms or answer (CUT-B7, CONS-3); the patron's date follows
    (CUT-A11)."""
    r = step.request
    if step.supplier is None or r.supplier_due_on is None:
        return r, ()
    new = renewed_supplier_due_date(
        step.supplier, current_due_on=r.supplier_due_on, stated_due_on=step.details.due_on
    )
    if new is None:
        return r, ()
    patron = patron_due_date(
        step.requesting, step.calendar, supplier_due_on=new.on, today=step.today
    )
    updated = replace(r, supplier_due_on=new.on, patron_due_on=patron.on, renewals=r.renewals + 1)
    return updated, (
        event(IllEventKind.RENEWED, new.reason, rule=new.rule, on=new.on),
        event(IllEventKind.PATRON_DUE_DATE_SET, patron.reason, rule=patron.rule, on=patron.on),
    )


def overdue(step: Step) -> tuple[IllRequestFacts, Events]:
    """The patron is reminded that the supplier's due date has passed."""
    return step.request, (event(IllEventKind.NOTIFY_PATRON, "overdue at the supplier"),)


def shipped_back(step: Step) -> tuple[IllRequestFacts, Events]:
    """Sent back by the way the policy says: e.g. post abroad, courier at home (CUT-A11)."""
    loans = step.requesting.ill_requesting.loans
    at_home = step.supplier is not None and step.supplier.country == step.requesting.country
    method = loans.return_shipping["domestic" if at_home else "abroad"]
    message = f"shipped back by {method} (ISO ShippedReturn)"
    notice = event(IllEventKind.NOTIFY_SUPPLIER, message, rule=loans.rule_for("return_shipping"))
    return replace(step.request, return_shipped_on=step.today), (notice,)


def lost(step: Step) -> tuple[IllRequestFacts, Events]:
    """The supplier is told (ISO Lost); it closes the loan and states the charge."""
    return step.request, (event(IllEventKind.NOTIFY_SUPPLIER, "reported lost (ISO Lost)"),)


def loan_completed(step: Step) -> tuple[IllRequestFacts, Events]:
    """Back at the supplier: a late return costs the supplier's fee (CUT-B8), passed on to the
    patron where the policy says so (CUT-A11)."""
    r = step.request
    if step.supplier is None or r.supplier_due_on is None:
        return r, ()
    fee = late_return_fee(
        step.supplier,
        supplier_due_on=r.supplier_due_on,
        back_on=step.today,
        shipped_back_on=r.return_shipped_on,
    )
    if fee is None:
        return r, ()
    return r, _charges([fee, passed_on_to_patron(step.requesting, fee)])


def written_off(step: Step) -> tuple[IllRequestFacts, Events]:
    """A lost loan closed: the replacement charged to the library, and passed on to the patron
    (CUT-B8, CUT-A11)."""
    amount = step.details.supplier_charge
    if amount is None or step.supplier is None:
        return step.request, ()
    return step.request, _charges(replacement_charges(step.requesting, step.supplier, amount))


def noted(step: Step) -> tuple[IllRequestFacts, Events]:
    """The note goes to the supplier (ISO Notification)."""
    note = (step.details.note or "").strip()
    return step.request, (event(IllEventKind.NOTIFY_SUPPLIER, note),)


_SUPPLIER_ASKED = frozenset(
    {
        IllStatus.SENT_TO_SUPPLIER,
        IllStatus.EXPECT_TO_SUPPLY,
        IllStatus.WILL_SUPPLY,
        IllStatus.RETRY_POSSIBLE,
    }
)


def _arrival_rule(step: Step) -> str | None:
    pickup = step.requesting.ill_requesting.pickup
    return next(iter(pickup.rule_ids), None) or ARRIVAL_NOTICE_RULE


def _charges(charges: Iterable[IllCharge | None]) -> Events:
    return tuple(
        event(
            IllEventKind.CHARGE_PATRON
            if c.debtor == "patron"
            else IllEventKind.CHARGE_REQUESTING_LIBRARY,
            c.reason,
            rule=c.rule,
            amount=c.amount,
        )
        for c in charges
        if c is not None
    )


def _method(step: Step) -> DeliveryMethod | None:
    for method in _DELIVERY_METHODS:
        if method == step.details.delivery_method:
            return method
    return step.request.delivery_method
