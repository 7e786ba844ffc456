"""May this patron borrow (or renew) this copy today, and until when?

Pure decisions over plain facts: the service loads the facts, asks, and records the outcome.
Every reason to refuse is collected (not just the first), in the order a librarian checks:

* **Checkout:** the patron's blocks, card and fees (``blocks.patron_blocks``); the category's
  other conditions (AEG-1); an exception asked of the branch head (AEG-5); the loan limit
  (UOC-5-*, AEG-4; interlibrary loans count where the policy says so, CUT-A2); whether the
  copy lends at all (UOC-1b, AEG-2); whether it is free for this patron now (out, in transit,
  or kept for someone else: UOC-4b, UOC-4c).
* **Renewal:** the patron's blocks (where the policy says they stop renewals); a recalled
  loan; the category's renewals (UOC-5-UG two, UOC-5-FAC one into the next period, none for
  the others); a waiting hold (where the policy says it stops renewals); whether the copy
  still lends (AEG-2: a book in high demand is not lent again).

When nothing stands in the way the answer is :class:`Granted`, carrying the due date and the
rule it comes from (``due_dates``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from kallimachos.domain.blocks import ANNUAL_FEE, PatronFacts, patron_blocks
from kallimachos.domain.calendar import LibraryCalendar
from kallimachos.domain.due_dates import (
    DueDate,
    ExceptionalGrant,
    checkout_due_date,
    exceptional_refusals,
    renewal_due_date,
)
from kallimachos.domain.errors import (
    ItemNotAvailable,
    LoanLimitReached,
    LoanRecalled,
    NotLoanable,
    Refusal,
    RenewalBlockedByHold,
    RenewalLimitReached,
    RequirementNotMet,
)
from kallimachos.domain.holds import QUEUE_RULE
from kallimachos.domain.loanability import GONE_STATUSES, CopyFacts, loanability
from kallimachos.domain.policy import MemberLibrary, Requirement

__all__ = [
    "CopyFacts",
    "Decision",
    "ExceptionalGrant",
    "Granted",
    "ItemFacts",
    "LoanFacts",
    "PatronFacts",
    "Refused",
    "checkout",
    "renew",
]

_REQUIREMENTS: dict[Requirement, str] = {
    "annual_fee_paid": "The annual fee must be paid.",
    "branch_head_approval": "The head of the branch must approve the loan.",
    "police_id_deposited": "The patron must deposit their police ID.",
    "resides_on_branch_island": "The patron must live on an island with a branch.",
}


@dataclass(frozen=True, kw_only=True)
class ItemFacts:
    """The copy, and how it stands with the hold queue.

    * **copy** - collection, status and flags (``loanability.CopyFacts``).
    * **hold_waiting_for_other** - another patron's hold waits for this copy.
    * **trapped_for_patron** - the copy is on the hold shelf for this patron.
    """

    copy: CopyFacts
    hold_waiting_for_other: bool = False
    trapped_for_patron: bool = False


@dataclass(frozen=True, kw_only=True)
class LoanFacts:
    """A loan being renewed: when it was made, when it is due, renewals so far, recall."""

    checked_out_on: date
    due_on: date
    renewals: int = 0
    recalled: bool = False


@dataclass(frozen=True)
class Granted:
    """Yes: the loan is due ``due.on`` under ``due.rule``."""

    due: DueDate

    @property
    def due_on(self) -> date:
        return self.due.on

    @property
    def rule(self) -> str | None:
        return self.due.rule


@dataclass(frozen=True)
class Refused:
    """No, for every reason in ``refusals`` (in the order a librarian checks)."""

    refusals: tuple[Refusal, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code.value for r in self.refusals)


Decision = Granted | Refused


def checkout(
    library: MemberLibrary,
    calendar: LibraryCalendar,
    *,
    patron: PatronFacts,
    item: ItemFacts,
    today: date,
    grant: ExceptionalGrant | None = None,
) -> Decision:
    """May ``patron`` borrow ``item`` today, and until when?

    ``calendar`` is that of the lending branch. ``grant`` is an exception the branch head is
    asked for (AEG-5): a later due date and/or extra items.
    """
    category = library.category(patron.category)
    refusals = list(patron_blocks(library, patron, today))
    for requirement in category.requirements:
        if requirement != ANNUAL_FEE and requirement not in patron.requirements_met:
            refusals.append(
                RequirementNotMet(
                    message=_REQUIREMENTS[requirement], rule=category.rule_for("requirements")
                )
            )
    extra = 0
    if grant is not None:
        granted = exceptional_refusals(
            library,
            patron.category,
            grant=grant,
            clean_record_academic_years=patron.clean_record_academic_years,
            today=today,
        )
        refusals += granted
        extra = 0 if granted else grant.extra_loans
    refusals += _limit(library, patron, extra)
    refusals += _loanable(library, item.copy)
    refusals += _available(library, item)
    if refusals:
        return Refused(tuple(refusals))
    return Granted(
        checkout_due_date(
            library,
            calendar,
            category=patron.category,
            copy=item.copy,
            today=today,
            patron_ends_on=patron.record_ends_on,
            exceptional_due_on=grant.due_on if grant is not None else None,
        )
    )


def renew(
    library: MemberLibrary,
    calendar: LibraryCalendar,
    *,
    patron: PatronFacts,
    item: ItemFacts,
    loan: LoanFacts,
    today: date,
) -> Decision:
    """May ``patron`` renew ``loan`` of ``item`` today, and until when?"""
    category = library.category(patron.category)
    renewals = library.renewals
    holds = library.holds
    refusals: list[Refusal] = []
    if renewals.blocked_for_blocked_patron:
        refusals += patron_blocks(library, patron, today)
    if loan.recalled:
        refusals.append(
            LoanRecalled(
                message="The loan has been recalled: the item must be returned.",
                rule=holds.rule_for("recall_on_hold") if holds.recall_on_hold else None,
            )
        )
    if loan.renewals >= category.max_renewals:
        refusals.append(
            RenewalLimitReached(
                message=(
                    "Loans of this category cannot be renewed."
                    if category.max_renewals == 0
                    else f"Already renewed {loan.renewals} time(s), the most allowed."
                ),
                rule=category.rule_for("max_renewals"),
            )
        )
    if renewals.blocked_by_waiting_hold and item.hold_waiting_for_other:
        refusals.append(
            RenewalBlockedByHold(
                message="Another patron is waiting for this item.",
                rule=renewals.rule_for("blocked_by_waiting_hold")
                or (holds.rule_for("recall_on_hold") if holds.recall_on_hold else None),
            )
        )
    refusals += _loanable(library, item.copy)
    if refusals:
        return Refused(tuple(refusals))
    return Granted(
        renewal_due_date(
            library,
            calendar,
            category=patron.category,
            copy=item.copy,
            checked_out_on=loan.checked_out_on,
            current_due_on=loan.due_on,
            today=today,
            patron_ends_on=patron.record_ends_on,
        )
    )


def _limit(library: MemberLibrary, patron: PatronFacts, extra: int) -> list[Refusal]:
    category = library.category(patron.category)
    eligibility = library.ill_requesting.eligibility
    ill = patron.open_ill_loans if eligibility.ill_loans_count_toward_loan_limit else 0
    limit = category.max_loans + extra
    if patron.open_loans + ill < limit:
        return []
    because_of_ill = patron.open_loans < limit
    rule = (
        eligibility.rule_for("ill_loans_count_toward_loan_limit")
        if because_of_ill
        else category.rule_for("max_loans")
    )
    with_ill = f", {ill} of them interlibrary loans" if ill else ""
    return [
        LoanLimitReached(
            message=f"The patron already has {patron.open_loans + ill} of {limit} items{with_ill}.",
            rule=rule,
        )
    ]


def _loanable(library: MemberLibrary, copy: CopyFacts) -> list[Refusal]:
    verdict = loanability(library, copy)
    if verdict.loanable:
        return []
    return [NotLoanable(message=f"Not for loan: {verdict.reason}.", rule=verdict.rule)]


def _available(library: MemberLibrary, item: ItemFacts) -> list[Refusal]:
    status = item.copy.status
    if status in GONE_STATUSES:
        return []  # already refused as not loanable
    if status == "AVAILABLE":
        if item.hold_waiting_for_other and not item.trapped_for_patron:
            message = "Another patron's hold is waiting for this copy."
            return [ItemNotAvailable(message=message, rule=QUEUE_RULE)]
        return []
    if status == "ON_HOLD_SHELF":
        if item.trapped_for_patron:
            return []
        message = "The copy is on the hold shelf for another patron."
        return [ItemNotAvailable(message=message, rule=library.holds.rule_for("hold_shelf_days"))]
    readable = status.lower().replace("_", " ")
    return [ItemNotAvailable(message=f"The copy is {readable}.", rule=None)]
