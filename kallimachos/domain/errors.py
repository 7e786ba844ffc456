"""Why the desk says no: one class per reason, each with a stable ``code``.

Circulation rules return refusals as values (a checkout can fail for several reasons at once,
and the librarian wants to see them all); a mutation turns each into a GraphQL ``userErrors``
entry ``{code message rule field}`` with :meth:`Refusal.user_error`. ``rule`` is the
RULES.md ID the library's policy data names for the decision (``RuleRefs.rule_for``), or
``None`` when the policy names none (TUC and CUT local loans).

Tree of refusals (codes in brackets)::

    Refusal
    ├── PatronRefusal                   about the borrower
    │   ├── PatronBlocked               [PATRON_BLOCKED]
    │   │   ├── OverdueLoansBlock           an overdue loan blocks borrowing (UOC-1)
    │   │   ├── UnpaidFeesBlock             open fees above the allowed balance (UOC-1)
    │   │   └── SuspensionBlock             suspended by staff or for an unpaid ILL charge
    │   │                                   (AEG-8, CUT-A7-USER)
    │   ├── CardExpired                 [CARD_EXPIRED]         card or visit over (UOC-1, AEG-1)
    │   ├── AnnualFeeUnpaid             [ANNUAL_FEE_UNPAID]    external users (UOC-5-EXT)
    │   ├── RequirementNotMet           [REQUIREMENT_NOT_MET]  e.g. police ID deposited (AEG-1)
    │   ├── LoanLimitReached            [LOAN_LIMIT_REACHED]   max_loans (UOC-5-*, AEG-4, CUT-A2)
    │   └── ClearanceRefused            [CLEARANCE_REFUSED]    loans or fees outstanding (AEG-8)
    ├── ItemRefusal                     about the copy
    │   ├── NotLoanable                 [NOT_LOANABLE]         collection or flag (UOC-1b, AEG-2)
    │   ├── ItemNotAvailable            [ITEM_NOT_AVAILABLE]   out, in transit, kept for another
    │   └── HoldNotAllowed              [HOLD_NOT_ALLOWED]     a copy is on the shelf (UOC-4a)
    └── LoanRefusal                     about the loan
        ├── RenewalLimitReached         [RENEWAL_LIMIT_REACHED]   max_renewals (UOC-5-*)
        ├── RenewalBlockedByHold        [RENEWAL_BLOCKED_BY_HOLD] someone waits (UOC-4a)
        ├── LoanRecalled                [LOAN_RECALLED]           recalled loans are not renewed
        └── ExtensionNotAllowed         [EXTENSION_NOT_ALLOWED]   exceptional loan refused (AEG-5)

:class:`RefusalError` carries refusals for callers that prefer to raise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

__all__ = [
    "AnnualFeeUnpaid",
    "CardExpired",
    "ClearanceRefused",
    "ExtensionNotAllowed",
    "HoldNotAllowed",
    "ItemNotAvailable",
    "ItemRefusal",
    "LoanLimitReached",
    "LoanRecalled",
    "LoanRefusal",
    "NotLoanable",
    "OverdueLoansBlock",
    "PatronBlocked",
    "PatronRefusal",
    "Refusal",
    "RefusalCode",
    "RefusalError",
    "RenewalBlockedByHold",
    "RenewalLimitReached",
    "RequirementNotMet",
    "SuspensionBlock",
    "UnpaidFeesBlock",
]


class RefusalCode(StrEnum):
    """The stable codes clients switch on; never renamed, only added to."""

    PATRON_BLOCKED = "PATRON_BLOCKED"
    CARD_EXPIRED = "CARD_EXPIRED"
    ANNUAL_FEE_UNPAID = "ANNUAL_FEE_UNPAID"
    REQUIREMENT_NOT_MET = "REQUIREMENT_NOT_MET"
    LOAN_LIMIT_REACHED = "LOAN_LIMIT_REACHED"
    CLEARANCE_REFUSED = "CLEARANCE_REFUSED"
    NOT_LOANABLE = "NOT_LOANABLE"
    ITEM_NOT_AVAILABLE = "ITEM_NOT_AVAILABLE"
    HOLD_NOT_ALLOWED = "HOLD_NOT_ALLOWED"
    RENEWAL_LIMIT_REACHED = "RENEWAL_LIMIT_REACHED"
    RENEWAL_BLOCKED_BY_HOLD = "RENEWAL_BLOCKED_BY_HOLD"
    LOAN_RECALLED = "LOAN_RECALLED"
    EXTENSION_NOT_ALLOWED = "EXTENSION_NOT_ALLOWED"


@dataclass(frozen=True, kw_only=True)
class Refusal:
    """A reason the library refuses: what to tell the librarian, and which rule says so.

    **Parameters:**

    * **message** - one sentence a librarian can read out to the patron.
    * **rule** - the RULES.md ID that refused, from the policy data (``None``: none named).
    * **field** - the mutation input field the refusal is about, if any.
    """

    code: ClassVar[RefusalCode]

    message: str
    rule: str | None
    field: str | None = None

    def user_error(self) -> dict[str, str | None]:
        """The GraphQL ``userErrors`` entry: ``{code, message, rule, field}``."""
        return {
            "code": self.code.value,
            "message": self.message,
            "rule": self.rule,
            "field": self.field,
        }


class RefusalError(Exception):
    """Raised by callers that turn refusals into control flow; ``refusals`` keeps them all."""

    def __init__(self, refusals: Iterable[Refusal]) -> None:
        self.refusals: tuple[Refusal, ...] = tuple(refusals)
        if not self.refusals:
            raise ValueError("RefusalError needs at least one refusal")
        super().__init__("; ".join(r.message for r in self.refusals))


# --- about the borrower --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PatronRefusal(Refusal):
    """The patron may not do this, whatever the item."""


@dataclass(frozen=True, kw_only=True)
class PatronBlocked(PatronRefusal):
    """Borrowing is blocked until the patron settles something."""

    code: ClassVar[RefusalCode] = RefusalCode.PATRON_BLOCKED


@dataclass(frozen=True, kw_only=True)
class OverdueLoansBlock(PatronBlocked):
    """The patron has overdue items."""


@dataclass(frozen=True, kw_only=True)
class UnpaidFeesBlock(PatronBlocked):
    """The patron owes more than the library lets a borrower owe."""


@dataclass(frozen=True, kw_only=True)
class SuspensionBlock(PatronBlocked):
    """Borrowing is suspended: a staff decision, or an ILL charge the patron has not paid."""


@dataclass(frozen=True, kw_only=True)
class CardExpired(PatronRefusal):
    """The library card (or the visit it was issued for) is no longer valid."""

    code: ClassVar[RefusalCode] = RefusalCode.CARD_EXPIRED


@dataclass(frozen=True, kw_only=True)
class AnnualFeeUnpaid(PatronRefusal):
    """The patron's category borrows only while its annual fee is paid."""

    code: ClassVar[RefusalCode] = RefusalCode.ANNUAL_FEE_UNPAID


@dataclass(frozen=True, kw_only=True)
class RequirementNotMet(PatronRefusal):
    """A condition of the patron's category is not met (e.g. a police ID deposited)."""

    code: ClassVar[RefusalCode] = RefusalCode.REQUIREMENT_NOT_MET


@dataclass(frozen=True, kw_only=True)
class LoanLimitReached(PatronRefusal):
    """The patron already has as many items as the category allows."""

    code: ClassVar[RefusalCode] = RefusalCode.LOAN_LIMIT_REACHED


@dataclass(frozen=True, kw_only=True)
class ClearanceRefused(PatronRefusal):
    """No clearance (e.g. for graduation) while loans or fees are outstanding."""

    code: ClassVar[RefusalCode] = RefusalCode.CLEARANCE_REFUSED


# --- about the copy ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ItemRefusal(Refusal):
    """This copy cannot go to this patron now."""


@dataclass(frozen=True, kw_only=True)
class NotLoanable(ItemRefusal):
    """The copy is never lent (its collection or a flag forbids it, or it is gone)."""

    code: ClassVar[RefusalCode] = RefusalCode.NOT_LOANABLE


@dataclass(frozen=True, kw_only=True)
class ItemNotAvailable(ItemRefusal):
    """The copy is lendable but not now: on loan, in transit, or kept for another patron."""

    code: ClassVar[RefusalCode] = RefusalCode.ITEM_NOT_AVAILABLE


@dataclass(frozen=True, kw_only=True)
class HoldNotAllowed(ItemRefusal):
    """A hold cannot be placed (a copy is on the shelf, or the patron already has one)."""

    code: ClassVar[RefusalCode] = RefusalCode.HOLD_NOT_ALLOWED


# --- about the loan ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LoanRefusal(Refusal):
    """This loan cannot be changed as asked."""


@dataclass(frozen=True, kw_only=True)
class RenewalLimitReached(LoanRefusal):
    """The loan has had all the renewals its category allows (possibly none)."""

    code: ClassVar[RefusalCode] = RefusalCode.RENEWAL_LIMIT_REACHED


@dataclass(frozen=True, kw_only=True)
class RenewalBlockedByHold(LoanRefusal):
    """Another patron is waiting for the item, so it cannot be renewed."""

    code: ClassVar[RefusalCode] = RefusalCode.RENEWAL_BLOCKED_BY_HOLD


@dataclass(frozen=True, kw_only=True)
class LoanRecalled(LoanRefusal):
    """The loan has been recalled and must come back; it cannot be renewed."""

    code: ClassVar[RefusalCode] = RefusalCode.LOAN_RECALLED


@dataclass(frozen=True, kw_only=True)
class ExtensionNotAllowed(LoanRefusal):
    """An exceptional longer loan or extra items cannot be granted."""

    code: ClassVar[RefusalCode] = RefusalCode.EXTENSION_NOT_ALLOWED
