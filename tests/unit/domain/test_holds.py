"""Holds: FIFO queue (UOC-4c), placing and recall (UOC-4a), the hold shelf (UOC-4b)."""

from datetime import UTC, date, datetime, timedelta

import pytest

from kallimachos.domain.errors import HoldNotAllowed
from kallimachos.domain.holds import (
    Hold,
    HoldStatus,
    Recall,
    expire_holds,
    hold_refusals,
    position,
    queue,
    recall,
    trap,
)
from kallimachos.domain.policy import MemberLibrary
from kallimachos.services.holiday_data import calendar_for

from .builders import with_section

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def hold(hold_id: int, minutes: int, patron: str = "", **fields: object) -> Hold:
    return Hold(
        id=hold_id,
        patron=patron or f"P{hold_id}",
        placed_at=NOON + timedelta(minutes=minutes),
        **fields,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("holds", "order"),
    [
        pytest.param([hold(1, 5), hold(2, 1), hold(3, 3)], [2, 3, 1], id="by-time-placed"),
        pytest.param([hold(9, 0), hold(4, 0), hold(7, 0)], [4, 7, 9], id="ties-by-id"),
        pytest.param(
            [
                hold(1, 0, status=HoldStatus.CANCELLED),
                hold(2, 1, status=HoldStatus.READY),
                hold(3, 2),
                hold(4, -60 * 24),
            ],
            [4, 3],
            id="only-waiting-holds-queue",
        ),
    ],
)
def test_uoc_4c_fifo(holds: list[Hold], order: list[int]) -> None:
    assert [h.id for h in queue(holds)] == order
    assert [position(holds, i) for i in order] == list(range(1, len(order) + 1))


def test_uoc_4c_position_of_a_hold_not_waiting_is_none() -> None:
    holds = [hold(1, 0, status=HoldStatus.READY), hold(2, 1)]
    assert (position(holds, 1), position(holds, 2), position(holds, 99)) == (None, 1, None)
    with pytest.raises(ValueError, match="timezone"):
        Hold(id=1, patron="P", placed_at=datetime(2026, 3, 2, 12, 0))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("available", "existing", "on_loan", "messages"),
    [
        pytest.param(0, [], False, (), id="all-copies-out"),
        pytest.param(
            1,
            [],
            False,
            ("A copy is on the shelf: borrow it instead of placing a hold.",),
            id="copy-on-shelf",
        ),
        pytest.param(
            0, [hold(1, 0, "ME")], False, ("The patron already has a hold on it.",), id="twice"
        ),
        pytest.param(0, [], True, ("The patron already has it on loan.",), id="has-it"),
    ],
)
def test_uoc_4a_hold_only_on_an_item_on_loan(
    uoc: MemberLibrary,
    available: int,
    existing: list[Hold],
    on_loan: bool,
    messages: tuple[str, ...],
) -> None:
    refusals = hold_refusals(
        uoc,
        patron="ME",
        holds=existing,
        available_copies=available,
        patron_has_it_on_loan=on_loan,
    )
    assert tuple(r.message for r in refusals) == messages
    assert all(isinstance(r, HoldNotAllowed) for r in refusals)
    if available:
        assert refusals[0].rule == "UOC-4a"


def test_uoc_4a_holds_on_available_items_where_the_policy_allows(uoc: MemberLibrary) -> None:
    library = with_section(uoc, "holds", holds_only_when_no_copy_available=False)
    assert hold_refusals(library, patron="ME", holds=[], available_copies=2) == ()


@pytest.mark.parametrize(
    ("recalled_on", "current_due", "expected", "shortened"),
    [
        pytest.param(
            date(2027, 4, 28),
            date(2027, 5, 20),
            date(2027, 5, 12),
            True,
            id="7-working-days-across-easter-2027",
        ),
        pytest.param(date(2026, 3, 2), date(2026, 3, 30), date(2026, 3, 11), True, id="plain-week"),
        pytest.param(
            date(2027, 4, 28), date(2027, 5, 6), date(2027, 5, 6), False, id="never-lengthens"
        ),
    ],
)
def test_uoc_4a_recall_shortens_to_7_working_days_never_lengthens(
    uoc: MemberLibrary, recalled_on: date, current_due: date, expected: date, shortened: bool
) -> None:
    result = recall(
        uoc, calendar_for(uoc, "UOC-HER"), current_due_on=current_due, recalled_on=recalled_on
    )
    assert result == Recall(due_on=expected, rule="UOC-4a", shortened=shortened)


def test_uoc_4a_no_recall_where_holds_do_not_recall(uoc: MemberLibrary) -> None:
    library = with_section(uoc, "holds", recall_on_hold=False, recall_return_working_days=None)
    calendar = calendar_for(library, "UOC-HER")
    assert (
        recall(library, calendar, current_due_on=date(2026, 3, 30), recalled_on=date(2026, 3, 2))
        is None
    )


RETURNED = date(2026, 3, 2)


def test_uoc_4b_hold_shelf_7_days(uoc: MemberLibrary) -> None:
    holds = [hold(2, 10, pickup_branch="UOC-HER"), hold(1, 0, pickup_branch="UOC-HER")]
    trapped = trap(uoc, holds, returned_on=RETURNED, at_branch="UOC-HER")
    assert trapped is not None
    assert (trapped.hold.id, trapped.hold.status) == (1, HoldStatus.READY)
    assert (trapped.hold.ready_on, trapped.hold.expires_on) == (RETURNED, date(2026, 3, 9))
    assert (trapped.ship_to, trapped.rule) == (None, "UOC-4b")

    elsewhere = trap(
        uoc, [hold(1, 0, pickup_branch="UOC-RET")], returned_on=RETURNED, at_branch="UOC-HER"
    )
    assert elsewhere is not None
    assert (elsewhere.hold.status, elsewhere.ship_to) == (HoldStatus.IN_TRANSIT, "UOC-RET")
    assert trap(uoc, [], returned_on=RETURNED) is None


@pytest.mark.parametrize(
    ("today", "expired", "next_hold", "back_to_shelf"),
    [
        pytest.param(date(2026, 3, 9), (), None, False, id="last-day-still-waits"),
        pytest.param(date(2026, 3, 10), (1,), 2, False, id="passes-to-next-hold"),
    ],
)
def test_uoc_4b_expiry_passes_the_item_to_the_next_hold(
    uoc: MemberLibrary,
    today: date,
    expired: tuple[int, ...],
    next_hold: int | None,
    back_to_shelf: bool,
) -> None:
    ready = hold(1, 0, status=HoldStatus.READY, ready_on=RETURNED, expires_on=date(2026, 3, 9))
    result = expire_holds(uoc, [ready, hold(2, 5)], today=today)
    assert tuple(h.id for h in result.expired) == expired
    assert all(h.status is HoldStatus.EXPIRED for h in result.expired)
    assert (result.trapped.hold.id if result.trapped else None) == next_hold
    assert result.back_to_shelf is back_to_shelf
    if result.trapped:
        assert result.trapped.hold.expires_on == today + timedelta(days=7)


def test_uoc_4b_expiry_with_nobody_waiting_sends_the_item_back_to_the_shelf(
    uoc: MemberLibrary,
) -> None:
    ready = hold(1, 0, status=HoldStatus.READY, ready_on=RETURNED, expires_on=date(2026, 3, 9))
    result = expire_holds(uoc, [ready], today=date(2026, 3, 10))
    assert result.back_to_shelf
    assert result.trapped is None
