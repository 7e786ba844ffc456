"""Blocks from the patron's state (UOC-1, UOC-5-EXT, AEG-8, CUT-A7-USER) and clearance (AEG-8)."""

from datetime import date
from decimal import Decimal

import pytest

from kallimachos.domain.blocks import clearance, patron_blocks, systematic_lateness_suspension
from kallimachos.domain.errors import ClearanceRefused
from kallimachos.domain.policy import MemberLibrary

from .builders import make_patron, with_section

TODAY = date(2026, 3, 2)


@pytest.mark.parametrize(
    ("overdue", "balance", "messages"),
    [
        pytest.param(0, Decimal(0), (), id="clean"),
        pytest.param(2, Decimal(0), ("The patron has 2 items overdue.",), id="overdue"),
        pytest.param(
            0, Decimal("0.20"), ("The patron owes 0.20 EUR in unpaid fees.",), id="any-debt"
        ),
    ],
)
def test_uoc_1_overdue_items_or_unpaid_fines_block_borrowing(
    uoc: MemberLibrary, overdue: int, balance: Decimal, messages: tuple[str, ...]
) -> None:
    patron = make_patron("postgraduate", overdue_loans=overdue, open_balance=balance)
    blocks = patron_blocks(uoc, patron, TODAY)
    assert tuple(b.message for b in blocks) == messages
    assert {b.rule for b in blocks} <= {"UOC-1"}


@pytest.mark.parametrize(
    ("balance", "blocked"),
    [(Decimal("4.99"), False), (Decimal("5.00"), False), (Decimal("5.01"), True)],
)
def test_uoc_1_balance_limit_comes_from_the_policy(
    uoc: MemberLibrary, balance: Decimal, blocked: bool
) -> None:
    library = with_section(uoc, "blocks", max_unpaid_balance=Decimal("5.00"))
    blocks = patron_blocks(library, make_patron("faculty", open_balance=balance), TODAY)
    assert bool(blocks) is blocked
    overdue = with_section(uoc, "blocks", block_on_overdue_loans=False)
    assert patron_blocks(overdue, make_patron("faculty", overdue_loans=3), TODAY) == ()


@pytest.mark.parametrize(
    ("expires_on", "codes"),
    [
        pytest.param(date(2026, 3, 2), (), id="valid-through-today"),
        pytest.param(date(2026, 3, 1), ("CARD_EXPIRED",), id="expired-yesterday"),
        pytest.param(None, (), id="no-expiry"),
    ],
)
def test_uoc_1_borrowing_needs_a_valid_library_card(
    uoc: MemberLibrary, expires_on: date | None, codes: tuple[str, ...]
) -> None:
    blocks = patron_blocks(uoc, make_patron("faculty", card_expires_on=expires_on), TODAY)
    assert tuple(b.code.value for b in blocks) == codes
    assert {b.rule for b in blocks} <= {"UOC-1"}


@pytest.mark.parametrize(
    ("category", "paid_until", "message"),
    [
        pytest.param("external", None, "The annual fee is not paid.", id="never-paid"),
        pytest.param(
            "external",
            date(2026, 2, 28),
            "The annual fee was paid only until 2026-02-28.",
            id="lapsed",
        ),
        pytest.param("external", date(2026, 3, 2), None, id="paid"),
        pytest.param("undergraduate", None, None, id="students-pay-no-fee"),
    ],
)
def test_uoc_5_ext_external_users_borrow_only_while_the_annual_fee_is_paid(
    uoc: MemberLibrary, category: str, paid_until: date | None, message: str | None
) -> None:
    blocks = patron_blocks(uoc, make_patron(category, fee_paid_until=paid_until), TODAY)
    if message is None:
        assert blocks == ()
    else:
        assert [(b.code.value, b.message, b.rule) for b in blocks] == [
            ("ANNUAL_FEE_UNPAID", message, "UOC-5-EXT")
        ]


def test_aeg_8_systematic_late_returns_suspend_borrowing_for_one_semester(
    aeg: MemberLibrary, uoc: MemberLibrary
) -> None:
    last_day = systematic_lateness_suspension(aeg, date(2026, 1, 15))
    assert last_day == date(2026, 7, 14)
    patron = make_patron("undergraduate", suspended_until=last_day)
    assert [b.rule for b in patron_blocks(aeg, patron, date(2026, 7, 14))] == ["AEG-8"]
    assert patron_blocks(aeg, patron, date(2026, 7, 15)) == ()
    assert systematic_lateness_suspension(uoc, date(2026, 1, 15)) is None


@pytest.mark.parametrize(
    ("loans", "ill_loans", "balance", "messages"),
    [
        pytest.param(0, 0, Decimal(0), (), id="cleared"),
        pytest.param(2, 0, Decimal(0), ("2 items still on loan.",), id="loans"),
        pytest.param(0, 1, Decimal(0), ("1 item still on loan.",), id="ill-loan"),
        pytest.param(
            1,
            0,
            Decimal("3.40"),
            ("1 item still on loan.", "3.40 EUR still owed in fees."),
            id="loans-and-fees",
        ),
    ],
)
def test_aeg_8_no_clearance_with_loans_or_fees_outstanding(
    aeg: MemberLibrary, loans: int, ill_loans: int, balance: Decimal, messages: tuple[str, ...]
) -> None:
    patron = make_patron(
        "undergraduate", open_loans=loans, open_ill_loans=ill_loans, open_balance=balance
    )
    refusals = clearance(aeg, patron)
    assert tuple(r.message for r in refusals) == messages
    assert all(isinstance(r, ClearanceRefused) and r.rule == "AEG-8" for r in refusals)


def test_aeg_8_clearance_follows_the_policy_switch(aeg: MemberLibrary) -> None:
    library = with_section(aeg, "blocks", clearance_requires_no_loans_or_fees=False)
    assert clearance(library, make_patron("undergraduate", open_loans=3)) == ()


def test_cut_a7_user_unpaid_charge_suspends_only_where_the_policy_says(
    cut: MemberLibrary,
) -> None:
    patron = make_patron("undergraduate", unpaid_ill_charges=Decimal("8.50"))
    assert [b.rule for b in patron_blocks(cut, patron, TODAY)] == ["CUT-A7-USER"]
    cancellation = cut.ill_requesting.cancellation
    from dataclasses import replace

    lenient = with_section(
        cut,
        "ill_requesting",
        cancellation=replace(cancellation, unpaid_charge_suspends_borrowing=False),
    )
    assert patron_blocks(lenient, patron, TODAY) == ()
