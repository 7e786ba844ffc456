"""The dates of an interlibrary loan: set by the supplier, passed on to the patron (CONS-3).

* **Supplier's due date (TUC-SUP-1, CUT-B7, TUC-ILL-5).** The lending library sets the loan
  period: a member lends for its ``loan_days`` or ``loan_months`` counted from the day it
  received the request (TUC: two weeks) or shipped the item (CUT: one month, to the day it
  is back). A due date the supplier states in its answer wins; an external supplier's due
  date is only ever the one it states.
* **Patron's due date (CUT-A11).** A number of working days before the supplier's, the
  policy's default unless staff pick another within its range; a late pickup shortens the
  loan, never the supplier's date (CUT-A10). Never before the day it is set.
* **Pickup (CUT-A9).** Returnable material not collected by a number of days before the
  supplier's due date goes back to the supplier.
* **Renewal (CUT-A10, CUT-B7).** Only if the supplier renews, as many times as it allows,
  asked at least so many days before the due date (the stricter of the two libraries), and not
  while one of the supplier's own users wants the item. A member renews by its own period from
  the current due date; an external supplier states the new date.
* **Recall (CUT-A10, CONS-3).** The supplier recalls by a date; the library recalls from the
  patron, by the patron's usual margin before it, never later than the patron's due date.
* **Forwarding (CUT-A6).** Staff forward a request within ``forward_within_working_days``
  working days of its submission (1: the same or the next working day); later is late.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Final

from kallimachos.domain.calendar import LibraryCalendar
from kallimachos.domain.due_dates import DueDate
from kallimachos.domain.errors import Refusal
from kallimachos.domain.ill_errors import IllRenewalRefused
from kallimachos.domain.policy import LibraryPolicy, MemberLibrary, add_months

__all__ = [
    "CONSORTIUM_RULE",
    "is_late",
    "patron_due_date",
    "pickup_deadline",
    "processing_deadline",
    "recall_patron_due_date",
    "renewal_refusals",
    "renewed_supplier_due_date",
    "supplier_due_date",
]

CONSORTIUM_RULE: Final = "CONS-3"
"""Dates flow from supplier to requesting library to patron: enforced here for every library
(see ``rules_in_code``); cited when the supplier's answer, not its policy, sets a date."""


_COUNTED_FROM: Final = {"request_received": "received the request", "shipped": "shipped it"}


def supplier_due_date(
    supplier: LibraryPolicy,
    *,
    request_received_on: date | None,
    shipped_on: date | None,
    stated_due_on: date | None = None,
) -> DueDate | None:
    """The day the supplier wants its item back (TUC-SUP-1, CUT-B7).

    ``stated_due_on`` (the supplier's answer) wins. Otherwise a member's terms count from the
    day it received the request or shipped the item; ``None`` when that day is not known yet,
    or the supplier is external and stated nothing.
    """
    if stated_due_on is not None:
        return DueDate(on=stated_due_on, rule=CONSORTIUM_RULE, reason=f"{supplier.code}'s date")
    if not isinstance(supplier, MemberLibrary):
        return None
    terms = supplier.ill_supplying.loan
    start = request_received_on if terms.counted_from == "request_received" else shipped_on
    if start is None:
        return None
    counted = _COUNTED_FROM[terms.counted_from]
    if terms.loan_months is not None:
        key, on = "loan_months", add_months(start, terms.loan_months)
        period = f"{terms.loan_months} month(s)"
    else:
        days = terms.loan_days or 0
        key, on = "loan_days", start + timedelta(days=days)
        period = f"{days} days"
    reason = f"{supplier.code} lends for {period} from the day it {counted}"
    return DueDate(on=on, rule=terms.rule_for(key) or CONSORTIUM_RULE, reason=reason)


def patron_due_date(
    requesting: MemberLibrary,
    calendar: LibraryCalendar,
    *,
    supplier_due_on: date,
    today: date,
    working_days_before: int | None = None,
) -> DueDate:
    """The patron's due date: working days before the supplier's (CUT-A11, TUC-ILL-5).

    ``working_days_before``: staff's choice within the policy's range (default: the policy's).
    ``calendar``: the requesting library's (pickup branch's). Raises ``ValueError`` for a
    choice outside the range.
    """
    loans = requesting.ill_requesting.loans
    margin = loans.patron_due_working_days_before_supplier_due
    days = margin.default if working_days_before is None else working_days_before
    if not margin.minimum <= days <= margin.maximum:
        raise ValueError(
            f"the patron's due date is {margin.minimum} to {margin.maximum} working days "
            f"before the supplier's, not {days}"
        )
    rule = loans.rule_for("patron_due_working_days_before_supplier_due")
    on = calendar.add_working_days(supplier_due_on, -days)
    if on < today:
        reason = f"collected late: due at once ({supplier_due_on.isoformat()} at the supplier)"
        return DueDate(on=today, rule=rule, reason=reason)
    return DueDate(on=on, rule=rule, reason=f"{days} working days before the supplier's date")


def pickup_deadline(requesting: MemberLibrary, *, supplier_due_on: date) -> DueDate:
    """The last day the patron may collect returnable material (CUT-A9); after it, the
    material goes back to the supplier."""
    pickup = requesting.ill_requesting.pickup
    days = pickup.uncollected_return_days_before_supplier_due
    return DueDate(
        on=supplier_due_on - timedelta(days=days),
        rule=pickup.rule_for("uncollected_return_days_before_supplier_due"),
        reason=f"{days} days before the supplier's due date",
    )


def renewal_refusals(
    requesting: MemberLibrary,
    supplier: LibraryPolicy,
    *,
    supplier_due_on: date,
    renewals: int,
    today: date,
    supplier_local_hold: bool = False,
) -> tuple[Refusal, ...]:
    """Why the loan cannot be renewed with ``supplier`` today (CUT-A10, CUT-B7); empty if it can.

    ``renewals``: renewals already granted. ``supplier_local_hold``: one of the supplier's own
    users has asked for the item.
    """
    loans = requesting.ill_requesting.loans
    own_rule = loans.rule_for("renewal_request_min_days_before_due")
    found: list[Refusal] = []
    if isinstance(supplier, MemberLibrary):
        terms = supplier.ill_supplying.loan
        if renewals >= terms.max_renewals:
            message = (
                f"{supplier.code} does not renew interlibrary loans."
                if terms.max_renewals == 0
                else f"Already renewed {renewals} time(s), the most {supplier.code} allows."
            )
            rule = terms.rule_for("max_renewals") or own_rule
            found.append(IllRenewalRefused(message=message, rule=rule))
        supplier_days = terms.renewal_request_min_days_before_due or 0
        if terms.renewal_refused_if_local_hold and supplier_local_hold:
            found.append(
                IllRenewalRefused(
                    message=f"A reader at {supplier.code} has asked for the item.",
                    rule=terms.rule_for("renewal_refused_if_local_hold"),
                )
            )
        supplier_rule = terms.rule_for("renewal_request_min_days_before_due")
    else:
        if not supplier.allows_renewal:
            message = f"{supplier.code} does not renew interlibrary loans."
            found.append(IllRenewalRefused(message=message, rule=own_rule))
        supplier_days, supplier_rule = 0, None
    days = max(loans.renewal_request_min_days_before_due, supplier_days)
    if (supplier_due_on - today).days < days:
        # The supplier's rule binds the borrower (CONS-3): cite it when it is the strict one.
        stricter = supplier_rule if supplier_days == days else own_rule
        found.append(
            IllRenewalRefused(
                message=(
                    f"A renewal must be asked at least {days} days before the due date "
                    f"({supplier_due_on.isoformat()})."
                ),
                rule=stricter or own_rule,
            )
        )
    return tuple(found)


def renewed_supplier_due_date(
    supplier: LibraryPolicy, *, current_due_on: date, stated_due_on: date | None = None
) -> DueDate | None:
    """The supplier's new due date after a renewal (CUT-B7: one month from the due date).

    ``stated_due_on`` (the supplier's answer) wins; ``None`` for an external supplier that
    stated nothing, or a member that does not renew.
    """
    if stated_due_on is not None:
        return DueDate(on=stated_due_on, rule=CONSORTIUM_RULE, reason=f"{supplier.code}'s date")
    if not isinstance(supplier, MemberLibrary):
        return None
    terms = supplier.ill_supplying.loan
    if terms.renewal_months is not None:
        on = add_months(current_due_on, terms.renewal_months)
        key, period = "renewal_months", f"{terms.renewal_months} month(s)"
    elif terms.renewal_days is not None:
        on = current_due_on + timedelta(days=terms.renewal_days)
        key, period = "renewal_days", f"{terms.renewal_days} days"
    else:
        return None
    reason = f"renewed by {supplier.code} for {period}"
    return DueDate(on=on, rule=terms.rule_for(key) or CONSORTIUM_RULE, reason=reason)


def recall_patron_due_date(
    requesting: MemberLibrary,
    calendar: LibraryCalendar,
    *,
    recall_due_on: date,
    current_patron_due_on: date | None,
    today: date,
) -> DueDate:
    """The patron's due date when the supplier recalls by ``recall_due_on`` (CUT-A10, CONS-3):
    the usual margin before the supplier's new date, never later than the patron's due date."""
    due = patron_due_date(requesting, calendar, supplier_due_on=recall_due_on, today=today)
    on = due.on if current_patron_due_on is None else min(due.on, current_patron_due_on)
    reason = f"recalled by the supplier for {recall_due_on.isoformat()}"
    return DueDate(on=on, rule=CONSORTIUM_RULE, reason=reason)


def processing_deadline(
    requesting: MemberLibrary, calendar: LibraryCalendar, *, created_on: date
) -> date:
    """The last day staff may forward a request submitted on ``created_on`` (CUT-A6)."""
    days = requesting.ill_requesting.forward_within_working_days
    if days == 0:
        return calendar.next_open_day(created_on)
    return calendar.add_working_days(created_on, days)


def is_late(
    requesting: MemberLibrary, calendar: LibraryCalendar, *, created_at: datetime, today: date
) -> bool:
    """Is a request submitted at ``created_at`` and not yet forwarded late today (CUT-A6)?

    ``created_at`` is an aware datetime in the library's time zone: its date is the day the
    request came in.
    """
    if created_at.tzinfo is None:
        raise ValueError("created_at must be timezone-aware")
    return today > processing_deadline(requesting, calendar, created_on=created_at.date())
