"""Who may call off an interlibrary loan request, and until when (cancellation by stage).

* **The patron (CUT-A7-USER)** may cancel until staff have processed the request; after that
  they must collect it and pay (an unpaid charge suspends borrowing: ``blocks``).
* **The requesting library's staff (CUT-A7-STAFF, CUT-B5)** cancel for one of the policy's
  reasons (details incomplete and the patron unreachable; the library holds it; not found at
  any source), and only until the supplier ships; after that the library must take the item
  and pay shipping both ways.
* **The supplier (CUT-A7-SUP, CUT-B5)** cancels for a reason both libraries accept (on loan,
  lost, non-lending collection, publisher restriction), and only before it ships: after that
  it recalls.
"""

from __future__ import annotations

from typing import Final, Literal

from kallimachos.domain.errors import Refusal
from kallimachos.domain.ill_errors import IllCancelNotAllowed
from kallimachos.domain.policy import IllStage, LibraryPolicy, MemberLibrary

__all__ = ["CancelParty", "Stage", "cancel_refusals", "reached"]

Stage = Literal["submitted", "processed", "shipped"]
"""How far a request has gone: not yet processed by staff, sent to a supplier, shipped."""

CancelParty = Literal["patron", "requesting_library", "supplier"]

_STAGES: Final[tuple[Stage, ...]] = ("submitted", "processed", "shipped")
_SUPPLIER_CANCELS_BEFORE: Final[IllStage] = "shipped"
"""A supplier recalls what it has shipped; it cancels only before (ISO 18626)."""
_EXTERNAL_CANCEL_BEFORE: Final[IllStage] = "shipped"
"""External suppliers state no cancellation terms: cancelling is possible until they ship."""


def _words(code: str) -> str:
    return code.replace("_", " ")


def _listing(codes: tuple[str, ...]) -> str:
    return ", ".join(_words(code) for code in codes) or "none"


def reached(stage: Stage, cutoff: IllStage) -> bool:
    """Has a request at ``stage`` reached ``cutoff`` (``processed`` or ``shipped``)?"""
    return _STAGES.index(stage) >= _STAGES.index(cutoff)


def cancel_refusals(
    requesting: MemberLibrary,
    supplier: LibraryPolicy | None,
    *,
    party: CancelParty,
    stage: Stage,
    reason: str | None = None,
) -> tuple[Refusal, ...]:
    """Why ``party`` may not cancel a request at ``stage`` for ``reason``; empty if it may.

    * patron (CUT-A7-USER): only before staff have processed it; after that they must
      collect it and pay.
    * the requesting library's staff (CUT-A7-STAFF, CUT-B5): for one of its policy's reasons,
      and only until the supplier ships; after that it must take the item and pay shipping
      both ways.
    * the supplier (CUT-A7-SUP, CUT-B5): for a reason both libraries accept, before shipping.
    """
    policy = requesting.ill_requesting.cancellation
    if party == "patron":
        return _patron_cancel(requesting, stage)
    found: list[Refusal] = []
    if party == "requesting_library":
        reasons: tuple[str, ...] = policy.staff_cancel_reasons
        if reason not in reasons:
            found.append(_bad_reason(reasons, policy.rule_for("staff_cancel_reasons")))
        cutoff, rule = _requester_cutoff(supplier)
        if stage != "submitted" and reached(stage, cutoff):
            pays = _requester_pays_shipping(supplier)
            found.append(
                IllCancelNotAllowed(
                    message=(
                        f"{_supplier_name(supplier)} has already {_words(cutoff)} it: "
                        f"{requesting.code} must take the item"
                        + (" and pay shipping both ways." if pays else ".")
                    ),
                    rule=rule,
                )
            )
        return tuple(found)
    reasons = policy.supplier_cancel_reasons
    if reason not in reasons:
        rule = policy.rule_for("supplier_cancel_reasons")
        if rule is None and isinstance(supplier, MemberLibrary):  # the supplier's terms bind
            rule = supplier.ill_supplying.cancellation.rule_for("staff_cancel_reasons")
        found.append(_bad_reason(reasons, rule))
    if isinstance(supplier, MemberLibrary):
        own = supplier.ill_supplying.cancellation
        if reason in reasons and reason not in own.staff_cancel_reasons:
            found.append(
                _bad_reason(own.staff_cancel_reasons, own.rule_for("staff_cancel_reasons"))
            )
    if reached(stage, _SUPPLIER_CANCELS_BEFORE):
        found.append(
            IllCancelNotAllowed(
                message="The item has been shipped: the supplier may recall it, not cancel.",
                rule=policy.rule_for("supplier_cancel_reasons"),
            )
        )
    return tuple(found)


def _patron_cancel(requesting: MemberLibrary, stage: Stage) -> tuple[Refusal, ...]:
    policy = requesting.ill_requesting.cancellation
    if not reached(stage, policy.patron_may_cancel_before):
        return ()
    pays = policy.after_cutoff_patron_collects_and_pays
    return (
        IllCancelNotAllowed(
            message=(
                f"The request has already been {_words(policy.patron_may_cancel_before)}: it "
                "can no longer be cancelled"
                + ("; the patron must collect it and pay the charge." if pays else ".")
            ),
            rule=policy.rule_for("patron_may_cancel_before"),
        ),
    )


def _bad_reason(reasons: tuple[str, ...], rule: str | None) -> Refusal:
    return IllCancelNotAllowed(
        message=f"A cancellation needs one of these reasons: {_listing(reasons)}.",
        rule=rule,
        field="reason",
    )


def _requester_cutoff(supplier: LibraryPolicy | None) -> tuple[IllStage, str | None]:
    if isinstance(supplier, MemberLibrary):
        terms = supplier.ill_supplying.cancellation
        return terms.requester_may_cancel_before, terms.rule_for("requester_may_cancel_before")
    rule = supplier.rule_for("mediated_by_staff") if supplier is not None else None
    return _EXTERNAL_CANCEL_BEFORE, rule


def _requester_pays_shipping(supplier: LibraryPolicy | None) -> bool:
    if isinstance(supplier, MemberLibrary):
        return supplier.ill_supplying.cancellation.after_shipping_requester_pays_shipping_both_ways
    return False  # an external supplier's terms are not in the policy data


def _supplier_name(supplier: LibraryPolicy | None) -> str:
    return supplier.code if supplier is not None else "The supplier"
