"""Take payment for a fee, or waive it with a reason: desk work, audited.

Amounts are exact decimals in the fee's currency; a payment may be partial and never
exceeds what is still owed.  A waived fee stays on record with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kallimachos.db.models import Fee, IllRequest, Library
from kallimachos.domain.actors import Actor
from kallimachos.services.desk_access import may_act_at_desk
from kallimachos.services.events import record_event
from kallimachos.services.outcome import Abort, Outcome, Problem, forbidden, invalid, not_found

CENT = Decimal("0.01")


@dataclass(frozen=True)
class FeeChanged:
    fee: Fee


MAX_AMOUNT = Decimal("1000000.00")


def parse_amount(text: str, field: str) -> Decimal:
    """A positive money amount with at most two decimals ("12.50"), or a clear problem."""
    try:
        value = Decimal(text.strip())
        if not value.is_finite() or value <= 0 or value > MAX_AMOUNT:
            raise Abort(invalid(f"{text!r} must be a positive amount up to {MAX_AMOUNT}", field))
        if value != value.quantize(CENT):
            raise Abort(invalid(f"{text!r} has more than two decimals", field))
    except (InvalidOperation, AttributeError, ValueError) as exc:
        raise Abort(invalid(f"{text!r} is not an amount like 12.50", field)) from exc
    return value.quantize(CENT)


async def _locked_fee(session: AsyncSession, fee_id: int, actor: Actor) -> Fee:
    row = (
        await session.execute(
            select(Fee, Library)
            .join(Library, Library.id == Fee.library_id)
            .where(Fee.id == fee_id)
            .with_for_update(of=Fee)
        )
    ).first()
    if row is None:
        raise Abort(not_found("fee", str(fee_id), "feeId"))
    fee, library = row
    if not may_act_at_desk(actor, library.code):
        raise Abort(forbidden(f"only staff of {library.code} may settle this fee"))
    if fee.status != "OPEN":
        raise Abort(
            Problem("FEE_CLOSED", f"the fee is already {fee.status.lower()}", ("input", "feeId"))
        )
    return fee


async def pay_fee(
    sessions: async_sessionmaker[AsyncSession],
    *,
    actor: Actor,
    now: datetime,
    fee_id: int,
    amount: str,
) -> Outcome[FeeChanged]:
    try:
        paid = parse_amount(amount, "amount")
        async with sessions.begin() as session:
            fee = await _locked_fee(session, fee_id, actor)
            owed = fee.amount - fee.paid
            if paid > owed:
                raise Abort(invalid(f"only {owed} {fee.currency} is owed", "amount"))
            before = {"paid": str(fee.paid), "status": fee.status}
            fee.paid = fee.paid + paid
            if fee.paid == fee.amount:
                fee.status = "PAID"
                if fee.ill_request_id is not None and fee.kind == "ill_charge":
                    request = await session.get(IllRequest, fee.ill_request_id)
                    if request is not None:
                        request.prepaid = True  # CUT-A4-PRE: now it may be sent
            fee.version += 1
            record_event(
                session,
                actor=actor,
                now=now,
                recorded_at=now,
                aggregate_type="fee",
                aggregate_id=fee.id,
                kind="fee.paid",
                rule=fee.rule,
                before=before,
                after={"paid": str(fee.paid), "status": fee.status},
                payload={"amount": str(paid), "patron_id": fee.patron_id},
            )
    except Abort as stop:
        return Outcome(problems=stop.problems)
    return Outcome(value=FeeChanged(fee=fee))


async def waive_fee(
    sessions: async_sessionmaker[AsyncSession],
    *,
    actor: Actor,
    now: datetime,
    fee_id: int,
    reason: str,
) -> Outcome[FeeChanged]:
    try:
        why = reason.strip()
        if not why or len(why) > 500:
            raise Abort(invalid("a reason of 1-500 characters is required", "reason"))
        async with sessions.begin() as session:
            fee = await _locked_fee(session, fee_id, actor)
            before = {"status": fee.status}
            fee.status = "WAIVED"
            fee.note = f"{fee.note or ''}\nwaived: {why}".strip()
            fee.version += 1
            record_event(
                session,
                actor=actor,
                now=now,
                recorded_at=now,
                aggregate_type="fee",
                aggregate_id=fee.id,
                kind="fee.waived",
                rule=fee.rule,
                before=before,
                after={"status": fee.status},
                payload={"reason": why, "patron_id": fee.patron_id},
            )
    except Abort as stop:
        return Outcome(problems=stop.problems)
    return Outcome(value=FeeChanged(fee=fee))
