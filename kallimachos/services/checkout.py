"""Check a copy out to a patron at a branch desk.

The owning library's policy decides (loan terms follow the item's owner; limits and blocks
the patron's library — the same library here, since a desk lends its own copies to its own
patrons; other libraries' readers go through interlibrary loan).  A patron may borrow at
any branch of their library (UOC-6); the copy later goes back to its home branch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kallimachos.db.models import Hold, Item, Loan, Patron
from kallimachos.domain import circulation
from kallimachos.domain.actors import Actor, ActorKind
from kallimachos.domain.due_dates import ExceptionalGrant, checkout_due_date
from kallimachos.policies import PolicySet
from kallimachos.services import circulation_facts as facts
from kallimachos.services.business_time import library_today
from kallimachos.services.desk_access import may_act_at_desk
from kallimachos.services.events import record_event
from kallimachos.services.hold_expiry import expire_for_item
from kallimachos.services.holiday_data import calendar_for
from kallimachos.services.ill_actions import lend_ill_copy
from kallimachos.services.outcome import Abort, Outcome, Problem, forbidden, invalid, not_found

OVERRIDABLE = frozenset(
    {
        "LOAN_LIMIT_REACHED",
        "PATRON_BLOCKED",
        "CARD_EXPIRED",
        "ANNUAL_FEE_UNPAID",
        "REQUIREMENT_NOT_MET",
    }
)
"""Refusals a librarian may set aside with a recorded reason; never availability or
loanability, so a copy can never be lent twice or a reference book taken home."""


@dataclass(frozen=True)
class DeskException:
    """A librarian's exception to the usual terms: an override reason, an AEG-5 due date."""

    reason: str | None
    due_on: date | None

    def check(self, actor: Actor) -> None:
        if self.reason is None and self.due_on is None:
            return
        if actor.kind not in (ActorKind.STAFF, ActorKind.ADMIN):
            raise Abort(forbidden("only staff may make exceptions"))
        if self.reason is None or not self.reason.strip() or len(self.reason) > 500:
            raise Abort(
                invalid("an exception needs a reason of 1-500 characters", "overrideReason")
            )

    def grant(self) -> ExceptionalGrant | None:
        return ExceptionalGrant(due_on=self.due_on) if self.due_on is not None else None

    def overrides(self, decision: circulation.Refused) -> bool:
        """A plain override (no AEG-5 grant) sets aside only overridable refusals."""
        return (
            self.reason is not None
            and self.due_on is None
            and all(code in OVERRIDABLE for code in decision.codes)
        )


@dataclass(frozen=True)
class CheckedOut:
    loan: Loan
    item: Item
    patron: Patron


async def check_out(
    sessions: async_sessionmaker[AsyncSession],
    policies: PolicySet,
    *,
    actor: Actor,
    now: datetime,
    item_barcode: str,
    patron_card: str,
    branch_code: str,
    override_reason: str | None = None,
    exceptional_due_on: date | None = None,
) -> Outcome[CheckedOut]:
    """Lend the copy; staff may override some refusals with a reason, or grant AEG-5 terms."""
    try:
        async with sessions.begin() as session:
            done = await _check_out(
                session,
                policies,
                actor,
                now,
                item_barcode,
                patron_card,
                branch_code,
                DeskException(override_reason, exceptional_due_on),
            )
    except Abort as stop:
        return Outcome(problems=stop.problems)
    return Outcome(value=done)


async def _check_out(
    session: AsyncSession,
    policies: PolicySet,
    actor: Actor,
    now: datetime,
    item_barcode: str,
    patron_card: str,
    branch_code: str,
    exception: DeskException,
) -> CheckedOut:
    found = await facts.branch_by_code(session, branch_code)
    if found is None:
        raise Abort(not_found("branch", branch_code, "branch"))
    branch, library_row = found
    if not may_act_at_desk(actor, library_row.code, branch.code):
        raise Abort(forbidden(f"only staff of {library_row.code} may lend at {branch.code}"))
    patron = await facts.patron_by_card(session, patron_card, lock=True)
    if patron is None:
        raise Abort(not_found("patron with card", patron_card, "patronCardNumber"))
    if patron.library_id != library_row.id:
        raise Abort(
            Problem(
                "PATRON_OF_ANOTHER_LIBRARY",
                f"{patron_card} is a reader of another library: request the copy through "
                "interlibrary loan instead",
                ("input", "patronCardNumber"),
                "CONS-2",
            )
        )
    item = await facts.item_by_barcode(session, library_row.id, item_barcode, lock=True)
    if item is None:
        raise Abort(not_found(f"{library_row.code} copy with barcode", item_barcode, "itemBarcode"))
    library = policies.member(library_row.code)
    today = library_today(library, now)
    await expire_for_item(session, library, item, today, now)
    if item.temporary_ill:
        loan = await lend_ill_copy(
            session, policies, actor=actor, now=now, item=item, patron=patron, branch_id=branch.id
        )
        record_event(
            session,
            actor=actor,
            now=now,
            recorded_at=now,
            aggregate_type="loan",
            aggregate_id=loan.id,
            kind="loan.checked_out",
            rule=loan.rule,
            after={
                "status": "ON_LOAN",
                "due_date": loan.due_date.isoformat(),
                "item_id": item.id,
                "patron_id": patron.id,
                "branch": branch.code,
            },
            payload={"work_ids": [item.work_id], "interlibrary": True},
        )
        return CheckedOut(loan=loan, item=item, patron=patron)
    holds = await facts.active_holds_for(session, item, lock=True)
    calendar = calendar_for(library, branch.code)
    patron_facts = await facts.patron_facts(session, patron, today)
    item_facts = facts.item_facts(item, holds, patron.id)
    exception.check(actor)
    decision = circulation.checkout(
        library,
        calendar,
        patron=patron_facts,
        item=item_facts,
        today=today,
        grant=exception.grant(),
    )
    overridden: tuple[str, ...] = ()
    if isinstance(decision, circulation.Refused):
        if not exception.overrides(decision):
            raise Abort(*(Problem.from_refusal(r) for r in decision.refusals))
        overridden = decision.codes
        decision = circulation.Granted(
            checkout_due_date(
                library,
                calendar,
                category=patron.category,
                copy=item_facts.copy,
                today=today,
                patron_ends_on=patron_facts.record_ends_on,
            )
        )
    before = {"status": item.status}
    loan = Loan(
        item_id=item.id,
        patron_id=patron.id,
        library_id=library_row.id,
        checkout_branch_id=branch.id,
        checked_out_at=now,
        due_date=decision.due_on,
        renewals=0,
        recalled=False,
        rule=decision.rule,
    )
    session.add(loan)
    item.status = "ON_LOAN"
    item.current_branch_id = branch.id
    item.version += 1
    fulfilled: Hold | None = next(
        (h for h in holds if h.patron_id == patron.id and h.trapped_item_id == item.id), None
    )
    if fulfilled is not None:
        fulfilled.status = "FULFILLED"
        fulfilled.closed_at = now
    await session.flush()
    record_event(
        session,
        actor=actor,
        now=now,
        recorded_at=now,
        aggregate_type="loan",
        aggregate_id=loan.id,
        kind="loan.checked_out",
        rule=decision.rule,
        before=before,
        after={
            "status": item.status,
            "due_date": loan.due_date.isoformat(),
            "item_id": item.id,
            "patron_id": patron.id,
            "branch": branch.code,
        },
        payload={
            "work_ids": [item.work_id],
            "reason": decision.due.reason,
            "override": {"reason": exception.reason, "refusals": list(overridden)}
            if exception.reason
            else None,
        },
    )
    return CheckedOut(loan=loan, item=item, patron=patron)
