"""Signed JSON notices of interlibrary requests to the libraries on either side, over HTTP.

A library registers a URL and a secret.  Each call is a ``POST`` of one JSON document (the
event, the request as it stood, the library's role in it) with the header::

    X-Kallimachos-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>

The receiver recomputes the HMAC over the raw body (:func:`verify`), compares in constant
time and refuses old timestamps (replays).  ``X-Kallimachos-Delivery`` names the delivery:
a retry of a call whose answer was lost carries the same one, so receivers can drop
duplicates.  A 2xx answer means delivered; anything else is tried again later (410 Gone:
never again).  Redirects are not followed.

A supplier hears about a request only once it was sent to it, and never the patron's side
of it (charges to the patron, pickup deadlines); no personal details are ever sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, Protocol

import httpx
from strawberry import relay

from kallimachos.db.models import Event, IllRequest
from kallimachos.notify.audience import Audience
from kallimachos.notify.config import NotifySettings
from kallimachos.notify.failures import SendFailed

SIGNATURE_HEADER: Final = "X-Kallimachos-Signature"
DELIVERY_HEADER: Final = "X-Kallimachos-Delivery"
EVENT_HEADER: Final = "X-Kallimachos-Event"
DEFAULT_TOLERANCE_SECONDS: Final = 300

Role = Literal["SUPPLIER", "REQUESTER"]

SUPPLIER_KINDS: Final = frozenset(
    {
        "ill.status_changed",
        "ill.notify_supplier",
        "ill.renewed",
        "ill.supplier_due_date_set",
        "ill.charge_requesting_library",
    }
)
REQUESTER_KINDS: Final = frozenset(
    {
        "ill.requested",
        "ill.status_changed",
        "ill.notify_requesting_library",
        "ill.processed_late",
        "ill.cost_set",
        "ill.renewed",
        "ill.supplier_due_date_set",
        "ill.charge_requesting_library",
    }
)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str,
    header: str | None,
    body: bytes,
    *,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds of now."""
    if not header:
        return False
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    stamp, given = parts.get("t", ""), parts.get("v1", "")
    if not stamp.isdigit() or abs(now - int(stamp)) > tolerance:
        return False
    expected = sign(secret, int(stamp), body).rpartition("v1=")[2]
    return hmac.compare_digest(expected, given)


def recipients(event: Event, audience: Audience) -> list[tuple[int, Role]]:
    """The libraries whose webhooks ``event`` goes to, each with its role in the request."""
    if event.aggregate_type != "ill_request":
        return []
    found: list[tuple[int, Role]] = []
    if audience.supplier_id is not None and event.kind in SUPPLIER_KINDS:
        found.append((audience.supplier_id, "SUPPLIER"))
    if audience.requesting_id is not None and event.kind in REQUESTER_KINDS:
        found.append((audience.requesting_id, "REQUESTER"))
    return found


def document(
    event: Event,
    request: IllRequest,
    *,
    audience: Audience,
    codes: dict[int, str],
    library_id: int,
    role: Role,
) -> str:
    """The JSON body for one library: stable key order, UTF-8, no personal details."""
    payload = event.payload or {}
    body: dict[str, Any] = {
        "library": codes.get(library_id),
        "role": role,
        "event": {
            "id": event.id,
            "kind": event.kind,
            "occurredAt": event.occurred_at.isoformat(),
            "rule": event.rule,
            "message": payload.get("message"),
            "on": payload.get("on"),
            "amount": payload.get("amount"),
        },
        "illRequest": {
            "id": relay.to_base64("IllRequest", request.id),
            "status": audience.ill_status or request.status,
            "serviceType": request.service_type,
            "requestingLibrary": codes.get(request.requesting_library_id),
            "supplier": codes.get(audience.supplier_id) if audience.supplier_id else None,
            "supplierDueDate": (
                request.supplier_due_date.isoformat() if request.supplier_due_date else None
            ),
        },
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, kw_only=True)
class WebhookCall:
    delivery_id: int
    event_kind: str
    url: str
    secret: str
    body: str


class WebhookSender(Protocol):
    async def send(self, call: WebhookCall, *, now: datetime) -> None:
        """POST ``call`` signed at ``now``, or raise :class:`SendFailed`."""


class HttpWebhookSender:
    """Posts with one shared httpx client (connection reuse); close it with :meth:`aclose`."""

    def __init__(self, settings: NotifySettings, client: httpx.AsyncClient | None = None) -> None:
        self.client = client or httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            headers={"User-Agent": "Kallimachos-Webhooks/1"},
        )

    async def send(self, call: WebhookCall, *, now: datetime) -> None:
        body = call.body.encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: sign(call.secret, int(now.timestamp()), body),
            DELIVERY_HEADER: str(call.delivery_id),
            EVENT_HEADER: call.event_kind,
        }
        try:
            response = await self.client.post(call.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SendFailed(f"webhook unreachable: {type(exc).__name__}: {exc}") from exc
        if 200 <= response.status_code < 300:
            return
        raise SendFailed(
            f"webhook answered HTTP {response.status_code}",
            permanent=response.status_code == 410,
        )

    async def aclose(self) -> None:
        await self.client.aclose()
