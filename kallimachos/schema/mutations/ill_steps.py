"""``illProcess``, ``illSupplyingAction``, ``illRequestingAction``: the ILL lifecycle steps.

Each goes through the transition table; the supplying library (its staff or partner token)
acts only on requests addressed to it; refusals name the rule (CUT-A7-*, CUT-B5, ...).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import strawberry

from kallimachos.domain.ill_request import (
    ActionDetails,
    IllAction,
    RequestingAction,
    SupplyStatus,
)
from kallimachos.schema.circulation import Fee
from kallimachos.schema.context import Info
from kallimachos.schema.ill import IllRequest, IllRequestingActionKind
from kallimachos.schema.mutations.common import UserError, iso_date, node_id, user_errors
from kallimachos.services.ill_actions import ill_step
from kallimachos.services.outcome import Abort, invalid


@strawberry.input
class IllProcessInput:
    request_id: strawberry.ID


@strawberry.input
class IllSupplyingActionInput:
    request_id: strawberry.ID
    status: SupplyStatus
    reason_unfilled: str | None = None
    due_date: str | None = None
    supplier_charge: str | None = None
    delivery_method: str | None = None
    answer_yes: bool | None = None
    note: str | None = None


@strawberry.input
class IllRequestingActionInput:
    request_id: strawberry.ID
    action: IllRequestingActionKind
    note: str | None = None
    reason: str | None = strawberry.field(
        default=None, description="Why (a cancel reason: details_incomplete_unreachable, ...)."
    )


@strawberry.type
class IllRequestPayload:
    ill_request: IllRequest | None
    fees: list[Fee]
    user_errors: list[UserError]


def _bounded(value: str | None, field: str, limit: int = 1000) -> str | None:
    if value is not None and len(value) > limit:
        raise Abort(invalid(f"{field} is longer than {limit} characters", field))
    return value


def _charge(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise Abort(invalid(f"{value!r} is not an amount like 12.50", "supplierCharge")) from exc
    if not amount.is_finite() or amount < 0:
        raise Abort(invalid("supplierCharge must be zero or more", "supplierCharge"))
    return amount


async def _run(
    info: Info, request_id: strawberry.ID, action: IllAction, details: ActionDetails
) -> IllRequestPayload:
    s = info.context.services
    try:
        outcome = await ill_step(
            s.sessions,
            s.policies,
            actor=info.context.actor,
            now=info.context.now,
            request_id=node_id(request_id, "IllRequest", "requestId"),
            action=action,
            details=details,
        )
    except Abort as stop:
        return IllRequestPayload(ill_request=None, fees=[], user_errors=user_errors(stop.problems))
    done = outcome.value
    if done is None:
        return IllRequestPayload(
            ill_request=None, fees=[], user_errors=user_errors(outcome.problems)
        )
    return IllRequestPayload(
        ill_request=IllRequest.from_row(done.request),
        fees=[Fee.from_row(f) for f in done.fees],
        user_errors=[],
    )


async def process(info: Info, input: IllProcessInput) -> IllRequestPayload:
    return await _run(info, input.request_id, RequestingAction.PROCESS, ActionDetails())


async def supplying(info: Info, input: IllSupplyingActionInput) -> IllRequestPayload:
    try:
        details = ActionDetails(
            reason=_bounded(input.reason_unfilled, "reasonUnfilled"),
            due_on=iso_date(input.due_date, "dueDate"),
            supplier_charge=_charge(input.supplier_charge),
            delivery_method=_bounded(input.delivery_method, "deliveryMethod", 32),
            note=_bounded(input.note, "note"),
        )
    except Abort as stop:
        return IllRequestPayload(ill_request=None, fees=[], user_errors=user_errors(stop.problems))
    return await _run(info, input.request_id, input.status, details)


async def requesting(info: Info, input: IllRequestingActionInput) -> IllRequestPayload:
    try:
        details = ActionDetails(
            reason=_bounded(input.reason, "reason", 100), note=_bounded(input.note, "note")
        )
    except Abort as stop:
        return IllRequestPayload(ill_request=None, fees=[], user_errors=user_errors(stop.problems))
    return await _run(info, input.request_id, RequestingAction(input.action.value), details)
