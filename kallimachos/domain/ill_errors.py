"""Why an interlibrary loan request is refused: one class per reason, each with a stable code.

The same pattern as :mod:`kallimachos.domain.errors`: rules return refusals as values, a
mutation turns each into a ``userErrors`` entry with :meth:`Refusal.user_error`, and ``rule``
is the RULES.md ID the policy data names for the decision. ILL rules also reuse the general
refusals (``PatronBlocked`` and its kinds, ``LoanLimitReached``) where the reason is the same.

Tree of ILL refusals (codes in brackets)::

    Refusal
    └── IllRefusal
        ├── IllNotEligible                 [ILL_NOT_ELIGIBLE]              TUC-ILL-1, CUT-A1
        ├── IllHeldLocally                 [ILL_HELD_LOCALLY]              TUC-ILL-2, CUT-A2
        ├── IllMaterialNotRequestable      [ILL_MATERIAL_NOT_REQUESTABLE]  CUT-A3, TUC-ILL-3
        ├── IllNotSuppliable               [ILL_NOT_SUPPLIABLE]            TUC-SUP-1, CUT-B3
        ├── IllSupplierLimit               [ILL_SUPPLIER_LIMIT]            CUT-B2
        ├── IllMaxCostExceeded             [ILL_MAX_COST_EXCEEDED]         the patron's maximum
        ├── IllPrepaymentRequired          [ILL_PREPAYMENT_REQUIRED]       CUT-A4-PRE
        ├── IllDeliveryMethodRefused       [ILL_DELIVERY_METHOD_REFUSED]   CUT-A8, CUT-B6
        ├── IllCopyrightDeclarationMissing [ILL_COPYRIGHT_DECLARATION_MISSING]  CUT-B9
        ├── IllCancelNotAllowed            [ILL_CANCEL_NOT_ALLOWED]        CUT-A7-*, CUT-B5
        ├── IllRenewalRefused              [ILL_RENEWAL_REFUSED]           CUT-A10, CUT-B7
        ├── IllPickupExpired               [ILL_PICKUP_EXPIRED]            CUT-A9
        ├── IllDetailsInvalid              [ILL_DETAILS_INVALID]           a due date, reason or
        │                                                                  note missing or wrong
        └── IllInvalidTransition           [ILL_INVALID_TRANSITION]        not in this state, or
                                                                           not by this party
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from kallimachos.domain.errors import Refusal

__all__ = [
    "IllCancelNotAllowed",
    "IllCopyrightDeclarationMissing",
    "IllDeliveryMethodRefused",
    "IllDetailsInvalid",
    "IllHeldLocally",
    "IllInvalidTransition",
    "IllMaterialNotRequestable",
    "IllMaxCostExceeded",
    "IllNotEligible",
    "IllNotSuppliable",
    "IllPickupExpired",
    "IllPrepaymentRequired",
    "IllRefusal",
    "IllRefusalCode",
    "IllRenewalRefused",
    "IllSupplierLimit",
]


class IllRefusalCode(StrEnum):
    """The stable ILL codes clients switch on; never renamed, only added to."""

    ILL_NOT_ELIGIBLE = "ILL_NOT_ELIGIBLE"
    ILL_HELD_LOCALLY = "ILL_HELD_LOCALLY"
    ILL_MATERIAL_NOT_REQUESTABLE = "ILL_MATERIAL_NOT_REQUESTABLE"
    ILL_NOT_SUPPLIABLE = "ILL_NOT_SUPPLIABLE"
    ILL_SUPPLIER_LIMIT = "ILL_SUPPLIER_LIMIT"
    ILL_MAX_COST_EXCEEDED = "ILL_MAX_COST_EXCEEDED"
    ILL_PREPAYMENT_REQUIRED = "ILL_PREPAYMENT_REQUIRED"
    ILL_DELIVERY_METHOD_REFUSED = "ILL_DELIVERY_METHOD_REFUSED"
    ILL_COPYRIGHT_DECLARATION_MISSING = "ILL_COPYRIGHT_DECLARATION_MISSING"
    ILL_CANCEL_NOT_ALLOWED = "ILL_CANCEL_NOT_ALLOWED"
    ILL_RENEWAL_REFUSED = "ILL_RENEWAL_REFUSED"
    ILL_PICKUP_EXPIRED = "ILL_PICKUP_EXPIRED"
    ILL_DETAILS_INVALID = "ILL_DETAILS_INVALID"
    ILL_INVALID_TRANSITION = "ILL_INVALID_TRANSITION"


@dataclass(frozen=True, kw_only=True)
class IllRefusal(Refusal):
    """An interlibrary loan request, or a step of one, is refused."""

    # RefusalCode (errors.py) cannot be extended with members, so ILL codes are their own
    # StrEnum; both are str, and user_error() reads ``.value`` either way.
    code: ClassVar[IllRefusalCode]  # type: ignore[assignment]


@dataclass(frozen=True, kw_only=True)
class IllNotEligible(IllRefusal):
    """The patron's category may not request interlibrary loans at their library."""

    code: ClassVar[IllRefusalCode] = IllRefusalCode.ILL_NOT_ELIGIBLE


@dataclass(frozen=True, kw_only=True)
class IllHeldLocally(IllRefusal):
    """The patron's own library holds the material: ILL is only for what it does not hold."""

    code: ClassVar[IllRefusalCode] = IllRefusalCode.ILL_HELD_LOCALLY


@dataclass(frozen=True, kw_only=True)
class IllMaterialNotRequestable(IllRefusal):
    """This kind of material, or this service for it (loan or copy), cannot be requested."""

    code: ClassVar[IllRefusalCode] = IllRefusalCode.ILL_MATERIAL_NOT_REQUESTABLE


@dataclass(frozen=True, kw_only=True)
class IllNotSuppliable(IllRefusal):
    """The supplier's own rules refuse it: service not offered, collection or type not lent."""

    code: ClassVar[IllRefusalCode] = IllRefusalCode.ILL_NOT_SUPPLIABLE


@dataclass(frozen=True, kw_only=True)
class IllSupplierLimit(IllRefusal):
    """The requesting library already has as many open requests at this supplier as it allows."""

    code: ClassVar[IllRefusalCode] = IllRefusalCode.ILL_SUPPLIER_LIMIT


@dataclass(frozen=True, kw_only=True)
class IllMaxCostExceeded(IllRefusal):
    """The cost would be above the most the patron said they would pay."""

    code: ClassVar[IllRefusalCode] = IllRefusalCode.ILL_MAX_COST_EXCEEDED


@dataclass(frozen=True, kw_only=True)
class IllPrepaymentRequired(IllRefusal):
    """A personal charge must be paid before the request goes to the supplier."""

    code: ClassVar[IllRefusalCode] = IllRefusalCode.ILL_PREPAYMENT_REQUIRED


@dataclass(frozen=True, kw_only=True)
class IllDeliveryMethodRefused(IllRefusal):
    """The requesting library does not accept, or the supplier does not use, this delivery."""

    code: ClassVar[IllRefusalCode] = IllRefusalCode.ILL_DELIVERY_METHOD_REFUSED


@dataclass(frozen=True, kw_only=True)
class IllCopyrightDeclarationMissing(IllRefusal):
    """A copy request needs the patron's copyright declaration."""

    code: ClassVar[IllRefusalCode] = IllRefusalCode.ILL_COPYRIGHT_DECLARATION_MISSING


@dataclass(frozen=True, kw_only=True)
class IllCancelNotAllowed(IllRefusal):
    """The request can no longer be cancelled by this party, or not for this reason."""

    code: ClassVar[IllRefusalCode] = IllRefusalCode.ILL_CANCEL_NOT_ALLOWED


@dataclass(frozen=True, kw_only=True)
class IllRenewalRefused(IllRefusal):
    """The supplier's loan cannot be renewed (not allowed, too late, or wanted at home)."""

    code: ClassVar[IllRefusalCode] = IllRefusalCode.ILL_RENEWAL_REFUSED


@dataclass(frozen=True, kw_only=True)
class IllPickupExpired(IllRefusal):
    """The patron did not collect the item in time: it goes back to the supplier."""

    code: ClassVar[IllRefusalCode] = IllRefusalCode.ILL_PICKUP_EXPIRED


@dataclass(frozen=True, kw_only=True)
class IllDetailsInvalid(IllRefusal):
    """A detail this step needs (a due date, a reason, a note) is missing or not acceptable."""

    code: ClassVar[IllRefusalCode] = IllRefusalCode.ILL_DETAILS_INVALID


@dataclass(frozen=True, kw_only=True)
class IllInvalidTransition(IllRefusal):
    """Nothing in the lifecycle lets this party take this step in the request's state."""

    code: ClassVar[IllRefusalCode] = IllRefusalCode.ILL_INVALID_TRANSITION
