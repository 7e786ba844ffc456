"""Holds on items: who is next, recalls, and the hold shelf.

* **Queue (UOC-4c).** Holds are served in the order they were placed, by date and time; two
  holds placed at the same instant are served by their id (the older record first). This is
  the same for every library, so it is code, not policy (``rules_in_code``).
* **Placing (UOC-4a).** Where the policy says holds are only for items on loan, a hold is
  refused while a copy is on the shelf. A patron cannot queue twice, nor for a copy they have.
* **Recall (UOC-4a).** A hold recalls the loan where the policy says so: the borrower must
  return it within ``recall_return_working_days`` working days of the recall. The due date
  only ever moves earlier.
* **Hold shelf (UOC-4b).** A returned item is kept for the first waiting hold until
  ``hold_shelf_days`` calendar days after its return (that last day included). After that the
  hold expires and the item goes to the next hold, whose days count from the expiry, or back
  to the shelf.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final

from kallimachos.domain.calendar import LibraryCalendar
from kallimachos.domain.errors import HoldNotAllowed, Refusal
from kallimachos.domain.policy import MemberLibrary

__all__ = [
    "QUEUE_RULE",
    "Expiry",
    "Hold",
    "HoldStatus",
    "Recall",
    "Trapped",
    "expire_holds",
    "hold_refusals",
    "position",
    "queue",
    "recall",
    "trap",
]

QUEUE_RULE: Final = "UOC-4c"
"""First come, first served: enforced here for every library (see ``rules_in_code``)."""


class HoldStatus(StrEnum):
    WAITING = "WAITING"
    IN_TRANSIT = "IN_TRANSIT"
    READY = "READY"
    FULFILLED = "FULFILLED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


ACTIVE = frozenset({HoldStatus.WAITING, HoldStatus.IN_TRANSIT, HoldStatus.READY})


@dataclass(frozen=True, kw_only=True)
class Hold:
    """One patron's hold on an item.

    ``ready_on`` is the day the item was set aside for it; ``expires_on`` the last day the
    patron may collect it. ``placed_at`` must carry a time zone.
    """

    id: int
    patron: str
    placed_at: datetime
    status: HoldStatus = HoldStatus.WAITING
    pickup_branch: str | None = None
    ready_on: date | None = None
    expires_on: date | None = None

    def __post_init__(self) -> None:
        if self.placed_at.tzinfo is None:
            raise ValueError("placed_at must be timezone-aware")


@dataclass(frozen=True, kw_only=True)
class Recall:
    """A recalled loan's due date; ``shortened`` is false when it was already due sooner."""

    due_on: date
    rule: str | None
    shortened: bool


@dataclass(frozen=True, kw_only=True)
class Trapped:
    """A returned item set aside for ``hold``; ``ship_to`` is its pickup branch if elsewhere."""

    hold: Hold
    ship_to: str | None
    rule: str | None


@dataclass(frozen=True, kw_only=True)
class Expiry:
    """Holds that expired on the shelf, and where the item goes next (``trapped`` or shelf)."""

    expired: tuple[Hold, ...]
    trapped: Trapped | None

    @property
    def back_to_shelf(self) -> bool:
        return bool(self.expired) and self.trapped is None


def queue(holds: Iterable[Hold]) -> tuple[Hold, ...]:
    """The waiting holds, first placed first (UOC-4c)."""
    waiting = (h for h in holds if h.status is HoldStatus.WAITING)
    return tuple(sorted(waiting, key=lambda h: (h.placed_at, h.id)))


def position(holds: Iterable[Hold], hold_id: int) -> int | None:
    """A waiting hold's place in the queue, from 1; ``None`` if it is not waiting."""
    ids = [h.id for h in queue(holds)]
    return ids.index(hold_id) + 1 if hold_id in ids else None


def hold_refusals(
    library: MemberLibrary,
    *,
    patron: str,
    holds: Iterable[Hold],
    available_copies: int,
    patron_has_it_on_loan: bool = False,
) -> tuple[Refusal, ...]:
    """Why ``patron`` may not place a hold; empty when they may.

    ``available_copies``: loanable copies on the shelf that the patron could borrow now.
    """
    policy = library.holds
    found: list[Refusal] = []
    if policy.holds_only_when_no_copy_available and available_copies > 0:
        found.append(
            HoldNotAllowed(
                message="A copy is on the shelf: borrow it instead of placing a hold.",
                rule=policy.rule_for("holds_only_when_no_copy_available"),
            )
        )
    if any(h.patron == patron and h.status in ACTIVE for h in holds):
        found.append(HoldNotAllowed(message="The patron already has a hold on it.", rule=None))
    if patron_has_it_on_loan:
        found.append(HoldNotAllowed(message="The patron already has it on loan.", rule=None))
    return tuple(found)


def recall(
    library: MemberLibrary, calendar: LibraryCalendar, *, current_due_on: date, recalled_on: date
) -> Recall | None:
    """The new due date of a loan recalled for a hold (UOC-4a); ``None`` if holds never recall.

    ``calendar`` is that of the branch the item must be returned to.
    """
    policy = library.holds
    days = policy.recall_return_working_days
    if not policy.recall_on_hold or days is None:
        return None
    deadline = calendar.add_working_days(recalled_on, days)
    return Recall(
        due_on=min(current_due_on, deadline),
        rule=policy.rule_for("recall_return_working_days"),
        shortened=deadline < current_due_on,
    )


def trap(
    library: MemberLibrary,
    holds: Iterable[Hold],
    *,
    returned_on: date,
    at_branch: str | None = None,
) -> Trapped | None:
    """Set a returned item aside for the first waiting hold (UOC-4b); ``None`` if none waits."""
    waiting = queue(holds)
    if not waiting:
        return None
    first = waiting[0]
    elsewhere = first.pickup_branch is not None and first.pickup_branch != at_branch
    policy = library.holds
    ready = replace(
        first,
        status=HoldStatus.IN_TRANSIT if elsewhere else HoldStatus.READY,
        ready_on=returned_on,
        expires_on=returned_on + timedelta(days=policy.hold_shelf_days),
    )
    return Trapped(
        hold=ready,
        ship_to=first.pickup_branch if elsewhere else None,
        rule=policy.rule_for("hold_shelf_days"),
    )


def expire_holds(
    library: MemberLibrary,
    holds: Iterable[Hold],
    *,
    today: date,
    at_branch: str | None = None,
) -> Expiry:
    """Expire holds not collected in time and pass the item on (UOC-4b).

    Only holds ready on the shelf expire; one still in transit waits until it arrives.
    """
    holds = tuple(holds)
    expired = tuple(
        replace(h, status=HoldStatus.EXPIRED)
        for h in holds
        if h.status is HoldStatus.READY and h.expires_on is not None and today > h.expires_on
    )
    if not expired:
        return Expiry(expired=(), trapped=None)
    return Expiry(
        expired=expired,
        trapped=trap(library, holds, returned_on=today, at_branch=at_branch),
    )
