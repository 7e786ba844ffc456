"""What a patron is charged: overdue fines, replacement of lost or damaged items, the gate.

* **Overdue.** Per item, per day late, at the category's ``fine_per_day`` (an interlibrary
  loan: the ILL rate, TUC-ILL-6, with no grace days). Grace days mean no fine when the item is
  back within that many days after its due date; past that, the days count from the due date
  (UOC meaning, ``after_grace_counts_from = "due_date"``) or from the end of the grace. Grace
  is measured in calendar days; the days charged are calendar days or open days, as
  ``fines.overdue_days_counted`` says. A flag such as high demand multiplies the rate (AEG-7).
* **Replacement.** Damage found at return charges the replacement (UOC-3). Lost or mistreated
  material must be replaced in kind within the policy's days, plus a fine; otherwise its value
  is charged (AEG-8). An item without a recorded value costs ``default_replacement_cost``.
* **Security gate.** Setting off the gate with unborrowed material is fined (AEG-8).

Amounts are exact decimals rounded to cents, half up unless the policy says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from kallimachos.domain.calendar import LibraryCalendar
from kallimachos.domain.loanability import CopyFacts
from kallimachos.domain.policy import ITEM_FLAGS, MemberLibrary

__all__ = [
    "Fine",
    "FineKind",
    "ReplacementDue",
    "overdue_fine",
    "replacement_charges",
    "security_gate_fine",
]

FineKind = Literal["overdue", "replacement", "lost_or_damaged", "security_gate"]

_CENT = Decimal("0.01")
_DEFAULT_ROUNDING = "ROUND_HALF_UP"


@dataclass(frozen=True, kw_only=True)
class Fine:
    """One charge: how much, the rule behind it, and why in a librarian's words.

    ``days`` is the number of days charged, for an overdue fine.
    """

    kind: FineKind
    amount: Decimal
    rule: str | None
    reason: str
    days: int = 0


@dataclass(frozen=True, kw_only=True)
class ReplacementDue:
    """Charges for a lost or damaged item; ``replace_by`` is the last day to replace it in
    kind, while that is still possible (the value is charged if it is not replaced)."""

    charges: tuple[Fine, ...]
    replace_by: date | None

    @property
    def total(self) -> Decimal:
        return sum((c.amount for c in self.charges), Decimal(0))


def overdue_fine(
    library: MemberLibrary,
    calendar: LibraryCalendar,
    *,
    category: str,
    due_on: date,
    returned_on: date,
    copy: CopyFacts | None = None,
    interlibrary: bool = False,
) -> Fine:
    """The overdue fine for one item due ``due_on`` and returned ``returned_on``.

    For an item still out, pass today as ``returned_on``: the fine so far.
    """
    policy = library.category(category)
    fines = library.fines
    late = (returned_on - due_on).days
    if late <= 0:
        return _overdue(Decimal(0), None, "returned on time")
    grace = 0 if interlibrary else policy.grace_days
    if late <= grace:
        reason = f"back within the {grace} grace days"
        return _overdue(Decimal(0), policy.rule_for("grace_days"), reason)

    counted_from = due_on
    if fines.after_grace_counts_from == "end_of_grace":
        counted_from = due_on + timedelta(days=grace)
    if fines.overdue_days_counted == "open_days":
        days = calendar.working_days_between(counted_from, returned_on)
        unit = "open day"
    else:
        days = (returned_on - counted_from).days
        unit = "day"

    if interlibrary:
        ill = library.ill_requesting.loans
        rate = ill.overdue_fine_per_day_per_item
        rule = ill.rule_for("overdue_fine_per_day_per_item")
    else:
        rate = policy.fine_per_day
        rule = next(iter(fines.rule_ids), None) or policy.rule_for("fine_per_day")
    multiplier, flag_rule = _flag_multiplier(library, copy)
    if multiplier != 1:
        rule = flag_rule
    amount = _to_cents(library, rate * multiplier * days)
    times = f" x {multiplier}" if multiplier != 1 else ""
    return _overdue(amount, rule, f"{days} {unit}(s) late at {rate}{times}", days)


def replacement_charges(
    library: MemberLibrary,
    *,
    reported_on: date,
    today: date,
    item_value: Decimal | None,
    replaced_in_kind_on: date | None = None,
    found_at_return: bool = False,
) -> ReplacementDue:
    """What a lost or damaged item costs the patron ``today`` (UOC-3, AEG-8).

    ``reported_on``: the day the loss or damage was recorded (the return, for damage found
    at the desk, with ``found_at_return``). ``item_value``: the item record's price, if any.
    """
    policy = library.replacement
    if found_at_return and not policy.damage_at_return_charges_replacement:
        return ReplacementDue(charges=(), replace_by=None)
    charges: list[Fine] = []
    if policy.lost_or_damaged_fine > 0:
        charges.append(
            Fine(
                kind="lost_or_damaged",
                amount=_to_cents(library, policy.lost_or_damaged_fine),
                rule=policy.rule_for("lost_or_damaged_fine"),
                reason="fine for lost or damaged material",
            )
        )
    value = policy.default_replacement_cost if item_value is None else item_value
    value_rule = policy.rule_for(
        "damage_at_return_charges_replacement" if found_at_return else "unreplaced_charged_at_value"
    )
    value_charge = Fine(
        kind="replacement",
        amount=_to_cents(library, value),
        rule=value_rule,
        reason="replacement cost" + (" (default)" if item_value is None else ""),
    )
    window = policy.replace_in_kind_within_days
    if window is None:
        if policy.unreplaced_charged_at_value:
            charges.append(value_charge)
        return ReplacementDue(charges=tuple(charges), replace_by=None)
    deadline = reported_on + timedelta(days=window)
    if replaced_in_kind_on is not None and replaced_in_kind_on <= deadline:
        return ReplacementDue(charges=tuple(charges), replace_by=None)
    if today > deadline:
        if policy.unreplaced_charged_at_value:
            charges.append(value_charge)
        return ReplacementDue(charges=tuple(charges), replace_by=None)
    return ReplacementDue(charges=tuple(charges), replace_by=deadline)


def security_gate_fine(library: MemberLibrary) -> Fine | None:
    """The fine for setting off the security gate with unborrowed material (AEG-8)."""
    amount = library.fines.security_gate_fine
    if amount is None:
        return None
    return Fine(
        kind="security_gate",
        amount=_to_cents(library, amount),
        rule=library.fines.rule_for("security_gate_fine"),
        reason="security gate set off with unborrowed material",
    )


def _overdue(amount: Decimal, rule: str | None, reason: str, days: int = 0) -> Fine:
    return Fine(kind="overdue", amount=amount.quantize(_CENT), rule=rule, reason=reason, days=days)


def _flag_multiplier(library: MemberLibrary, copy: CopyFacts | None) -> tuple[Decimal, str | None]:
    """The largest multiplier among the copy's flags, and the rule behind it."""
    best: tuple[Decimal, str | None] = (Decimal(1), None)
    if copy is None:
        return best
    for flag in ITEM_FLAGS:
        policy = library.item_flags.get(flag)
        if getattr(copy, flag) and policy.overdue_fine_multiplier > best[0]:
            best = (policy.overdue_fine_multiplier, policy.rule_for("overdue_fine_multiplier"))
    return best


def _to_cents(library: MemberLibrary, amount: Decimal) -> Decimal:
    # FinePolicy has no rounding key yet; honour one as soon as the model gains it.
    rounding = str(getattr(library.fines, "rounding", _DEFAULT_ROUNDING))
    return amount.quantize(_CENT, rounding=rounding)
