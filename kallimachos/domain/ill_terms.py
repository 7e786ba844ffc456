"""Who may ask for an interlibrary loan, for what, from whom, and who may call it off.

* **Eligibility (TUC-ILL-1, CUT-A1, CUT-A2).** Only the categories the policy lists may
  request; everyone else is refused, naming who may. The patron must have no outstanding
  obligation (a block), and ILL loans count toward the loan limit: a request that would exceed
  it is refused. ILL is only for material the library does not hold (TUC-ILL-2, CUT-A2): any
  copy it has that is not lost, missing or withdrawn counts as held.
* **Requestable material (CUT-A3, TUC-ILL-3).** The material types the policy lists, each as
  the services it comes as: a *copy* the patron keeps, or a *loan* returned to the supplier.
* **The supplier's rules (TUC-SUP-1, CUT-B1, CUT-B2, CUT-B3).** A supplier lends only the
  services, material types and collections it lends, a loan only from a copy it would lend to
  its own patrons when it says so, and takes at most so many open requests from one library.
* **Delivery (CUT-A8, CUT-B6)** by a method both libraries use for the service; a copy request
  carries the patron's copyright declaration where the supplier asks for one (CUT-B9).
Cancellation is in :mod:`kallimachos.domain.ill_cancellation`; due dates, renewals and
recalls in :mod:`kallimachos.domain.ill_dates`; costs in :mod:`kallimachos.domain.ill_costs`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from typing import Final

from kallimachos.domain.blocks import PatronFacts, patron_blocks
from kallimachos.domain.errors import LoanLimitReached, Refusal
from kallimachos.domain.ill_errors import (
    IllCopyrightDeclarationMissing,
    IllDeliveryMethodRefused,
    IllHeldLocally,
    IllMaterialNotRequestable,
    IllNotEligible,
    IllNotSuppliable,
    IllSupplierLimit,
)
from kallimachos.domain.loanability import GONE_STATUSES, CopyFacts, loanability
from kallimachos.domain.policy import (
    DeliveryMethod,
    IllMaterialType,
    IllServiceType,
    LibraryPolicy,
    MemberLibrary,
)

__all__ = [
    "copyright_refusals",
    "delivery_methods",
    "delivery_refusals",
    "eligibility_refusals",
    "holds_locally",
    "is_returnable",
    "plural",
    "requestable_refusals",
    "signature_required",
    "suppliable_copies",
    "supplier_refusals",
]


_PLURAL: Final[dict[IllServiceType, str]] = {"loan": "loans", "copy": "copies"}


def plural(service_type: IllServiceType) -> str:
    """``loans`` or ``copies``, for messages."""
    return _PLURAL[service_type]


def _words(code: str) -> str:
    return code.replace("_", " ")


def _listing(codes: Iterable[str]) -> str:
    return ", ".join(_words(code) for code in codes) or "none"


# --- eligibility ---------------------------------------------------------------------------


def eligibility_refusals(
    requesting: MemberLibrary,
    *,
    patron: PatronFacts,
    today: date,
    service_type: IllServiceType,
    held_locally: bool,
    open_ill_loan_requests: int = 0,
) -> tuple[Refusal, ...]:
    """Every reason the patron may not request ILL at ``requesting``, in the order staff check.

    ``open_ill_loan_requests``: the patron's loan requests not yet on loan (each will become an
    ILL loan). ``held_locally``: the library holds the material (:func:`holds_locally`).
    """
    policy = requesting.ill_requesting.eligibility
    found: list[Refusal] = []
    if patron.category not in policy.categories:
        category = requesting.category(patron.category).name.en
        found.append(
            IllNotEligible(
                message=(
                    f"{category} may not request interlibrary loans at {requesting.code}; "
                    f"only: {_listing(policy.categories)}."
                ),
                rule=policy.rule_for("categories"),
            )
        )
    if policy.refuse_if_blocked:
        blocked_rule = policy.rule_for("refuse_if_blocked")
        found += [
            replace(block, rule=block.rule or blocked_rule)
            for block in patron_blocks(requesting, patron, today)
        ]
    if service_type == "loan" and policy.ill_loans_count_toward_loan_limit:
        limit = requesting.category(patron.category).max_loans
        on_loan = patron.open_loans + patron.open_ill_loans + open_ill_loan_requests
        if on_loan >= limit:
            found.append(
                LoanLimitReached(
                    message=(
                        f"The patron already has {on_loan} of {limit} items, interlibrary "
                        f"loans and requests included."
                    ),
                    rule=policy.rule_for("ill_loans_count_toward_loan_limit"),
                )
            )
    if held_locally and policy.require_not_held_locally:
        found.append(
            IllHeldLocally(
                message=f"{requesting.code} holds this material: ask for it there.",
                rule=policy.rule_for("require_not_held_locally"),
            )
        )
    return tuple(found)


def holds_locally(copies: Iterable[CopyFacts]) -> bool:
    """Does the library hold the material: any copy that is not lost, missing or withdrawn?"""
    return any(copy.status not in GONE_STATUSES for copy in copies)


def requestable_refusals(
    requesting: MemberLibrary,
    *,
    material_type: IllMaterialType | None,
    service_type: IllServiceType,
) -> tuple[Refusal, ...]:
    """Why this material cannot be requested as ``service_type`` (CUT-A3, TUC-ILL-3)."""
    policy = requesting.ill_requesting
    rule = policy.rule_for("requestable")
    if material_type is None:
        message = "Say what kind of material it is (book, chapter, article, thesis ...)."
        return (IllMaterialNotRequestable(message=message, rule=rule, field="materialType"),)
    services = policy.requestable.get(material_type)
    if services is None:
        return (
            IllMaterialNotRequestable(
                message=(
                    f"{_words(material_type).capitalize()}s cannot be requested; requestable: "
                    f"{_listing(policy.requestable)}."
                ),
                rule=rule,
            ),
        )
    if service_type not in services:
        return (
            IllMaterialNotRequestable(
                message=(
                    f"A {_words(material_type)} is supplied as a {' or '.join(services)}, "
                    f"not as a {service_type}."
                ),
                rule=rule,
                field="serviceType",
            ),
        )
    return ()


def is_returnable(service_type: IllServiceType) -> bool:
    """A loan goes back to the supplier; a copy is the patron's to keep (TUC-ILL-3, CUT-B7)."""
    return service_type == "loan"


def signature_required(requesting: MemberLibrary, service_type: IllServiceType) -> bool:
    """Does the patron sign at pickup (CUT-A9)? Returnables yes; kept copies are handed over or
    forwarded without signature."""
    return is_returnable(service_type) and (
        requesting.ill_requesting.pickup.signature_required_for_returnables
    )


# --- the supplier's rules ------------------------------------------------------------------


def suppliable_copies(
    supplier: MemberLibrary, copies: Iterable[CopyFacts], service_type: IllServiceType
) -> tuple[CopyFacts, ...]:
    """The supplier's copies it would supply from (CUT-B3, TUC-SUP-1).

    Never from a non-lending collection, nor a lost, missing or withdrawn copy; a loan only
    from a copy it would lend to its own patrons, where it says so.
    """
    policy = supplier.ill_supplying
    found = []
    for copy in copies:
        if copy.status in GONE_STATUSES or copy.collection in policy.non_lending_collections:
            continue
        if (
            service_type == "loan"
            and policy.loans_require_locally_loanable_item
            and not loanability(supplier, copy).loanable
        ):
            continue
        found.append(copy)
    return tuple(found)


def supplier_refusals(
    requesting: MemberLibrary,
    supplier: LibraryPolicy,
    *,
    service_type: IllServiceType,
    material_type: IllMaterialType | None,
    open_requests: int = 0,
    copies: Iterable[CopyFacts] | None = None,
) -> tuple[Refusal, ...]:
    """Why ``supplier`` will not take this request from ``requesting``; empty if it will.

    ``open_requests``: the requesting library's requests open or on loan there (CUT-B2).
    ``copies``: the supplier's copies of the work (``None``: by citation, not checked).
    """
    if not isinstance(supplier, MemberLibrary):
        if service_type in supplier.service_types:
            return ()
        offered = " or ".join(_PLURAL[t] for t in supplier.service_types)
        message = f"{supplier.code} supplies only {offered}, not {_PLURAL[service_type]}."
        return (IllNotSuppliable(message=message, rule=supplier.rule_for("charges")),)
    # Requesting libraries are consortium members, so ``open_to`` (CUT-B1: any library that
    # accepts the policy; others: members only) admits every one of them.
    policy = supplier.ill_supplying
    found: list[Refusal] = []
    if service_type not in policy.service_types:
        offered = " or ".join(_PLURAL[t] for t in policy.service_types)
        message = f"{supplier.code} supplies only {offered}, not {_PLURAL[service_type]}."
        found.append(IllNotSuppliable(message=message, rule=policy.rule_for("service_types")))
    if open_requests >= policy.max_open_per_requesting_library:
        found.append(
            IllSupplierLimit(
                message=(
                    f"{requesting.code} already has {open_requests} requests open at "
                    f"{supplier.code}, the most it takes "
                    f"({policy.max_open_per_requesting_library})."
                ),
                rule=policy.rule_for("max_open_per_requesting_library"),
            )
        )
    if service_type == "loan" and material_type not in policy.lendable_material_types:
        found.append(
            IllNotSuppliable(
                message=f"{supplier.code} lends only {_listing(policy.lendable_material_types)}.",
                rule=policy.rule_for("lendable_material_types"),
            )
        )
    if copies is not None and not suppliable_copies(supplier, copies, service_type):
        key = "loans_require_locally_loanable_item" if service_type == "loan" else None
        found.append(
            IllNotSuppliable(
                message=(
                    f"{supplier.code} has no copy it supplies from: not from its "
                    f"{_listing(policy.non_lending_collections)} collections"
                    + (", and only copies marked loanable" if key else "")
                    + "."
                ),
                rule=policy.rule_for(key or "non_lending_collections"),
            )
        )
    return tuple(found)


# --- delivery and copyright ------------------------------------------------------------------


def delivery_methods(
    requesting: MemberLibrary, supplier: LibraryPolicy, service_type: IllServiceType
) -> tuple[DeliveryMethod, ...]:
    """The methods both sides use for ``service_type``, in the supplier's order (CUT-A8, CUT-B6)."""
    accepted = requesting.ill_requesting.accepted_delivery_methods
    return tuple(m for m in _supplier_methods(supplier, service_type) if m in accepted)


def delivery_refusals(
    requesting: MemberLibrary,
    supplier: LibraryPolicy,
    service_type: IllServiceType,
    method: str,
) -> tuple[Refusal, ...]:
    """Why ``method`` cannot carry this request (CUT-A8: what the library accepts; CUT-B6: what
    the supplier uses for the service)."""
    found: list[Refusal] = []
    accepted = requesting.ill_requesting.accepted_delivery_methods
    if method not in accepted:
        found.append(
            IllDeliveryMethodRefused(
                message=f"{requesting.code} receives material only by {_listing(accepted)}.",
                rule=requesting.ill_requesting.rule_for("accepted_delivery_methods"),
                field="deliveryMethod",
            )
        )
    used = _supplier_methods(supplier, service_type)
    if method not in used:
        rule = (
            supplier.ill_supplying.delivery.rule_for("methods")
            if isinstance(supplier, MemberLibrary)
            else supplier.rule_for("delivery_methods")
        )
        found.append(
            IllDeliveryMethodRefused(
                message=f"{supplier.code} sends {_PLURAL[service_type]} only by {_listing(used)}.",
                rule=rule,
                field="deliveryMethod",
            )
        )
    return tuple(found)


def copyright_refusals(
    supplier: LibraryPolicy, service_type: IllServiceType, *, declared: bool
) -> tuple[Refusal, ...]:
    """A copy request carries the patron's copyright declaration where the supplier asks for it:
    for an individual's educational or research use only (CUT-B9)."""
    if service_type != "copy" or declared or not isinstance(supplier, MemberLibrary):
        return ()
    policy = supplier.ill_supplying
    if not policy.copy_requires_copyright_declaration:
        return ()
    return (
        IllCopyrightDeclarationMissing(
            message=(
                f"{supplier.code} supplies copies only with the patron's declaration that the "
                "copy is for their own educational or research use."
            ),
            rule=policy.rule_for("copy_requires_copyright_declaration"),
            field="copyrightDeclaration",
        ),
    )


def _supplier_methods(
    supplier: LibraryPolicy, service_type: IllServiceType
) -> tuple[DeliveryMethod, ...]:
    if isinstance(supplier, MemberLibrary):
        return supplier.ill_supplying.delivery.methods.get(service_type, ())
    return supplier.delivery_methods.get(service_type, ())
