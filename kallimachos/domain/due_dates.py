"""When a loan falls due, at checkout and at renewal.

The due date is worked out the way a librarian would (docs/policies.md, "Until when?"):

1. **The loan period.** The category's ``loan_days`` from checkout, or the last day of the
   academic period the loan is made in (UOC-5-FAC). A collection with its own period replaces
   the category's (AEG-6). A staff-granted exceptional loan replaces both (AEG-5).
2. **Limits: never later than** the end of a flagged copy's shortened period (AEG-7), the end
   of the patron's membership or visit where the category says loans end by then (AEG-1), the
   furthest an exceptional loan may go (AEG-5), and the day before an announced inventory
   closure (AEG-9). The earliest limit wins, and the rule it comes from is the rule applied.
3. **Open days only.** A due date on a closed day moves as the calendar policy says
   (``due_date_on_closed_day``). When moving it later would break a limit, it moves to the
   previous open day instead (so a loan capped by an inventory closure starting on a Monday
   falls due on the Friday before). It never moves before the checkout day itself.

A renewal computes a new period the same way (``renewal_days`` from the renewal date or the old
due date, or the end of the next academic period), never earlier than the old due date before
the limits, then the same limits and the same move off closed days.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from kallimachos.domain.calendar import LibraryCalendar
from kallimachos.domain.errors import ExtensionNotAllowed, Refusal
from kallimachos.domain.loanability import CopyFacts
from kallimachos.domain.policy import (
    COLLECTION_CODES,
    ITEM_FLAGS,
    AcademicPeriod,
    CategoryPolicy,
    CollectionPolicy,
    InventoryClosure,
    ItemFlag,
    MemberLibrary,
    add_months,
)

__all__ = [
    "AcademicPeriodMissing",
    "DueDate",
    "ExceptionalGrant",
    "checkout_due_date",
    "exceptional_refusals",
    "flagged_due_date",
    "inventory_declaring_lost",
    "inventory_due_date",
    "renewal_due_date",
]


class AcademicPeriodMissing(LookupError):
    """The policy's ``academic_periods`` do not cover the day asked about: add the next year's."""


@dataclass(frozen=True, kw_only=True)
class DueDate:
    """A due date and why: the rule that set it and a short reason a librarian can read.

    ``moved_from`` is the closed day the date was moved off, if it was.
    """

    on: date
    rule: str | None
    reason: str
    moved_from: date | None = None


@dataclass(frozen=True, kw_only=True)
class ExceptionalGrant:
    """What the branch head grants beyond the category's terms (AEG-5).

    ``due_on``: a later due date than usual; ``extra_loans``: items beyond ``max_loans``.
    """

    due_on: date | None = None
    extra_loans: int = 0

    def __post_init__(self) -> None:
        if self.extra_loans < 0:
            raise ValueError("extra_loans must not be negative")


@dataclass(frozen=True)
class _Limit:
    """The latest day a loan may fall due, and the rule that says so."""

    last_day: date
    rule: str | None
    reason: str


# --- public API ----------------------------------------------------------------------------


def checkout_due_date(
    library: MemberLibrary,
    calendar: LibraryCalendar,
    *,
    category: str,
    copy: CopyFacts,
    today: date,
    patron_ends_on: date | None = None,
    exceptional_due_on: date | None = None,
) -> DueDate:
    """The due date of a loan of ``copy`` made ``today`` to a patron of ``category``.

    ``calendar`` is the calendar of the branch lending the copy. ``patron_ends_on`` is the last
    day of the patron's membership or visit. ``exceptional_due_on`` is a later date granted by
    staff, already checked with :func:`exceptional_refusals`.
    """
    policy = library.category(category)
    if exceptional_due_on is not None:
        due = DueDate(
            on=exceptional_due_on,
            rule=_exceptional_rule(library, policy),
            reason="exceptional loan granted by staff",
        )
    else:
        due = _loan_period(library, policy, copy, today)
    limits = [
        *_flag_limits(library, copy, today),
        *_patron_limit(policy, patron_ends_on),
        *_inventory_limits(library, calendar.branch, today),
    ]
    if exceptional_due_on is not None and policy.exceptional_max_loan_months is not None:
        limits.append(
            _Limit(
                add_months(today, policy.exceptional_max_loan_months),
                policy.rule_for("exceptional_max_loan_months"),
                f"an exceptional loan lasts at most {policy.exceptional_max_loan_months} months",
            )
        )
    return _settle(library, calendar, due, limits, today)


def renewal_due_date(
    library: MemberLibrary,
    calendar: LibraryCalendar,
    *,
    category: str,
    copy: CopyFacts,
    checked_out_on: date,
    current_due_on: date,
    today: date,
    patron_ends_on: date | None = None,
) -> DueDate:
    """The new due date when a loan is renewed ``today`` (refusals are checked elsewhere).

    A period-end category (UOC-5-FAC) renews into the academic period after the one the loan
    was made in; others add ``renewal_days`` to the renewal date or to the old due date, as
    ``renewals.counts_from`` says. A renewal never brings the due date forward by itself.
    """
    policy = library.category(category)
    if policy.due_at_academic_period_end:
        made_in = _period_containing(library, checked_out_on)
        following = library.calendar.period_after(made_in)
        if following is None:
            raise AcademicPeriodMissing(f"no academic period after the one ending {made_in.end}")
        due = DueDate(
            on=following.end,
            rule=policy.rule_for("max_renewals"),
            reason=f"renewed to the end of the {following.kind} period",
        )
    else:
        days = policy.renewal_days
        if days is None:
            raise ValueError(f"category {category!r} has no renewal_days")
        counts_from = library.renewals.counts_from
        base = today if counts_from == "renewal_date" else current_due_on
        due = DueDate(
            on=base + timedelta(days=days),
            rule=policy.rule_for("renewal_days"),
            reason=f"renewed for {days} days from the {counts_from.replace('_', ' ')}",
        )
    if due.on < current_due_on:
        due = replace(due, on=current_due_on)
    limits = [
        *_flag_limits(library, copy, today),
        *_patron_limit(policy, patron_ends_on),
        *_inventory_limits(library, calendar.branch, today),
    ]
    return _settle(library, calendar, due, limits, today)


def flagged_due_date(
    library: MemberLibrary,
    calendar: LibraryCalendar,
    *,
    flag: ItemFlag,
    flagged_on: date,
    current_due_on: date,
) -> DueDate:
    """The due date of a loan whose copy is flagged while out (AEG-7: high demand).

    The loan then lasts at most the flag's ``shortened_loan_days`` from the day the flag is
    set; a flag never lengthens a loan. Without a shortened period the due date is unchanged.
    """
    days = library.item_flags.get(flag).shortened_loan_days
    unchanged = DueDate(on=current_due_on, rule=None, reason="unchanged")
    if days is None:
        return unchanged
    limit = _Limit(
        flagged_on + timedelta(days=days),
        library.item_flags.get(flag).rule_for("shortened_loan_days"),
        f"{_words(flag)} copy: at most {days} days from {flagged_on.isoformat()}",
    )
    return _shorten(library, calendar, unchanged, [limit], flagged_on)


def inventory_due_date(
    library: MemberLibrary, calendar: LibraryCalendar, *, current_due_on: date, today: date
) -> DueDate:
    """The due date of a loan already out once an inventory closure is announced (AEG-9).

    From the announcement every loan must come back before the closure starts.
    """
    unchanged = DueDate(on=current_due_on, rule=None, reason="unchanged")
    limits = _inventory_limits(library, calendar.branch, today)
    return _shorten(library, calendar, unchanged, limits, today)


def inventory_declaring_lost(
    library: MemberLibrary, branch: str | None, today: date
) -> InventoryClosure | None:
    """The inventory closure under which a loan still out ``today`` is declared lost (AEG-9).

    ``None`` when no announced closure of ``branch`` has started, or the library does not
    declare unreturned material lost.
    """
    if not library.inventory.unreturned_declared_lost:
        return None
    started = [
        c
        for c in library.inventory.closures
        if c.start <= today and (not c.branches or branch in c.branches)
    ]
    return max(started, key=lambda c: c.start, default=None)


def exceptional_refusals(
    library: MemberLibrary,
    category: str,
    *,
    grant: ExceptionalGrant,
    clean_record_academic_years: int,
    today: date,
) -> tuple[Refusal, ...]:
    """Why staff may not grant ``grant`` to a patron of ``category`` (AEG-5); empty if allowed.

    An exception needs a spotless loan record for ``min_clean_record_academic_years``; the
    loan may last at most the category's ``exceptional_max_loan_months`` from checkout, and
    at most ``max_extra_loans`` items may be added.
    """
    exceptions = library.exceptional_loans
    if exceptions is None:
        return (
            ExtensionNotAllowed(message="This library grants no exceptional loans.", rule=None),
        )
    policy = library.category(category)
    found: list[Refusal] = []
    years = exceptions.min_clean_record_academic_years
    if clean_record_academic_years < years:
        found.append(
            ExtensionNotAllowed(
                message=(
                    f"An exception needs a spotless loan record for {years} academic "
                    f"year(s); the patron has {clean_record_academic_years}."
                ),
                rule=exceptions.rule_for("min_clean_record_academic_years"),
            )
        )
    if grant.due_on is not None:
        months = policy.exceptional_max_loan_months
        if months is None:
            found.append(
                ExtensionNotAllowed(
                    message=f"Loans to {policy.name.en.lower()} cannot be extended exceptionally.",
                    rule=exceptions.rule_for("granted_by"),
                    field="dueDate",
                )
            )
        elif grant.due_on > add_months(today, months):
            latest = add_months(today, months).isoformat()
            found.append(
                ExtensionNotAllowed(
                    message=(
                        f"An exceptional loan may last at most {months} month(s): "
                        f"until {latest} at the latest."
                    ),
                    rule=policy.rule_for("exceptional_max_loan_months"),
                    field="dueDate",
                )
            )
        elif grant.due_on <= today:
            found.append(
                ExtensionNotAllowed(
                    message="An exceptional due date must be after today.",
                    rule=exceptions.rule_for("granted_by"),
                    field="dueDate",
                )
            )
    if grant.extra_loans > exceptions.max_extra_loans:
        found.append(
            ExtensionNotAllowed(
                message=f"At most {exceptions.max_extra_loans} extra item(s) may be granted.",
                rule=exceptions.rule_for("max_extra_loans"),
            )
        )
    return tuple(found)


# --- the steps -----------------------------------------------------------------------------


def _loan_period(
    library: MemberLibrary, policy: CategoryPolicy, copy: CopyFacts, today: date
) -> DueDate:
    collection = _collection(library, copy.collection)
    if collection is not None and collection.loan_days is not None:
        return DueDate(
            on=today + timedelta(days=collection.loan_days),
            rule=collection.rule_for("loan_days"),
            reason=f"{_words(copy.collection)} collection: {collection.loan_days} days",
        )
    if policy.loan_days is not None:
        return DueDate(
            on=today + timedelta(days=policy.loan_days),
            rule=policy.rule_for("loan_days"),
            reason=f"{policy.loan_days}-day loan",
        )
    period = _period_containing(library, today)
    return DueDate(
        on=period.end,
        rule=policy.rule_for("due_at_academic_period_end"),
        reason=f"end of the {period.kind} period",
    )


def _flag_limits(library: MemberLibrary, copy: CopyFacts, start: date) -> list[_Limit]:
    limits = []
    for flag in ITEM_FLAGS:
        days = library.item_flags.get(flag).shortened_loan_days
        if getattr(copy, flag) and days is not None:
            rule = library.item_flags.get(flag).rule_for("shortened_loan_days")
            reason = f"{_words(flag)} copy: at most {days} days"
            limits.append(_Limit(start + timedelta(days=days), rule, reason))
    return limits


def _patron_limit(policy: CategoryPolicy, patron_ends_on: date | None) -> list[_Limit]:
    if not policy.loans_end_by_patron_expiry or patron_ends_on is None:
        return []
    rule = policy.rule_for("loans_end_by_patron_expiry")
    return [_Limit(patron_ends_on, rule, f"membership ends on {patron_ends_on.isoformat()}")]


def _inventory_limits(library: MemberLibrary, branch: str | None, today: date) -> list[_Limit]:
    rule = library.inventory.rule_for("closures")
    return [
        _Limit(
            c.start - timedelta(days=1),
            rule,
            f"inventory closure from {c.start.isoformat()}",
        )
        for c in library.inventory.closures
        if c.announced_on <= today < c.start and (not c.branches or branch in c.branches)
    ]


def _shorten(
    library: MemberLibrary,
    calendar: LibraryCalendar,
    current: DueDate,
    limits: list[_Limit],
    today: date,
) -> DueDate:
    """A loan already out: only a limit before its due date changes it."""
    if all(limit.last_day >= current.on for limit in limits):
        return current
    return _settle(library, calendar, current, limits, today)


def _settle(
    library: MemberLibrary,
    calendar: LibraryCalendar,
    due: DueDate,
    limits: list[_Limit],
    today: date,
) -> DueDate:
    """Apply the limits (earliest wins), then move the date off a closed day."""
    tightest = min(limits, key=lambda limit: limit.last_day, default=None)
    if tightest is not None and tightest.last_day < due.on:
        # A limit already past (never reached through checkout, which refuses expired
        # patrons) makes the loan due at once, not in the past.
        last_day = max(tightest.last_day, today)
        due = DueDate(on=last_day, rule=tightest.rule, reason=tightest.reason)
    if calendar.is_open(due.on):
        return due
    if library.calendar.due_date_on_closed_day == "next_open_day":
        moved = calendar.next_open_day(due.on)
        if tightest is not None and moved > tightest.last_day:
            moved = calendar.previous_open_day(due.on)
    else:
        moved = calendar.previous_open_day(due.on)
    return replace(due, on=max(moved, today), moved_from=due.on)


def _period_containing(library: MemberLibrary, day: date) -> AcademicPeriod:
    period = library.calendar.period_containing(day)
    if period is None:
        raise AcademicPeriodMissing(f"no academic period contains {day.isoformat()}")
    return period


def _collection(library: MemberLibrary, code: str) -> CollectionPolicy | None:
    if code not in COLLECTION_CODES:
        return None
    return library.collections.get(code)


def _exceptional_rule(library: MemberLibrary, policy: CategoryPolicy) -> str | None:
    if policy.exceptional_max_loan_months is not None:
        return policy.rule_for("exceptional_max_loan_months")
    exceptions = library.exceptional_loans
    return next(iter(exceptions.rule_ids), None) if exceptions is not None else None


def _words(code: str) -> str:
    return code.replace("_", " ")
