"""Circulation through GraphQL, as a librarian would recognise it; each test names its rule.

Business time comes from the sandbox header (``X-Kallimachos-Now``).  Expected amounts and
limits are read from the policy files, so a test proves the code follows the data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from strawberry import relay

from kallimachos.api.settings import Settings
from kallimachos.policies import load_policies
from tests.conftest import token_for
from tests.e2e.circulation_support import (
    CANCEL_HOLD,
    Desk,
    build_template,
    client_for,
    copy_template,
)

POLICIES = load_policies()
UOC = POLICIES.member("UOC")
AEG = POLICIES.member("AEG")
MONDAY = "2026-11-23T10:00:00+02:00"  # a working Monday in Crete


def at(day: date, hour: int = 10) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00+02:00"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_template(tmp_path_factory.mktemp("circulation-template"))


@pytest.fixture
async def desk(template: Settings, tmp_path: Path) -> AsyncIterator[Desk]:
    settings = copy_template(template, tmp_path)
    async with client_for(settings) as http:
        yield Desk(http, settings)


async def test_uoc_5_ug_borrows_7_the_8th_is_refused(desk: Desk) -> None:
    limit = UOC.category("undergraduate").max_loans
    copies = await desk.copies("UOC", "UOC-HER", limit=limit + 1)
    for copy in copies[:limit]:
        done = await desk.check_out(copy.barcode, "UOC-UNDERG-003", "UOC-HER", MONDAY)
        assert done["userErrors"] == []
        assert done["loan"]["dueDate"] == (date(2026, 11, 23) + timedelta(days=10)).isoformat()
    refused = await desk.check_out(copies[limit].barcode, "UOC-UNDERG-003", "UOC-HER", MONDAY)
    assert refused["loan"] is None
    assert [(e["code"], e["rule"]) for e in refused["userErrors"]] == [
        ("LOAN_LIMIT_REACHED", "UOC-5-UG")
    ]
    patron = await desk.patron("UOC-UNDERG-003", MONDAY)
    assert len(patron["loans"]) == limit


async def test_uoc_5_ug_renews_twice_the_third_renewal_is_refused(desk: Desk) -> None:
    copy = (await desk.copies("UOC", "UOC-HER"))[0]
    loan = (await desk.check_out(copy.barcode, "UOC-UNDERG-003", "UOC-HER", MONDAY))["loan"]
    patron_token = token_for("patron", card_number="UOC-UNDERG-003")
    due = date.fromisoformat(loan["dueDate"])
    for renewal in (1, 2):
        done = await desk.renew(loan["id"], at(due - timedelta(days=1)), token=patron_token)
        assert done["userErrors"] == []
        assert done["loan"]["renewals"] == renewal
        assert date.fromisoformat(done["loan"]["dueDate"]) > due
        due = date.fromisoformat(done["loan"]["dueDate"])
    third = await desk.renew(loan["id"], at(due - timedelta(days=1)), token=patron_token)
    assert third["loan"] is None
    assert [(e["code"], e["rule"]) for e in third["userErrors"]] == [
        ("RENEWAL_LIMIT_REACHED", "UOC-5-UG")
    ]


async def test_uoc_5_ug_grace_days_two_days_late_no_fine_five_days_late_fined_from_due_date(
    desk: Desk,
) -> None:
    first, second = (await desk.copies("UOC", "UOC-HER"))[:2]
    category = UOC.category("undergraduate")
    loan_a = (await desk.check_out(first.barcode, "UOC-UNDERG-003", "UOC-HER", MONDAY))["loan"]
    loan_b = (await desk.check_out(second.barcode, "UOC-UNDERG-003", "UOC-HER", MONDAY))["loan"]
    due = date.fromisoformat(loan_a["dueDate"])
    within_grace = await desk.check_in(first.barcode, "UOC-HER", at(due + timedelta(days=2)))
    assert within_grace["fees"] == []
    assert date.fromisoformat(loan_b["dueDate"]) == due
    late = await desk.check_in(second.barcode, "UOC-HER", at(due + timedelta(days=5)))
    assert len(late["fees"]) == 1
    fee = late["fees"][0]
    assert Decimal(fee["amount"]["amount"]) == category.fine_per_day * 5  # every day from due
    assert fee["rule"] == "UOC-5-UG"
    assert fee["status"] == "OPEN"


async def test_uoc_1_overdue_loan_blocks_new_loans(desk: Desk) -> None:
    first, second = (await desk.copies("UOC", "UOC-HER"))[:2]
    loan = (await desk.check_out(first.barcode, "UOC-POSTGR-006", "UOC-HER", MONDAY))["loan"]
    after_due = at(date.fromisoformat(loan["dueDate"]) + timedelta(days=1))
    refused = await desk.check_out(second.barcode, "UOC-POSTGR-006", "UOC-HER", after_due)
    assert [(e["code"], e["rule"]) for e in refused["userErrors"]] == [("PATRON_BLOCKED", "UOC-1")]
    blocks = (await desk.patron("UOC-POSTGR-006", after_due))["blocks"]
    assert [(b["code"], b["rule"]) for b in blocks] == [("PATRON_BLOCKED", "UOC-1")]


async def test_uoc_1_unpaid_fine_blocks_until_paid(desk: Desk) -> None:
    first, second = (await desk.copies("UOC", "UOC-HER"))[:2]
    loan = (await desk.check_out(first.barcode, "UOC-POSTGR-006", "UOC-HER", MONDAY))["loan"]
    returned = at(date.fromisoformat(loan["dueDate"]) + timedelta(days=4))
    fee = (await desk.check_in(first.barcode, "UOC-HER", returned))["fees"][0]
    refused = await desk.check_out(second.barcode, "UOC-POSTGR-006", "UOC-HER", returned)
    assert [(e["code"], e["rule"]) for e in refused["userErrors"]] == [("PATRON_BLOCKED", "UOC-1")]
    paid = await desk.call(
        "mutation($id: ID!, $a: String!) { payFee(input: {feeId: $id, amount: $a}) {"
        " fee { status outstanding { amount } } userErrors { code } } }",
        returned,
        id=fee["id"],
        a=fee["amount"]["amount"],
    )
    assert paid["payFee"]["fee"] == {"status": "PAID", "outstanding": {"amount": "0.00"}}
    allowed = await desk.check_out(second.barcode, "UOC-POSTGR-006", "UOC-HER", returned)
    assert allowed["userErrors"] == []


async def test_uoc_1b_restricted_collection_is_not_lent(desk: Desk) -> None:
    from sqlalchemy import update

    from kallimachos.db.engine import make_engine, make_sessionmaker
    from kallimachos.db.models import Item

    copy = (await desk.copies("UOC", "UOC-HER"))[0]
    engine = make_engine(desk.settings.database_url)
    async with make_sessionmaker(engine).begin() as session:
        await session.execute(
            update(Item).where(Item.id == copy.id).values(collection="restricted_loan")
        )
    await engine.dispose()
    refused = await desk.check_out(copy.barcode, "UOC-FACULT-001", "UOC-HER", MONDAY)
    assert [(e["code"], e["rule"]) for e in refused["userErrors"]] == [("NOT_LOANABLE", "UOC-1b")]


async def test_uoc_4a_hold_on_a_loaned_copy_recalls_it_within_7_working_days(desk: Desk) -> None:
    copy = await desk.work_with_single_copy("UOC", "UOC-HER")
    work = relay.to_base64("Work", copy.work_id)
    shelf_refusal = await desk.place_hold("UOC-UNDERG-003", "UOC-HER", MONDAY, work=work)
    assert [(e["code"], e["rule"]) for e in shelf_refusal["userErrors"]] == [
        ("HOLD_NOT_ALLOWED", "UOC-4a")
    ]
    loan = (await desk.check_out(copy.barcode, "UOC-FACULT-001", "UOC-HER", MONDAY))["loan"]
    before = date.fromisoformat(loan["dueDate"])
    placed = await desk.place_hold("UOC-UNDERG-003", "UOC-HER", MONDAY, work=work)
    assert placed["userErrors"] == []
    recalled = placed["recalledLoan"]
    assert recalled["recalled"] is True
    # seven working days from Monday 23 Nov 2026 is Wednesday 2 Dec; never later than before
    assert recalled["dueDate"] == min(before, date(2026, 12, 2)).isoformat()
    assert recalled["dueDate"] < loan["dueDate"]


async def test_uoc_4b_returned_copy_waits_7_days_for_the_first_hold(desk: Desk) -> None:
    copy = await desk.work_with_single_copy("UOC", "UOC-HER")
    work = relay.to_base64("Work", copy.work_id)
    await desk.check_out(copy.barcode, "UOC-FACULT-001", "UOC-HER", MONDAY)
    await desk.place_hold("UOC-UNDERG-003", "UOC-HER", MONDAY, work=work)
    returned_on = date(2026, 11, 26)
    back = await desk.check_in(copy.barcode, "UOC-HER", at(returned_on))
    assert back["hold"]["status"] == "READY"
    assert (
        back["hold"]["expiresAt"]
        == (returned_on + timedelta(days=UOC.holds.hold_shelf_days)).isoformat()
    )
    assert back["item"]["status"] == "ON_HOLD_SHELF"
    other = await desk.check_out(copy.barcode, "UOC-POSTGR-006", "UOC-HER", at(returned_on))
    assert [(e["code"], e["rule"]) for e in other["userErrors"]] == [
        ("ITEM_NOT_AVAILABLE", "UOC-4b")
    ]
    mine = await desk.check_out(copy.barcode, "UOC-UNDERG-003", "UOC-HER", at(returned_on))
    assert mine["userErrors"] == []
    assert (await desk.patron("UOC-UNDERG-003", at(returned_on)))["holds"] == []


async def test_uoc_4c_holds_are_served_first_come_first_served(desk: Desk) -> None:
    copy = await desk.work_with_single_copy("UOC", "UOC-HER")
    work = relay.to_base64("Work", copy.work_id)
    await desk.check_out(copy.barcode, "UOC-FACULT-001", "UOC-HER", MONDAY)
    await desk.place_hold("UOC-EXCHAN-004", "UOC-HER", at(date(2026, 11, 23), 11), work=work)
    await desk.place_hold("UOC-UNDERG-003", "UOC-HER", at(date(2026, 11, 23), 9), work=work)
    queue = (await desk.patron("UOC-EXCHAN-004", MONDAY))["holds"]
    assert queue[0]["position"] == 2
    back = await desk.check_in(copy.barcode, "UOC-HER", at(date(2026, 11, 25)))
    assert back["hold"]["status"] == "READY"
    ready = (await desk.patron("UOC-UNDERG-003", at(date(2026, 11, 25))))["holds"]
    assert [h["status"] for h in ready] == ["READY"]
    waiting = (await desk.patron("UOC-EXCHAN-004", at(date(2026, 11, 25))))["holds"]
    assert [(h["status"], h["position"]) for h in waiting] == [("WAITING", 1)]


async def test_uoc_3_damage_found_at_return_charges_the_replacement(desk: Desk) -> None:
    copy = (await desk.copies("UOC", "UOC-HER"))[0]
    await desk.check_out(copy.barcode, "UOC-FACULT-001", "UOC-HER", MONDAY)
    back = await desk.check_in(copy.barcode, "UOC-HER", at(date(2026, 11, 24)), damaged=True)
    assert [(f["kind"], f["rule"]) for f in back["fees"]] == [("replacement", "UOC-3")]
    expected = copy.replacement_cost or UOC.replacement.default_replacement_cost
    assert Decimal(back["fees"][0]["amount"]["amount"]) == expected
    assert back["item"]["status"] == "DAMAGED"


async def test_uoc_6_return_at_another_branch_sends_the_copy_home(desk: Desk) -> None:
    copy = (await desk.copies("UOC", "UOC-HER"))[0]
    lent = await desk.check_out(copy.barcode, "UOC-FACULT-001", "UOC-RET", MONDAY)
    assert lent["userErrors"] == []  # borrowed in person at another branch
    back = await desk.check_in(copy.barcode, "UOC-RET", at(date(2026, 11, 24)))
    assert back["item"]["status"] == "IN_TRANSIT"
    home = await desk.check_in(copy.barcode, "UOC-HER", at(date(2026, 11, 25)))
    assert home["item"]["status"] == "AVAILABLE"
    assert home["item"]["branch"]["code"] == "UOC-HER"


async def test_aeg_4_and_aeg_3_undergraduates_take_3_items_for_one_week(desk: Desk) -> None:
    category = AEG.category("undergraduate")
    copies = await desk.copies("AEG", "AEG-MYT", limit=category.max_loans + 1)
    for copy in copies[: category.max_loans]:
        done = await desk.check_out(copy.barcode, "AEG-UNDERG-003", "AEG-MYT", MONDAY)
        assert done["userErrors"] == []
        assert done["loan"]["dueDate"] == "2026-11-30"  # one week, a working Monday
    refused = await desk.check_out(copies[-1].barcode, "AEG-UNDERG-003", "AEG-MYT", MONDAY)
    assert [(e["code"], e["rule"]) for e in refused["userErrors"]] == [
        ("LOAN_LIMIT_REACHED", "AEG-4")
    ]


async def test_fees_can_be_paid_in_part_never_overpaid_and_waived_with_a_reason(desk: Desk) -> None:
    copy = (await desk.copies("UOC", "UOC-HER"))[0]
    loan = (await desk.check_out(copy.barcode, "UOC-UNDERG-003", "UOC-HER", MONDAY))["loan"]
    returned = at(date.fromisoformat(loan["dueDate"]) + timedelta(days=10))
    fee = (await desk.check_in(copy.barcode, "UOC-HER", returned))["fees"][0]
    pay = "mutation($id: ID!, $a: String!) { payFee(input: {feeId: $id, amount: $a}) { fee { status paid { amount } outstanding { amount } } userErrors { code field } } }"
    part = (await desk.call(pay, returned, id=fee["id"], a="0.50"))["payFee"]
    assert part["fee"]["status"] == "OPEN"
    assert part["fee"]["paid"]["amount"] == "0.50"
    too_much = (await desk.call(pay, returned, id=fee["id"], a="999.00"))["payFee"]
    assert [(e["code"], e["field"]) for e in too_much["userErrors"]] == [
        ("INVALID_INPUT", ["input", "amount"])
    ]
    bad = (await desk.call(pay, returned, id=fee["id"], a="1.234"))["payFee"]
    assert bad["userErrors"][0]["code"] == "INVALID_INPUT"
    waive = "mutation($id: ID!, $r: String!) { waiveFee(input: {feeId: $id, reason: $r}) { fee { status note } userErrors { code } } }"
    no_reason = (await desk.call(waive, returned, id=fee["id"], r="  "))["waiveFee"]
    assert no_reason["userErrors"][0]["code"] == "INVALID_INPUT"
    waived = (await desk.call(waive, returned, id=fee["id"], r="library closed by strike"))[
        "waiveFee"
    ]
    assert waived["fee"]["status"] == "WAIVED"
    assert "library closed by strike" in waived["fee"]["note"]
    balance = (await desk.patron("UOC-UNDERG-003", returned))["balance"]
    assert balance == {"amount": "0.00", "currency": "EUR"}


async def test_cancelling_a_ready_hold_passes_the_copy_to_the_next_in_queue(desk: Desk) -> None:
    copy = await desk.work_with_single_copy("UOC", "UOC-HER")
    work = relay.to_base64("Work", copy.work_id)
    await desk.check_out(copy.barcode, "UOC-FACULT-001", "UOC-HER", MONDAY)
    first = await desk.place_hold("UOC-UNDERG-003", "UOC-HER", at(date(2026, 11, 23), 9), work=work)
    await desk.place_hold("UOC-EXCHAN-004", "UOC-HER", at(date(2026, 11, 23), 11), work=work)
    await desk.check_in(copy.barcode, "UOC-HER", at(date(2026, 11, 25)))
    patron_token = token_for("patron", card_number="UOC-UNDERG-003")
    cancelled = await desk.call(
        CANCEL_HOLD, at(date(2026, 11, 26)), patron_token, id=first["hold"]["id"]
    )
    assert cancelled["cancelHold"]["hold"]["status"] == "CANCELLED"
    nxt = (await desk.patron("UOC-EXCHAN-004", at(date(2026, 11, 26))))["holds"]
    assert [h["status"] for h in nxt] == ["READY"]


@pytest.mark.parametrize(
    ("token_args", "code"),
    [
        ({"kind": "staff", "library": "AEG"}, "FORBIDDEN"),
        ({"kind": "staff", "library": "UOC", "branch": "UOC-RET"}, "FORBIDDEN"),
        ({"kind": "patron", "card_number": "UOC-UNDERG-003"}, "FORBIDDEN"),
        ({"kind": "partner", "library": "CUT"}, "FORBIDDEN"),
    ],
)
async def test_only_the_owning_librarys_desk_may_lend(
    desk: Desk, token_args: dict, code: str
) -> None:  # type: ignore[type-arg]
    copy = (await desk.copies("UOC", "UOC-HER"))[0]
    kind = token_args.pop("kind")
    refused = await desk.check_out(
        copy.barcode, "UOC-UNDERG-003", "UOC-HER", MONDAY, token=token_for(kind, **token_args)
    )
    assert [e["code"] for e in refused["userErrors"]] == [code]
    assert (await desk.patron("UOC-UNDERG-003", MONDAY))["loans"] == []


async def test_a_patron_may_not_renew_someone_elses_loan(desk: Desk) -> None:
    copy = (await desk.copies("UOC", "UOC-HER"))[0]
    loan = (await desk.check_out(copy.barcode, "UOC-UNDERG-003", "UOC-HER", MONDAY))["loan"]
    other = token_for("patron", card_number="UOC-FACULT-001")
    refused = await desk.renew(loan["id"], MONDAY, token=other)
    assert [e["code"] for e in refused["userErrors"]] == ["FORBIDDEN"]


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        (
            {"barcode": "NO-SUCH", "card": "UOC-UNDERG-003", "branch": "UOC-HER"},
            "NOT_FOUND",
            ["input", "itemBarcode"],
        ),
        (
            {"barcode": "X", "card": "NOPE", "branch": "UOC-HER"},
            "NOT_FOUND",
            ["input", "patronCardNumber"],
        ),
        (
            {"barcode": "X", "card": "UOC-UNDERG-003", "branch": "ZZZ"},
            "NOT_FOUND",
            ["input", "branch"],
        ),
        (
            {"barcode": " ", "card": "UOC-UNDERG-003", "branch": "UOC-HER"},
            "INVALID_INPUT",
            ["input", "itemBarcode"],
        ),
    ],
)
async def test_bad_checkout_input_is_a_user_error_not_a_crash(
    desk: Desk, variables: dict, code: str, field: list
) -> None:  # type: ignore[type-arg]
    from tests.e2e.circulation_support import CHECK_OUT

    data = await desk.call(CHECK_OUT, MONDAY, None, **variables)
    assert [(e["code"], e["field"]) for e in data["checkOut"]["userErrors"]] == [(code, field)]


async def test_a_reader_of_another_library_is_pointed_to_interlibrary_loan(desk: Desk) -> None:
    copy = (await desk.copies("UOC", "UOC-HER"))[0]
    refused = await desk.check_out(copy.barcode, "AEG-FACULT-001", "UOC-HER", MONDAY)
    assert [(e["code"], e["rule"]) for e in refused["userErrors"]] == [
        ("PATRON_OF_ANOTHER_LIBRARY", "CONS-2")
    ]


async def test_uoc_4b_a_hold_not_collected_in_7_days_expires_and_passes_the_copy_on(
    desk: Desk,
) -> None:
    copy = await desk.work_with_single_copy("UOC", "UOC-HER")
    work = relay.to_base64("Work", copy.work_id)
    await desk.check_out(copy.barcode, "UOC-FACULT-001", "UOC-HER", MONDAY)
    await desk.place_hold("UOC-UNDERG-003", "UOC-HER", at(date(2026, 11, 23), 9), work=work)
    await desk.place_hold("UOC-EXCHAN-004", "UOC-HER", at(date(2026, 11, 23), 11), work=work)
    returned_on = date(2026, 11, 25)
    await desk.check_in(copy.barcode, "UOC-HER", at(returned_on))
    last_day = returned_on + timedelta(days=UOC.holds.hold_shelf_days)
    still_kept = await desk.check_out(copy.barcode, "UOC-EXCHAN-004", "UOC-HER", at(last_day))
    assert [e["code"] for e in still_kept["userErrors"]] == ["ITEM_NOT_AVAILABLE"]
    next_day = at(last_day + timedelta(days=1))
    lent = await desk.check_out(copy.barcode, "UOC-EXCHAN-004", "UOC-HER", next_day)
    assert lent["userErrors"] == []
    assert (await desk.patron("UOC-UNDERG-003", next_day))["holds"] == []


async def test_staff_override_of_a_loan_limit_needs_a_reason_and_is_audited(desk: Desk) -> None:
    from sqlalchemy import select

    from kallimachos.db.engine import make_engine, make_sessionmaker
    from kallimachos.db.models import Event
    from tests.e2e.circulation_support import CHECK_OUT

    limit = AEG.category("undergraduate").max_loans
    copies = await desk.copies("AEG", "AEG-MYT", limit=limit + 1)
    for copy in copies[:limit]:
        await desk.check_out(copy.barcode, "AEG-UNDERG-003", "AEG-MYT", MONDAY)
    query = CHECK_OUT.replace(
        "branch: $branch}", "branch: $branch, overrideReason: $reason}"
    ).replace("$branch: String!)", "$branch: String!, $reason: String)")
    staff = token_for("staff", library="AEG")
    patron = token_for("patron", card_number="AEG-UNDERG-003")
    by_patron = await desk.call(
        query,
        MONDAY,
        patron,
        barcode=copies[-1].barcode,
        card="AEG-UNDERG-003",
        branch="AEG-MYT",
        reason="exam week",
    )
    assert [e["code"] for e in by_patron["checkOut"]["userErrors"]] == ["FORBIDDEN"]
    no_reason = await desk.call(
        query,
        MONDAY,
        staff,
        barcode=copies[-1].barcode,
        card="AEG-UNDERG-003",
        branch="AEG-MYT",
        reason=" ",
    )
    assert [e["code"] for e in no_reason["checkOut"]["userErrors"]] == ["INVALID_INPUT"]
    granted = await desk.call(
        query,
        MONDAY,
        staff,
        barcode=copies[-1].barcode,
        card="AEG-UNDERG-003",
        branch="AEG-MYT",
        reason="exam week",
    )
    assert granted["checkOut"]["userErrors"] == []
    engine = make_engine(desk.settings.database_url)
    async with make_sessionmaker(engine)() as session:
        event = (
            await session.scalars(
                select(Event).where(Event.kind == "loan.checked_out").order_by(Event.id.desc())
            )
        ).first()
    await engine.dispose()
    assert event is not None
    assert event.actor_kind == "staff"
    assert event.payload["override"] == {"reason": "exam week", "refusals": ["LOAN_LIMIT_REACHED"]}


async def test_aeg_5_exceptional_loan_needs_a_clean_year_and_stays_within_one_month(
    desk: Desk,
) -> None:
    from tests.e2e.circulation_support import CHECK_OUT

    copy = (await desk.copies("AEG", "AEG-MYT"))[0]
    query = CHECK_OUT.replace(
        "branch: $branch}", 'branch: $branch, overrideReason: "thesis", exceptionalDueDate: $due}'
    ).replace("$branch: String!)", "$branch: String!, $due: String)")
    await _set_registered(desk, "AEG-UNDERG-003", date(2026, 9, 1))
    # registered in September 2026: no clean academic year by 23 November 2026
    refused = await desk.call(
        query,
        MONDAY,
        None,
        barcode=copy.barcode,
        card="AEG-UNDERG-003",
        branch="AEG-MYT",
        due="2026-12-14",
    )
    assert [(e["code"], e["rule"]) for e in refused["checkOut"]["userErrors"]] == [
        ("EXTENSION_NOT_ALLOWED", "AEG-5")
    ]
    a_year_later = date(2027, 11, 22)  # a Monday, one clean year on
    too_long = date(2028, 1, 10)  # beyond one month for an undergraduate
    capped = await desk.call(
        query,
        at(a_year_later),
        None,
        barcode=copy.barcode,
        card="AEG-UNDERG-003",
        branch="AEG-MYT",
        due=too_long.isoformat(),
    )
    assert [(e["code"], e["rule"]) for e in capped["checkOut"]["userErrors"]] == [
        ("EXTENSION_NOT_ALLOWED", "AEG-5")
    ]
    within = date(2027, 12, 13)  # three weeks: longer than AEG-3's one week, within the cap
    granted = await desk.call(
        query,
        at(a_year_later),
        None,
        barcode=copy.barcode,
        card="AEG-UNDERG-003",
        branch="AEG-MYT",
        due=within.isoformat(),
    )
    assert granted["checkOut"]["userErrors"] == []
    assert granted["checkOut"]["loan"]["dueDate"] == within.isoformat()


async def _set_registered(desk: Desk, card: str, day: date) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import update

    from kallimachos.db.engine import make_engine, make_sessionmaker
    from kallimachos.db.models import Patron

    engine = make_engine(desk.settings.database_url)
    async with make_sessionmaker(engine).begin() as session:
        await session.execute(
            update(Patron)
            .where(Patron.card_number == card)
            .values(created_at=datetime(day.year, day.month, day.day, 9, tzinfo=UTC))
        )
    await engine.dispose()


async def test_aeg_8_suspension_security_gate_fine_lost_copy_and_clearance(desk: Desk) -> None:
    staff = token_for("staff", library="AEG")
    suspend = 'mutation { suspendPatron(input: {patronCardNumber: "AEG-UNDERG-003", reason: "late every week"}) { patron { suspendedUntil } userErrors { code rule } } }'
    done = (await desk.call(suspend, MONDAY, staff))["suspendPatron"]
    assert done["userErrors"] == []
    assert done["patron"]["suspendedUntil"] >= "2027-05-22"  # one semester, per policy
    copy = (await desk.copies("AEG", "AEG-MYT"))[0]
    refused = await desk.check_out(copy.barcode, "AEG-UNDERG-003", "AEG-MYT", MONDAY)
    assert [(e["code"], e["rule"]) for e in refused["userErrors"]] == [("PATRON_BLOCKED", "AEG-8")]

    gate = 'mutation { chargeSecurityGateFine(input: {patronCardNumber: "AEG-POSTGR-002", reason: "gate alarm, book in bag"}) { fees { kind rule amount { amount } } userErrors { code } } }'
    fined = (await desk.call(gate, MONDAY, staff))["chargeSecurityGateFine"]
    assert [(f["kind"], f["rule"]) for f in fined["fees"]] == [("security_gate", "AEG-8")]
    assert Decimal(fined["fees"][0]["amount"]["amount"]) == AEG.fines.security_gate_fine

    loan = (await desk.check_out(copy.barcode, "AEG-FACULT-001", "AEG-MYT", MONDAY))["loan"]
    lost = "mutation($id: ID!) { declareItemLost(input: {loanId: $id}) { fees { kind rule note } userErrors { code } } }"
    charged = (await desk.call(lost, MONDAY, staff, id=loan["id"]))["declareItemLost"]
    assert {f["rule"] for f in charged["fees"]} == {"AEG-8"}
    assert any("replaced in kind by 2026-12-08" in (f["note"] or "") for f in charged["fees"])
    clearance = '{ patron(cardNumber: "AEG-FACULT-001") { clearanceRefusals { code rule } } }'
    refusals = (await desk.call(clearance, MONDAY, staff))["patron"]["clearanceRefusals"]
    assert {(r["code"], r["rule"]) for r in refusals} == {("CLEARANCE_REFUSED", "AEG-8")}
