"""Builders for ILL facts: a request in any state, the parties, and business times."""

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from kallimachos.domain.actors import SYSTEM, Actor, ActorKind
from kallimachos.domain.ill_request import IllRequestFacts, IllStatus

S = IllStatus

EET = timezone(timedelta(hours=2))  # winter time in Greece and Cyprus

CUT_STAFF = Actor(ActorKind.STAFF, library="CUT", branch="CUT")
TUC_STAFF = Actor(ActorKind.STAFF, library="TUC", branch="TUC")
UOC_PARTNER = Actor(ActorKind.PARTNER, library="UOC")
CUT_PARTNER = Actor(ActorKind.PARTNER, library="CUT")
PATRON = Actor(ActorKind.PATRON, card_number="P-1")
JOBS = SYSTEM

CREATED = datetime(2026, 3, 2, 9, 0, tzinfo=EET)  # a Monday
RECEIVED_BY_SUPPLIER = date(2026, 3, 3)
SHIPPED = date(2026, 3, 4)
SUPPLIER_DUE = date(2026, 3, 18)  # UOC lends 14 days from shipping
ARRIVED = date(2026, 3, 6)
PICKUP_LAST_DAY = date(2026, 3, 16)  # CUT-A9: two days before the supplier's due date
PATRON_DUE = date(2026, 3, 12)  # CUT-A11: four working days before


def at(day: date, hour: int = 10) -> datetime:
    """Business time on ``day`` in the libraries' time zone."""
    return datetime.combine(day, time(hour), tzinfo=EET)


# What a CUT academic's loan request from UOC knows in each state (a copy where noted).
_BY_STATE: dict[IllStatus, dict[str, Any]] = {
    S.AWAITING_PROCESSING: {},
    S.SENT_TO_SUPPLIER: {"request_received_on": RECEIVED_BY_SUPPLIER},
    S.EXPECT_TO_SUPPLY: {"request_received_on": RECEIVED_BY_SUPPLIER},
    S.WILL_SUPPLY: {"request_received_on": RECEIVED_BY_SUPPLIER},
    S.RETRY_POSSIBLE: {"request_received_on": RECEIVED_BY_SUPPLIER},
    S.UNFILLED: {"request_received_on": RECEIVED_BY_SUPPLIER},
    S.END_OF_ROTA: {"request_received_on": RECEIVED_BY_SUPPLIER},
    S.SHIPPED: {"shipped_on": SHIPPED, "supplier_due_on": SUPPLIER_DUE},
    S.COPY_DELIVERED: {
        "service_type": "copy",
        "material_type": "ejournal_article",
        "received_on": ARRIVED,
    },
    S.RECEIVED: {"shipped_on": SHIPPED, "supplier_due_on": SUPPLIER_DUE, "received_on": ARRIVED},
}
_OUT = {
    "shipped_on": SHIPPED,
    "supplier_due_on": SUPPLIER_DUE,
    "received_on": ARRIVED,
    "checked_out_on": ARRIVED,
    "patron_due_on": PATRON_DUE,
}
for _state in (S.CHECKED_OUT_TO_PATRON, S.RECALLED, S.OVERDUE, S.RETURNED_BY_PATRON, S.LOST):
    _BY_STATE[_state] = dict(_OUT)
_BY_STATE[S.RETURNED_UNCOLLECTED] = {
    "shipped_on": SHIPPED,
    "supplier_due_on": SUPPLIER_DUE,
    "received_on": ARRIVED,
}
_BY_STATE[S.SHIPPED_RETURN] = {**_OUT, "return_shipped_on": date(2026, 3, 16)}
for _state in (S.COMPLETED, S.COMPLETED_WITHOUT_RETURN, S.CANCELLED):
    _BY_STATE[_state] = {}


def make_request(status: IllStatus = S.AWAITING_PROCESSING, **overrides: Any) -> IllRequestFacts:
    """A CUT academic's request for a printed book from UOC, as it stands in ``status``."""
    fields: dict[str, Any] = {
        "status": status,
        "service_type": "loan",
        "material_type": "printed_book",
        "requesting_library": "CUT",
        "patron_category": "academic_staff",
        "supplier": "UOC",
        "rota_remaining": 1,
        "created_at": CREATED,
    }
    fields.update(_BY_STATE[status])
    fields.update(overrides)
    return IllRequestFacts(**fields)


def tuc_from_cut(status: IllStatus, **overrides: Any) -> IllRequestFacts:
    """A TUC faculty member's loan request from CUT (CUT as supplier: CUT-B*)."""
    fields: dict[str, Any] = {
        "requesting_library": "TUC",
        "patron_category": "faculty",
        "supplier": "CUT",
    }
    fields.update(overrides)
    return make_request(status, **fields)
