"""What stops a patron from borrowing, computed from the patron's state, each naming its rule.

A patron is blocked, in the order a librarian checks:

1. while suspended by staff for systematic late returns (AEG-8), up to the last day of the
   suspension, or while an ILL charge they refused to pay is open (CUT-A7-USER);
2. while they have an overdue loan, or owe more than the library allows (UOC-1);
3. when their card has expired, or the visit it was issued for has ended (UOC-1, AEG-1);
4. when their category borrows only while an annual fee is paid and it is not (UOC-5-EXT).

Clearance (e.g. for graduation) is refused while loans or fees are outstanding (AEG-8).
Dates on the patron record are inclusive: a card that expires on 30 June still works that day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from kallimachos.domain.errors import (
    AnnualFeeUnpaid,
    CardExpired,
    ClearanceRefused,
    OverdueLoansBlock,
    Refusal,
    SuspensionBlock,
    UnpaidFeesBlock,
)
from kallimachos.domain.policy import MemberLibrary, Requirement, add_months

__all__ = ["PatronFacts", "clearance", "patron_blocks", "systematic_lateness_suspension"]

ANNUAL_FEE: Requirement = "annual_fee_paid"


@dataclass(frozen=True, kw_only=True)
class PatronFacts:
    """What the rules need to know about a borrower on a given day.

    **Parameters:**

    * **category** - the patron category code in the library's policy (``undergraduate``).
    * **card_expires_on** - last day the card is valid (``None``: no expiry).
    * **fee_paid_until** - last day covered by the annual fee, for categories that pay one.
    * **visit_ends_on** - last day of an exchange visit (AEG-1 visitors).
    * **suspended_until** - last day of a borrowing suspension decided by staff (AEG-8).
    * **open_loans** - the patron's own library's items on loan now.
    * **open_ill_loans** - interlibrary loans on loan now (counted per policy, CUT-A2).
    * **overdue_loans** - how many of those are past their due date.
    * **open_balance** - unpaid fees and charges, in the library's currency.
    * **unpaid_ill_charges** - the part of that balance that is ILL charges the patron must
      pay after the cancellation cut-off (CUT-A7-USER).
    * **requirements_met** - category conditions met (``police_id_deposited``, ...).
    * **clean_record_academic_years** - academic years without a late return (AEG-5).
    """

    category: str
    card_expires_on: date | None
    fee_paid_until: date | None = None
    visit_ends_on: date | None = None
    suspended_until: date | None = None
    open_loans: int = 0
    open_ill_loans: int = 0
    overdue_loans: int = 0
    open_balance: Decimal = Decimal(0)
    unpaid_ill_charges: Decimal = Decimal(0)
    requirements_met: frozenset[Requirement] = field(default_factory=frozenset)
    clean_record_academic_years: int = 0

    @property
    def record_ends_on(self) -> date | None:
        """The last day the patron is a member: the card's expiry or the visit's end."""
        ends = [d for d in (self.card_expires_on, self.visit_ends_on) if d is not None]
        return min(ends, default=None)


def patron_blocks(library: MemberLibrary, patron: PatronFacts, today: date) -> tuple[Refusal, ...]:
    """Every reason ``patron`` may not borrow today, in the order a librarian checks."""
    policy = library.blocks
    category = library.category(patron.category)
    money = library.currency
    found: list[Refusal] = []

    if patron.suspended_until is not None and today <= patron.suspended_until:
        found.append(
            SuspensionBlock(
                message=f"Borrowing is suspended until {patron.suspended_until.isoformat()}.",
                rule=policy.rule_for("systematic_late_suspension_months"),
            )
        )
    cancellation = library.ill_requesting.cancellation
    if cancellation.unpaid_charge_suspends_borrowing and patron.unpaid_ill_charges > 0:
        found.append(
            SuspensionBlock(
                message=(
                    f"Borrowing is suspended until the interlibrary loan charge of "
                    f"{patron.unpaid_ill_charges:.2f} {money} is paid."
                ),
                rule=cancellation.rule_for("unpaid_charge_suspends_borrowing"),
            )
        )
    if policy.block_on_overdue_loans and patron.overdue_loans > 0:
        found.append(
            OverdueLoansBlock(
                message=f"The patron has {_items(patron.overdue_loans)} overdue.",
                rule=policy.rule_for("block_on_overdue_loans"),
            )
        )
    if patron.open_balance > policy.max_unpaid_balance:
        found.append(
            UnpaidFeesBlock(
                message=f"The patron owes {patron.open_balance:.2f} {money} in unpaid fees.",
                rule=policy.rule_for("max_unpaid_balance"),
            )
        )
    if patron.card_expires_on is not None and today > patron.card_expires_on:
        found.append(
            CardExpired(
                message=f"The library card expired on {patron.card_expires_on.isoformat()}.",
                rule=next(iter(policy.rule_ids), None),
            )
        )
    if patron.visit_ends_on is not None and today > patron.visit_ends_on:
        found.append(
            CardExpired(
                message=f"The patron's visit ended on {patron.visit_ends_on.isoformat()}.",
                rule=category.rule_for("loans_end_by_patron_expiry"),
            )
        )
    if ANNUAL_FEE in category.requirements and (
        patron.fee_paid_until is None or today > patron.fee_paid_until
    ):
        paid = patron.fee_paid_until
        found.append(
            AnnualFeeUnpaid(
                message=(
                    "The annual fee is not paid."
                    if paid is None
                    else f"The annual fee was paid only until {paid.isoformat()}."
                ),
                rule=category.rule_for("requirements"),
            )
        )
    return tuple(found)


def systematic_lateness_suspension(library: MemberLibrary, decided_on: date) -> date | None:
    """Last day of a suspension for systematic late returns decided on ``decided_on`` (AEG-8).

    ``None`` when the library's policy has no such sanction.
    """
    months = library.blocks.systematic_late_suspension_months
    if months is None:
        return None
    return add_months(decided_on, months) - timedelta(days=1)


def clearance(library: MemberLibrary, patron: PatronFacts) -> tuple[Refusal, ...]:
    """Why ``patron`` cannot be cleared (e.g. to graduate); empty when they can (AEG-8)."""
    policy = library.blocks
    if not policy.clearance_requires_no_loans_or_fees:
        return ()
    rule = policy.rule_for("clearance_requires_no_loans_or_fees")
    found: list[Refusal] = []
    on_loan = patron.open_loans + patron.open_ill_loans
    if on_loan:
        found.append(ClearanceRefused(message=f"{_items(on_loan)} still on loan.", rule=rule))
    if patron.open_balance > 0:
        owed = f"{patron.open_balance:.2f} {library.currency}"
        found.append(ClearanceRefused(message=f"{owed} still owed in fees.", rule=rule))
    return tuple(found)


def _items(count: int) -> str:
    return f"{count} item" if count == 1 else f"{count} items"
