"""Check a copy in at a branch desk: close the loan, charge what is due, route the copy.

* A late return is fined per the borrower's category (grace days, rate, flag multiplier).
* Damage found at return charges the replacement where the policy says so (UOC-3).
* A returned copy goes to the first waiting hold (UOC-4b, UOC-4c); if that hold is to be
  collected elsewhere, or the copy was returned away from its home branch, it travels
  (UOC-6).  Checking in a travelling copy at its destination ends the journey.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kallimachos.db.models import Branch, Fee, Hold, Item, Loan, Patron
from kallimachos.domain import fines
from kallimachos.domain.actors import Actor
from kallimachos.domain.policy import MemberLibrary
from kallimachos.policies import PolicySet
from kallimachos.services import circulation_facts as facts
from kallimachos.services.business_time import library_today
from kallimachos.services.copy_routing import route_copy
from kallimachos.services.desk_access import may_act_at_desk
from kallimachos.services.events import record_event
from kallimachos.services.hold_expiry import expire_for_item
from kallimachos.services.holiday_data import calendar_for
from kallimachos.services.ill_actions import returned_ill_copy
from kallimachos.services.loanable import copy_facts
from kallimachos.services.outcome import Abort, Outcome, forbidden, not_found


@dataclass
class CheckedIn:
    item: Item
    loan: Loan | None = None
    fees: list[Fee] = field(default_factory=list)
    hold: Hold | None = None


async def check_in(
    sessions: async_sessionmaker[AsyncSession],
    policies: PolicySet,
    *,
    actor: Actor,
    now: datetime,
    item_barcode: str,
    branch_code: str,
    damaged: bool = False,
) -> Outcome[CheckedIn]:
    try:
        async with sessions.begin() as session:
            done = await _check_in(
                session, policies, actor, now, item_barcode, branch_code, damaged
            )
    except Abort as stop:
        return Outcome(problems=stop.problems)
    return Outcome(value=done)


async def _check_in(
    session: AsyncSession,
    policies: PolicySet,
    actor: Actor,
    now: datetime,
    item_barcode: str,
    branch_code: str,
    damaged: bool,
) -> CheckedIn:
    found = await facts.branch_by_code(session, branch_code)
    if found is None:
        raise Abort(not_found("branch", branch_code, "branch"))
    branch, library_row = found
    if not may_act_at_desk(actor, library_row.code, branch.code):
        raise Abort(forbidden(f"only staff of {library_row.code} may check in at {branch.code}"))
    item = await facts.item_by_barcode(session, library_row.id, item_barcode, lock=True)
    if item is None:
        raise Abort(not_found(f"{library_row.code} copy with barcode", item_barcode, "itemBarcode"))
    library = policies.member(library_row.code)
    today = library_today(library, now)
    await expire_for_item(session, library, item, today, now)
    result = CheckedIn(item=item)
    before = {"status": item.status, "branch_id": item.current_branch_id}
    lent = await _open_loan_and_borrower(session, item.id)
    loan = None
    if lent is not None:
        loan, borrower = lent
        result.loan = loan
        result.fees = await _close_loan(
            session, library, loan, borrower, item, branch, today, now, damaged
        )
    if item.temporary_ill:
        item.damaged = item.damaged or damaged
        await returned_ill_copy(session, policies, actor=actor, now=now, item=item)
    elif damaged:
        item.damaged = True
        item.status = "DAMAGED"
        item.current_branch_id = branch.id
        item.transit_to_branch_id = None
    else:
        result.hold = await route_copy(session, library, item, branch, today, now)
    item.version += 1
    await session.flush()
    record_event(
        session,
        actor=actor,
        now=now,
        recorded_at=now,
        aggregate_type="item",
        aggregate_id=item.id,
        kind="item.checked_in",
        rule=result.fees[0].rule if result.fees else None,
        before=before,
        after={
            "status": item.status,
            "branch_id": item.current_branch_id,
            "transit_to_branch_id": item.transit_to_branch_id,
            "loan_id": loan.id if loan else None,
            "fees": [str(f.amount) for f in result.fees],
            "hold_id": result.hold.id if result.hold else None,
        },
        payload={"work_ids": [item.work_id]},
    )
    return result


async def _open_loan_and_borrower(
    session: AsyncSession, item_id: int
) -> tuple[Loan, Patron] | None:
    """The copy's open loan (locked) and its borrower, in one statement."""
    row = (
        await session.execute(
            select(Loan, Patron)
            .join(Patron, Patron.id == Loan.patron_id)
            .where(Loan.item_id == item_id, Loan.returned_at.is_(None))
            .with_for_update(of=Loan)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def _close_loan(
    session: AsyncSession,
    library: MemberLibrary,
    loan: Loan,
    patron: Patron,
    item: Item,
    branch: Branch,
    today: date,
    now: datetime,
    damaged: bool,
) -> list[Fee]:
    loan.returned_at = now
    loan.return_branch_id = branch.id
    loan.version += 1
    charged: list[Fee] = []
    fine = fines.overdue_fine(
        library,
        calendar_for(library, branch.code),
        category=patron.category,
        due_on=loan.due_date,
        returned_on=today,
        copy=copy_facts(item),
        interlibrary=item.temporary_ill,
    )
    if fine.amount > 0:
        charged.append(_fee(patron, loan, fine.kind, fine.amount, fine.rule, fine.reason, now))
    if damaged:
        due = fines.replacement_charges(
            library,
            reported_on=today,
            today=today,
            item_value=item.replacement_cost,
            found_at_return=True,
        )
        for charge in due.charges:
            if charge.amount > 0:
                charged.append(
                    _fee(patron, loan, charge.kind, charge.amount, charge.rule, charge.reason, now)
                )
    for fee in charged:
        session.add(fee)
    return charged


def _fee(
    patron: Patron,
    loan: Loan,
    kind: str,
    amount: Decimal,
    rule: str | None,
    note: str,
    now: datetime,
) -> Fee:
    return Fee(
        patron_id=patron.id,
        library_id=loan.library_id,
        loan_id=loan.id,
        kind=kind,
        amount=amount,
        paid=Decimal("0.00"),
        currency="EUR",
        status="OPEN",
        rule=rule,
        note=note,
        assessed_at=now,
    )
