"""An interlibrary loan request as the rules see it: its states, the steps, the parties.

One request record serves both libraries: the requesting library (on the patron's behalf) and
the supplier of the moment (a member library, or an external supplier whose answers staff
record). Its state says where the request stands for both; :data:`ISO_STATUS` gives the ISO
18626 status the supplier would report in each. The lifecycle itself (which step leads where)
is :mod:`kallimachos.domain.ill_states`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final

from kallimachos.domain.ill_cancellation import Stage
from kallimachos.domain.ill_costs import CostBreakdown
from kallimachos.domain.policy import DeliveryMethod, IllMaterialType, IllServiceType

__all__ = [
    "ISO_STATUS",
    "NO_DETAILS",
    "TERMINAL",
    "ActionDetails",
    "IllAction",
    "IllEvent",
    "IllEventKind",
    "IllRequestFacts",
    "IllRole",
    "IllStatus",
    "RequestingAction",
    "SupplyStatus",
    "stage_of",
]


class IllStatus(StrEnum):
    """Where a request stands, for the patron's library and for the supplier alike.

    ========================  ===============================================================
    state                     meaning
    ========================  ===============================================================
    AWAITING_PROCESSING       submitted by the patron or by staff on their behalf; staff
                              forward it the same or the next working day (CUT-A6). The
                              patron may still cancel (CUT-A7-USER).
    SENT_TO_SUPPLIER          staff sent it to the supplier of the moment (ISO "request";
                              the supplier reports RequestReceived).
    EXPECT_TO_SUPPLY          the supplier expects to supply (ISO ExpectToSupply).
    WILL_SUPPLY               the supplier will supply (ISO WillSupply).
    RETRY_POSSIBLE            the supplier could supply on other terms (cost, delivery,
                              edition): staff send it again, or elsewhere (ISO RetryPossible).
    UNFILLED                  the supplier cannot supply or cancelled (CUT-A7-SUP): staff send
                              it to the next supplier of the rota (ISO Unfilled).
    END_OF_ROTA               no supplier left: staff find another source, or cancel it as
                              not found (CUT-A7-STAFF).
    SHIPPED                   a loan is on its way to the requesting library (ISO Loaned).
    COPY_DELIVERED            a copy has arrived (ISO CopyCompleted); the patron is told and
                              it is handed over or forwarded, theirs to keep (TUC-ILL-3).
    RECEIVED                  the loan arrived; the patron is told at once and may collect it
                              until two days before the supplier's due date (TUC-ILL-4, CUT-A9).
    CHECKED_OUT_TO_PATRON     the patron has it, due a few working days before the supplier's
                              date (CUT-A11, TUC-ILL-5).
    RECALLED                  the supplier recalled it; so does the library (CUT-A10, CONS-3).
    OVERDUE                   the supplier's due date has passed (ISO Overdue).
    RETURNED_BY_PATRON        back at the requesting library, waiting to be shipped back.
    RETURNED_UNCOLLECTED      not collected in time: going back, the patron pays (CUT-A9).
    SHIPPED_RETURN            on its way back to the supplier (ISO ShippedReturn).
    LOST                      reported lost by the requesting library (ISO Lost).
    COMPLETED                 the loan is back at the supplier, or the copy is with the
                              patron (ISO LoanCompleted / CopyCompleted). Terminal.
    COMPLETED_WITHOUT_RETURN  the supplier closed a lost loan and charged for it (ISO
                              CompletedWithoutReturn). Terminal.
    CANCELLED                 called off before anything was shipped. Terminal.
    ========================  ===============================================================
    """

    AWAITING_PROCESSING = "AWAITING_PROCESSING"
    SENT_TO_SUPPLIER = "SENT_TO_SUPPLIER"
    EXPECT_TO_SUPPLY = "EXPECT_TO_SUPPLY"
    WILL_SUPPLY = "WILL_SUPPLY"
    RETRY_POSSIBLE = "RETRY_POSSIBLE"
    UNFILLED = "UNFILLED"
    END_OF_ROTA = "END_OF_ROTA"
    SHIPPED = "SHIPPED"
    COPY_DELIVERED = "COPY_DELIVERED"
    RECEIVED = "RECEIVED"
    CHECKED_OUT_TO_PATRON = "CHECKED_OUT_TO_PATRON"
    RECALLED = "RECALLED"
    OVERDUE = "OVERDUE"
    RETURNED_BY_PATRON = "RETURNED_BY_PATRON"
    RETURNED_UNCOLLECTED = "RETURNED_UNCOLLECTED"
    SHIPPED_RETURN = "SHIPPED_RETURN"
    LOST = "LOST"
    COMPLETED = "COMPLETED"
    COMPLETED_WITHOUT_RETURN = "COMPLETED_WITHOUT_RETURN"
    CANCELLED = "CANCELLED"


TERMINAL: Final = frozenset(
    {IllStatus.COMPLETED, IllStatus.COMPLETED_WITHOUT_RETURN, IllStatus.CANCELLED}
)

ISO_STATUS: Final[dict[IllStatus, str | None]] = {
    IllStatus.AWAITING_PROCESSING: None,
    IllStatus.SENT_TO_SUPPLIER: "RequestReceived",
    IllStatus.EXPECT_TO_SUPPLY: "ExpectToSupply",
    IllStatus.WILL_SUPPLY: "WillSupply",
    IllStatus.RETRY_POSSIBLE: "RetryPossible",
    IllStatus.UNFILLED: "Unfilled",
    IllStatus.END_OF_ROTA: "Unfilled",
    IllStatus.SHIPPED: "Loaned",
    IllStatus.COPY_DELIVERED: "CopyCompleted",
    IllStatus.RECEIVED: "Loaned",
    IllStatus.CHECKED_OUT_TO_PATRON: "Loaned",
    IllStatus.RECALLED: "Recalled",
    IllStatus.OVERDUE: "Overdue",
    IllStatus.RETURNED_BY_PATRON: "Loaned",
    IllStatus.RETURNED_UNCOLLECTED: "Loaned",
    IllStatus.SHIPPED_RETURN: "Loaned",
    IllStatus.LOST: "Loaned",
    IllStatus.COMPLETED: "LoanCompleted",
    IllStatus.COMPLETED_WITHOUT_RETURN: "CompletedWithoutReturn",
    IllStatus.CANCELLED: "Cancelled",
}
"""The ISO 18626 status the supplier reports while the request is in each state (``None``:
not sent yet). A completed copy reports CopyCompleted, not LoanCompleted."""

_SUBMITTED = frozenset({IllStatus.AWAITING_PROCESSING})
_PROCESSED = frozenset(
    {
        IllStatus.SENT_TO_SUPPLIER,
        IllStatus.EXPECT_TO_SUPPLY,
        IllStatus.WILL_SUPPLY,
        IllStatus.RETRY_POSSIBLE,
        IllStatus.UNFILLED,
        IllStatus.END_OF_ROTA,
    }
)


def stage_of(status: IllStatus) -> Stage:
    """How far a request in ``status`` has gone, for the cancellation rules (CUT-A7, CUT-B5)."""
    if status in _SUBMITTED:
        return "submitted"
    if status in _PROCESSED:
        return "processed"
    return "shipped"


class RequestingAction(StrEnum):
    """What the requesting side does (API ``IllRequestingActionKind`` and the steps around it).

    PROCESS (``illProcess``: staff forward it, CUT-A6), CANCEL, RECEIVED, RENEW, SHIPPED_RETURN,
    LOST, NOTIFICATION (a note to the supplier), CHECKOUT_TO_PATRON (pickup, or a copy handed
    over), PATRON_RETURN (check-in), and two timed steps: MARK_OVERDUE and RETURN_UNCOLLECTED.
    """

    PROCESS = "PROCESS"
    CANCEL = "CANCEL"
    RECEIVED = "RECEIVED"
    RENEW = "RENEW"
    SHIPPED_RETURN = "SHIPPED_RETURN"
    LOST = "LOST"
    NOTIFICATION = "NOTIFICATION"
    CHECKOUT_TO_PATRON = "CHECKOUT_TO_PATRON"
    PATRON_RETURN = "PATRON_RETURN"
    MARK_OVERDUE = "MARK_OVERDUE"
    RETURN_UNCOLLECTED = "RETURN_UNCOLLECTED"


class SupplyStatus(StrEnum):
    """What the supplier says (API ``IllSupplyStatus``; ISO 18626 supplying-agency statuses)."""

    EXPECT_TO_SUPPLY = "EXPECT_TO_SUPPLY"
    WILL_SUPPLY = "WILL_SUPPLY"
    LOANED = "LOANED"
    UNFILLED = "UNFILLED"
    RETRY_POSSIBLE = "RETRY_POSSIBLE"
    COPY_COMPLETED = "COPY_COMPLETED"
    LOAN_COMPLETED = "LOAN_COMPLETED"
    RECALLED = "RECALLED"
    CANCELLED = "CANCELLED"
    COMPLETED_WITHOUT_RETURN = "COMPLETED_WITHOUT_RETURN"


IllAction = RequestingAction | SupplyStatus


class IllRole(StrEnum):
    """The parties to a request.

    PATRON (the requester), REQUESTING_STAFF (staff of the patron's library), SUPPLIER (staff
    of the supplier of the moment; for an external supplier mediated by staff, the requesting
    library's staff record its answers), SYSTEM (timed jobs).
    """

    PATRON = "PATRON"
    REQUESTING_STAFF = "REQUESTING_STAFF"
    SUPPLIER = "SUPPLIER"
    SYSTEM = "SYSTEM"


@dataclass(frozen=True, kw_only=True)
class IllRequestFacts:
    """What the lifecycle needs to know about one request.

    **Parameters:**

    * **status**, **service_type** (``loan`` returned, ``copy`` kept), **material_type**.
    * **requesting_library**, **patron_category** - the patron's library and category.
    * **supplier** - the supplier the request is with, or is about to be sent to (for
      PROCESS); ``rota_remaining`` - suppliers left after it.
    * **created_at** - when it was submitted (aware, in the library's time zone).
    * **request_received_on** - the day the supplier received it (TUC-SUP-1 counts from it);
      **shipped_on**, **received_on**, **checked_out_on** (the patron collected it),
      **return_shipped_on**.
    * **supplier_due_on**, **patron_due_on**, **renewals**.
    * **held_locally** - the requesting library holds the material (CUT-A2).
    * **open_requests_at_supplier** - the requesting library's open requests there (CUT-B2).
    * **supplier_local_hold** - one of the supplier's users wants the item (CUT-B7).
    * **cost**, **max_cost**, **prepaid** (CUT-A4, CUT-A4-PRE).
    * **copyright_declared** (CUT-B9), **delivery_method** (chosen by the requesting library,
      CUT-B6).
    """

    status: IllStatus
    service_type: IllServiceType
    material_type: IllMaterialType | None = None
    requesting_library: str
    patron_category: str
    supplier: str | None = None
    rota_remaining: int = 0
    created_at: datetime
    request_received_on: date | None = None
    shipped_on: date | None = None
    received_on: date | None = None
    checked_out_on: date | None = None
    return_shipped_on: date | None = None
    supplier_due_on: date | None = None
    patron_due_on: date | None = None
    renewals: int = 0
    held_locally: bool = False
    open_requests_at_supplier: int = 0
    supplier_local_hold: bool = False
    cost: CostBreakdown | None = None
    max_cost: Decimal | None = None
    prepaid: bool = False
    copyright_declared: bool = False
    delivery_method: DeliveryMethod | None = None

    def __post_init__(self) -> None:
        if self.created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware")


@dataclass(frozen=True, kw_only=True)
class ActionDetails:
    """What a party says with a step (the mutation's input).

    ``reason``: why (reasonUnfilled, reasonRetry, a cancel reason such as ``not_found``).
    ``due_on``: the supplier's stated due date (LOANED, RECALLED, a renewal answer).
    ``supplier_charge``: the supplier's actual charge, or the replacement charge of a lost item.
    ``delivery_method``: how the supplier sent it. ``note``: free text to the other side.
    ``working_days_before``: staff's choice of the patron's margin at pickup (CUT-A11).
    """

    reason: str | None = None
    due_on: date | None = None
    supplier_charge: Decimal | None = None
    delivery_method: str | None = None
    note: str | None = None
    working_days_before: int | None = None


NO_DETAILS: Final = ActionDetails()


class IllEventKind(StrEnum):
    """What a step makes happen besides the state change (audit, outbox, notices, fees)."""

    STATUS_CHANGED = "STATUS_CHANGED"
    NOTIFY_PATRON = "NOTIFY_PATRON"
    NOTIFY_SUPPLIER = "NOTIFY_SUPPLIER"
    NOTIFY_REQUESTING_LIBRARY = "NOTIFY_REQUESTING_LIBRARY"
    PROCESSED_LATE = "PROCESSED_LATE"
    COST_SET = "COST_SET"
    SUPPLIER_DUE_DATE_SET = "SUPPLIER_DUE_DATE_SET"
    PICKUP_DEADLINE_SET = "PICKUP_DEADLINE_SET"
    PATRON_DUE_DATE_SET = "PATRON_DUE_DATE_SET"
    RENEWED = "RENEWED"
    RECALLED_FROM_PATRON = "RECALLED_FROM_PATRON"
    CHARGE_PATRON = "CHARGE_PATRON"
    CHARGE_REQUESTING_LIBRARY = "CHARGE_REQUESTING_LIBRARY"


@dataclass(frozen=True, kw_only=True)
class IllEvent:
    """One thing a step makes happen: a short message, the rule behind it, and the date or
    amount it sets (``on``: a due date or deadline; ``amount``: a cost or a charge)."""

    kind: IllEventKind
    message: str
    rule: str | None = None
    on: date | None = None
    amount: Decimal | None = None
