"""What an interlibrary loan costs, who pays it, and the charges that follow.

* **Cost (CUT-A4).** Supplier charge (the supplier's actual charge once it states one, before
  that its indicative charge: the top of its range, or its minimum when it gives only one) +
  shipping (loans only, both ways: ``shipping_legs`` legs at the domestic or abroad rate) + the
  requesting library's service charge (a rate on the supplier charge, with or without the
  shipping) + VAT (on the service charge, or on the whole subtotal). The service charge and
  the VAT are each rounded as the policy says.
* **Who pays (CUT-A1-PAY)** is set per patron category; a charge to the patron is paid in
  advance where the policy says so (CUT-A4-PRE). A request never costs more than the maximum
  the patron set.
* **Charges that follow.** Material not collected in time costs the patron the supplier's
  charge and the shipping (CUT-A9). A late return costs the requesting library the supplier's
  daily late fee (CUT-B8), passed on to the patron where the policy says so (CUT-A11); so does
  the replacement of lost or damaged material.

Member libraries supply at the charges in their ``ill_supplying.charges``; external suppliers
at their ``charges``. Money is ``Decimal`` in the library's currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from kallimachos.domain.errors import Refusal
from kallimachos.domain.ill_errors import IllMaxCostExceeded
from kallimachos.domain.policy import (
    Charge,
    IllServiceType,
    LibraryPolicy,
    MemberLibrary,
    Payer,
    ShippingScope,
)

__all__ = [
    "ChargeKind",
    "CostBreakdown",
    "Debtor",
    "IllCharge",
    "estimate_cost",
    "late_return_fee",
    "max_cost_refusal",
    "passed_on_to_patron",
    "payer_for",
    "prepayment_required",
    "replacement_charges",
    "supplier_charge",
    "uncollected_charge",
]

ChargeKind = Literal["ill_uncollected", "ill_late_return", "ill_replacement"]
Debtor = Literal["patron", "requesting_library"]


@dataclass(frozen=True, kw_only=True)
class CostBreakdown:
    """The cost of one request at one supplier, in the requesting library's terms (CUT-A4).

    ``estimated``: from the supplier's indicative charges, not yet its stated charge.
    ``at_least``: the supplier gives only a minimum, so the real charge may be higher.
    ``payer``: ``None`` when the patron's category may not request at all.
    """

    supplier: str
    service_type: IllServiceType
    supplier_charge: Decimal
    shipping: Decimal
    service_charge: Decimal
    vat: Decimal
    currency: str
    payer: Payer | None
    estimated: bool
    at_least: bool
    rule: str | None

    @property
    def total(self) -> Decimal:
        """Supplier charge + shipping + service charge + VAT."""
        return self.supplier_charge + self.shipping + self.service_charge + self.vat


@dataclass(frozen=True, kw_only=True)
class IllCharge:
    """A charge arising from an ILL request: who owes it, how much, and the rule behind it."""

    kind: ChargeKind
    debtor: Debtor
    amount: Decimal
    rule: str | None
    reason: str
    days: int = 0


def supplier_charge(supplier: LibraryPolicy, service_type: IllServiceType) -> Charge | None:
    """The supplier's indicative charge for ``service_type``; ``None`` if it does not offer it."""
    if isinstance(supplier, MemberLibrary):
        offered = supplier.ill_supplying
        return offered.charges.get(service_type) if service_type in offered.service_types else None
    return supplier.charges.get(service_type)


def payer_for(requesting: MemberLibrary, category: str) -> Payer | None:
    """Who pays a request by a patron of ``category`` (CUT-A1-PAY); ``None``: not eligible."""
    return requesting.ill_requesting.cost.payer_by_category.get(category)


def estimate_cost(
    requesting: MemberLibrary,
    supplier: LibraryPolicy,
    *,
    service_type: IllServiceType,
    category: str,
    actual_charge: Decimal | None = None,
) -> CostBreakdown:
    """The cost of ``service_type`` from ``supplier`` for a patron of ``category`` (CUT-A4).

    ``actual_charge`` is the charge the supplier stated; without it the indicative charge is
    used. Raises ``ValueError`` if the supplier does not offer the service and states nothing.
    """
    policy = requesting.ill_requesting.cost
    indicative = supplier_charge(supplier, service_type)
    if actual_charge is None and indicative is None:
        raise ValueError(f"{supplier.code} does not offer the {service_type} service")
    charge = actual_charge if actual_charge is not None else _estimate(indicative)
    scope: ShippingScope = "domestic" if supplier.country == requesting.country else "abroad"
    shipping = policy.shipping_legs[service_type] * policy.shipping_per_leg[scope]
    service_base = charge + shipping if policy.service_charge_base != "supplier_charge" else charge
    service = _round(requesting, policy.service_charge_rate * service_base)
    vat_base = service if policy.vat_base == "service_charge" else charge + shipping + service
    return CostBreakdown(
        supplier=supplier.code,
        service_type=service_type,
        supplier_charge=_round(requesting, charge),
        shipping=_round(requesting, shipping),
        service_charge=service,
        vat=_round(requesting, policy.vat_rate * vat_base),
        currency=requesting.currency,
        payer=payer_for(requesting, category),
        estimated=actual_charge is None,
        at_least=actual_charge is None and indicative is not None and indicative.maximum is None,
        rule=policy.rule_for("service_charge_rate"),
    )


def prepayment_required(requesting: MemberLibrary, cost: CostBreakdown) -> bool:
    """Must the patron pay ``cost`` before the request goes out (CUT-A4-PRE)?"""
    policy = requesting.ill_requesting.cost
    return cost.payer == "patron" and policy.personal_charge_prepaid and cost.total > 0


def max_cost_refusal(
    requesting: MemberLibrary, cost: CostBreakdown, max_cost: Decimal | None
) -> Refusal | None:
    """A refusal when ``cost`` is above the patron's ``max_cost`` (ISO 18626 maximumCosts)."""
    if max_cost is None or cost.total <= max_cost:
        return None
    estimate = "at least " if cost.at_least else ""
    return IllMaxCostExceeded(
        message=(
            f"From {cost.supplier} it would cost {estimate}{cost.total:.2f} {cost.currency}, "
            f"more than the maximum of {max_cost:.2f} {cost.currency}."
        ),
        rule=cost.rule,
        field="maxCost",
    )


def uncollected_charge(requesting: MemberLibrary, cost: CostBreakdown) -> IllCharge | None:
    """What the patron pays for material not collected in time (CUT-A9): the supplier's charge
    and the shipping. ``None`` when the library charges nothing for it."""
    pickup = requesting.ill_requesting.pickup
    if not pickup.uncollected_charges_patron:
        return None
    return IllCharge(
        kind="ill_uncollected",
        debtor="patron",
        amount=cost.supplier_charge + cost.shipping,
        rule=pickup.rule_for("uncollected_charges_patron"),
        reason="not collected in time: the supplier's charge and the shipping",
    )


def late_return_fee(
    supplier: LibraryPolicy,
    *,
    supplier_due_on: date,
    back_on: date,
    shipped_back_on: date | None,
) -> IllCharge | None:
    """The supplier's late fee on the requesting library (CUT-B8); ``None`` if not late.

    Lateness is measured on the day the item was back at the supplier (``back_on``) or the day
    it was shipped back, as the supplier's ``due_means`` says. External suppliers' fees are
    not in the policy data: they state them in their answer.
    """
    if not isinstance(supplier, MemberLibrary):
        return None
    terms = supplier.ill_supplying.loan
    measured = back_on if terms.due_means == "back_at_supplier" else shipped_back_on or back_on
    days = (measured - supplier_due_on).days
    if days <= 0 or terms.late_fee_per_day_per_item <= 0:
        return None
    return IllCharge(
        kind="ill_late_return",
        debtor="requesting_library",
        amount=terms.late_fee_per_day_per_item * days,
        rule=terms.rule_for("late_fee_per_day_per_item"),
        reason=f"{days} day(s) late at {terms.late_fee_per_day_per_item} a day",
        days=days,
    )


def replacement_charges(
    requesting: MemberLibrary, supplier: LibraryPolicy, amount: Decimal
) -> tuple[IllCharge, ...]:
    """Lost or damaged material (CUT-B8, CUT-A11): the requesting library pays the supplier's
    replacement charge ``amount``, and passes it on to the patron where its policy says so."""
    if isinstance(supplier, MemberLibrary):
        terms = supplier.ill_supplying.loan
        if not terms.loss_or_damage_charges_replacement:
            return ()
        rule = terms.rule_for("loss_or_damage_charges_replacement")
    else:
        rule = supplier.rule_for("charges")
    library = IllCharge(
        kind="ill_replacement",
        debtor="requesting_library",
        amount=amount,
        rule=rule,
        reason=f"replacement charged by {supplier.code}",
    )
    loans = requesting.ill_requesting.loans
    if not loans.loss_or_damage_charged_per_supplier_rules:
        return (library,)
    patron = IllCharge(
        kind="ill_replacement",
        debtor="patron",
        amount=amount,
        rule=loans.rule_for("loss_or_damage_charged_per_supplier_rules"),
        reason=f"replacement under {supplier.code}'s rules",
    )
    return (library, patron)


def passed_on_to_patron(requesting: MemberLibrary, fee: IllCharge) -> IllCharge | None:
    """The supplier's late fee charged on to the patron where the policy says so (CUT-A11)."""
    loans = requesting.ill_requesting.loans
    if not loans.supplier_fines_passed_on:
        return None
    return IllCharge(
        kind=fee.kind,
        debtor="patron",
        amount=fee.amount,
        rule=loans.rule_for("supplier_fines_passed_on"),
        reason=f"the supplier's fee passed on: {fee.reason}",
        days=fee.days,
    )


def _estimate(charge: Charge | None) -> Decimal:
    return Decimal(0) if charge is None else charge.estimate


def _round(requesting: MemberLibrary, amount: Decimal) -> Decimal:
    policy = requesting.ill_requesting.cost
    return amount.quantize(policy.round_to, rounding=policy.rounding)
