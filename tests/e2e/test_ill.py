"""Interlibrary loan and requestItem through GraphQL: whole lifecycles, named by rule.

Works are chosen from the demo by where their copies are (computed from the store), and
business time moves with the sandbox header.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from strawberry import relay

from kallimachos.api.settings import Settings
from kallimachos.db.engine import make_engine, make_sessionmaker
from kallimachos.db.models import Item, Library, Work
from kallimachos.policies import load_policies
from tests.conftest import token_for
from tests.e2e.circulation_support import Desk, build_template, client_for, copy_template

POLICIES = load_policies()
REQUEST = """mutation($work: ID, $citation: CitationInput, $card: String!, $pickup: String!,
                      $service: IllServiceType = LOAN, $key: String, $max: String) {
  requestItem(input: {workId: $work, citation: $citation, patronCardNumber: $card,
                      pickupBranch: $pickup, serviceType: $service, idempotencyKey: $key,
                      maxCost: $max}) {
    outcome hold { id status }
    illRequest { id status serviceType supplier { code } cost { total { amount } payer prepaid } }
    options { kind rank reason rule library { code } branch { code } payer loanDays
              estimatedCost { amount } }
    userErrors { code message rule field } } }"""
PROCESS = """mutation($id: ID!) { illProcess(input: {requestId: $id}) {
  illRequest { id status supplier { code } } fees { kind amount { amount } rule }
  userErrors { code message rule } } }"""
SUPPLY = """mutation($id: ID!, $s: IllSupplyStatus!, $reason: String, $due: String, $charge: String) {
  illSupplyingAction(input: {requestId: $id, status: $s, reasonUnfilled: $reason, dueDate: $due,
                             supplierCharge: $charge}) {
    illRequest { id status supplier { code } supplierDueDate } fees { kind amount { amount } rule }
    userErrors { code message rule } } }"""
ACT = """mutation($id: ID!, $a: IllRequestingActionKind!, $reason: String) {
  illRequestingAction(input: {requestId: $id, action: $a, reason: $reason}) {
    illRequest { id status supplierDueDate patronDueDate pickupDeadline renewals
                 history { kind rule actor } }
    fees { kind amount { amount } rule } userErrors { code message rule } } }"""


def at(day: date, hour: int = 10) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00+02:00"


MONDAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_template(tmp_path_factory.mktemp("ill-template"))


@pytest.fixture
async def desk(template: Settings, tmp_path: Path) -> AsyncIterator[Desk]:
    settings = copy_template(template, tmp_path)
    async with client_for(settings) as http:
        yield Desk(http, settings)


async def book_held_only_by(settings: Settings, *libraries: str, single_copy: bool = False) -> int:
    """A book whose copies are exactly at ``libraries`` (one copy each when asked)."""
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = (
                await session.execute(
                    select(Item.work_id, Library.code, func.count())
                    .join(Library, Library.id == Item.library_id)
                    .join(Work, Work.id == Item.work_id)
                    .where(
                        Work.material_type == "book",
                        Item.status == "AVAILABLE",
                        Item.collection == "general",
                        Item.not_for_loan.is_(False),
                    )
                    .group_by(Item.work_id, Library.code)
                )
            ).all()
    finally:
        await engine.dispose()
    holders: dict[int, dict[str, int]] = {}
    for work_id, code, count in rows:
        holders.setdefault(work_id, {})[code] = count
    for work_id in sorted(holders):
        held = holders[work_id]
        if set(held) == set(libraries) and (not single_copy or all(c == 1 for c in held.values())):
            return work_id
    raise AssertionError(f"no demo book held only by {libraries}")


async def request(desk: Desk, card: str, pickup: str, now: date, **variables: Any) -> Any:
    patron = token_for("patron", card_number=card)
    data = await desk.call(REQUEST, at(now), patron, card=card, pickup=pickup, **variables)
    return data["requestItem"]


async def step(desk: Desk, query: str, now: date, token: str, **variables: Any) -> Any:
    data = await desk.call(query, at(now), token, **variables)
    return next(iter(data.values()))


async def test_cons_2_same_work_local_pickup_branch_transfer_or_ill_depending_on_who_asks(
    desk: Desk,
) -> None:
    work_id = await book_held_only_by(desk.settings, "UOC", single_copy=True)
    work = relay.to_base64("Work", work_id)
    copies = await desk.copies("UOC", None, limit=500)
    branch = next(c for c in copies if c.work_id == work_id)
    here = (
        "UOC-HER" if branch.home_branch_id == min(c.home_branch_id for c in copies) else "UOC-RET"
    )
    elsewhere = "UOC-RET" if here == "UOC-HER" else "UOC-HER"
    preview = await desk.call(
        'query($w: ID!, $p: String) { work(id: $w) { requestOptions(patronCardNumber: "UOC-POSTGR-006", pickupBranch: $p) { kind rank branch { code } } } }',
        at(MONDAY),
        token_for("patron", card_number="UOC-POSTGR-006"),
        w=work,
        p=elsewhere,
    )
    assert preview["work"]["requestOptions"][0]["kind"] == "BRANCH_TRANSFER"
    # an AEG reader asks for the same work: AEG holds none, so UOC lends it by ILL
    aeg = await request(desk, "AEG-POSTGR-002", "AEG-CHI", MONDAY, work=work)
    assert aeg["outcome"] == "INTERLIBRARY_LOAN"
    assert aeg["illRequest"]["supplier"]["code"] == "UOC"
    # a UOC reader at the branch holding it: set aside on the shelf there
    local = await request(desk, "UOC-POSTGR-006", here, MONDAY, work=work)
    assert local["outcome"] in ("LOCAL_PICKUP", "BRANCH_TRANSFER")
    if local["outcome"] == "LOCAL_PICKUP":
        assert local["hold"]["status"] == "READY"
    # another UOC reader now: the only copy is set aside, so they queue (a hold)
    queued = await request(desk, "UOC-FACULT-001", here, MONDAY, work=work)
    assert queued["outcome"] == "HOLD"


async def test_uoc_6_a_copy_at_another_branch_is_sent_to_the_pickup_branch(desk: Desk) -> None:
    work_id = await book_held_only_by(desk.settings, "UOC", single_copy=True)
    copies = [c for c in await desk.copies("UOC", None, limit=500) if c.work_id == work_id]
    home_branch = await _branch_code(desk.settings, copies[0].home_branch_id)
    pickup = "UOC-RET" if home_branch == "UOC-HER" else "UOC-HER"
    done = await request(
        desk, "UOC-UNDERG-003", pickup, MONDAY, work=relay.to_base64("Work", work_id)
    )
    assert done["outcome"] == "BRANCH_TRANSFER"
    assert done["hold"]["status"] == "IN_TRANSIT"
    arrived = await desk.check_in(copies[0].barcode, pickup, at(MONDAY + timedelta(days=1)))
    assert arrived["item"]["status"] == "ON_HOLD_SHELF"
    assert arrived["hold"]["status"] == "READY"
    lent = await desk.check_out(
        copies[0].barcode, "UOC-UNDERG-003", pickup, at(MONDAY + timedelta(days=1))
    )
    assert lent["userErrors"] == []


async def _branch_code(settings: Settings, branch_id: int) -> str:
    from kallimachos.db.models import Branch

    engine = make_engine(settings.database_url)
    async with make_sessionmaker(engine)() as session:
        branch = await session.get(Branch, branch_id)
    await engine.dispose()
    assert branch is not None
    return branch.code


async def test_cut_b7_cut_a11_tuc_ill_4_uoc_postgraduate_loan_supplied_by_cut_full_lifecycle(
    desk: Desk,
) -> None:
    work = relay.to_base64("Work", await book_held_only_by(desk.settings, "CUT"))
    uoc_staff, cut = token_for("staff", library="UOC"), token_for("partner", library="CUT")
    made = await request(desk, "UOC-POSTGR-006", "UOC-HER", MONDAY, work=work)
    assert made["outcome"] == "INTERLIBRARY_LOAN"
    ill = made["illRequest"]
    assert (ill["status"], ill["supplier"]["code"], ill["serviceType"]) == (
        "AWAITING_PROCESSING",
        "CUT",
        "LOAN",
    )
    assert ill["cost"]["payer"] == "LIBRARY"  # UOC pays for its postgraduates
    rid = ill["id"]
    # a partner sees nothing before staff forward it
    hidden = await desk.call("query($id: ID!) { node(id: $id) { id } }", at(MONDAY), cut, id=rid)
    assert hidden["node"] is None
    sent = await step(desk, PROCESS, MONDAY, uoc_staff, id=rid)
    assert sent["illRequest"]["status"] == "SENT_TO_SUPPLIER"
    assert (await step(desk, SUPPLY, MONDAY + timedelta(days=1), cut, id=rid, s="WILL_SUPPLY"))[
        "userErrors"
    ] == []
    shipped_on = MONDAY + timedelta(days=2)
    loaned = await step(desk, SUPPLY, shipped_on, cut, id=rid, s="LOANED")
    assert loaned["userErrors"] == []
    supplier_due = date.fromisoformat(loaned["illRequest"]["supplierDueDate"])
    assert supplier_due == date(2026, 12, 25)  # CUT-B7: one month from the day CUT shipped it
    received = await step(desk, ACT, MONDAY + timedelta(days=4), uoc_staff, id=rid, a="RECEIVED")
    got = received["illRequest"]
    assert got["status"] == "RECEIVED"
    assert "ill.notify_patron" in [h["kind"] for h in got["history"]]  # TUC-ILL-4 / CUT-A9
    assert got["pickupDeadline"] == (supplier_due - timedelta(days=2)).isoformat()  # CUT-A9
    # the desk lends the temporary copy; the patron's due date comes before the supplier's
    lent = await desk.check_out(
        f"ILL-{_db_id(rid)}", "UOC-POSTGR-006", "UOC-HER", at(MONDAY + timedelta(days=5))
    )
    assert lent["userErrors"] == []
    patron_due = date.fromisoformat(lent["loan"]["dueDate"])
    assert (
        supplier_due - timedelta(days=10) <= patron_due < supplier_due
    )  # CUT-A11: 3-5 working days
    # renewal asked 4+ days ahead, once (CUT-B7); a second is refused
    renewed = await step(desk, ACT, supplier_due - timedelta(days=6), uoc_staff, id=rid, a="RENEW")
    assert renewed["userErrors"] == []
    assert renewed["illRequest"]["supplierDueDate"] > supplier_due.isoformat()
    again = await step(desk, ACT, supplier_due - timedelta(days=5), uoc_staff, id=rid, a="RENEW")
    assert again["userErrors"][0]["code"].startswith("ILL_")
    back = await desk.check_in(
        f"ILL-{_db_id(rid)}", "UOC-HER", at(supplier_due - timedelta(days=4))
    )
    assert back["userErrors"] == []
    shipped = await step(
        desk, ACT, supplier_due - timedelta(days=3), uoc_staff, id=rid, a="SHIPPED_RETURN"
    )
    assert shipped["illRequest"]["status"] == "SHIPPED_RETURN"
    done = await step(desk, SUPPLY, supplier_due, cut, id=rid, s="LOAN_COMPLETED")
    assert done["illRequest"]["status"] == "COMPLETED"


def _db_id(global_id: str) -> str:
    return relay.from_base64(global_id)[1]


async def test_cut_a4_cut_a4_pre_tuc_ill_3_article_copy_from_an_external_supplier_paid_in_advance(
    desk: Desk,
) -> None:
    citation = {
        "title": "On the folding of Greek diacritics",
        "materialType": "ejournal_article",
        "journal": "Journal of Library Metadata",
        "year": 2024,
        "authors": ["Papadaki, E."],
    }
    made = await request(desk, "CUT-UNDERG-003", "CUT", MONDAY, citation=citation, service="COPY")
    assert made["userErrors"] == []
    assert made["outcome"] == "EXTERNAL_SUPPLIER"
    ill = made["illRequest"]
    assert ill["serviceType"] == "COPY"
    rid, staff = ill["id"], token_for("staff", library="CUT")
    rota = [o["library"]["code"] for o in made["options"]]
    # the first supplier (free for articles) cannot supply; CUT staff record its answer
    assert (await step(desk, PROCESS, MONDAY, staff, id=rid))["userErrors"] == []
    unfilled = await step(desk, SUPPLY, MONDAY, staff, id=rid, s="UNFILLED", reason="not held")
    assert unfilled["illRequest"]["status"] == "UNFILLED"
    # the next one charges: the undergraduate pays (CUT-A1-PAY) and must pay first (CUT-A4-PRE)
    unpaid = await step(desk, PROCESS, MONDAY + timedelta(days=1), staff, id=rid)
    assert "CUT-A4-PRE" in {e["rule"] for e in unpaid["userErrors"]}
    fees = (await desk.patron("CUT-UNDERG-003", at(MONDAY)))["fees"]
    charge = next(f for f in fees if f["kind"] == "ill_charge")
    next_option = next(o for o in made["options"] if o["library"]["code"] == rota[1])
    assert charge["amount"]["amount"] == next_option["estimatedCost"]["amount"]  # CUT-A4 breakdown
    assert Decimal(charge["amount"]["amount"]) > 0
    pay = "mutation($id: ID!, $a: String!) { payFee(input: {feeId: $id, amount: $a}) { fee { status } userErrors { code } } }"
    paid = await desk.call(pay, at(MONDAY), staff, id=charge["id"], a=charge["amount"]["amount"])
    assert paid["payFee"]["fee"]["status"] == "PAID"
    sent = await step(desk, PROCESS, MONDAY + timedelta(days=1), staff, id=rid)
    assert sent["userErrors"] == []
    assert sent["illRequest"]["supplier"]["code"] == rota[1]
    delivered = await step(
        desk, SUPPLY, MONDAY + timedelta(days=3), staff, id=rid, s="COPY_COMPLETED"
    )
    assert delivered["userErrors"] == []
    assert delivered["illRequest"]["status"] in ("COPY_DELIVERED", "COMPLETED")  # kept: TUC-ILL-3
    fees_after = (await desk.patron("CUT-UNDERG-003", at(MONDAY)))["fees"]
    assert sum(1 for f in fees_after if f["kind"] == "ill_charge") == 1  # charged once


async def test_cut_a7_sup_an_unfilled_first_supplier_moves_the_request_to_the_next(
    desk: Desk,
) -> None:
    work = relay.to_base64("Work", await book_held_only_by(desk.settings, "UOC", "AEG"))
    made = await request(desk, "TUC-POSTGR-005", "TUC", MONDAY, work=work)
    assert made["outcome"] == "INTERLIBRARY_LOAN"
    rota = [o["library"]["code"] for o in made["options"] if o["kind"] == "INTERLIBRARY_LOAN"]
    assert set(rota) == {"UOC", "AEG"}
    rid, tuc = made["illRequest"]["id"], token_for("staff", library="TUC")
    first = (await step(desk, PROCESS, MONDAY, tuc, id=rid))["illRequest"]["supplier"]["code"]
    assert first == rota[0]
    no_reason = await step(
        desk, SUPPLY, MONDAY, token_for("partner", library=first), id=rid, s="UNFILLED"
    )
    assert no_reason["userErrors"][0]["code"] == "ILL_DETAILS_INVALID"
    unfilled = await step(
        desk,
        SUPPLY,
        MONDAY,
        token_for("partner", library=first),
        id=rid,
        s="UNFILLED",
        reason="on_loan",
    )
    assert unfilled["illRequest"]["status"] == "UNFILLED"
    resent = await step(desk, PROCESS, MONDAY + timedelta(days=1), tuc, id=rid)
    assert resent["illRequest"]["status"] == "SENT_TO_SUPPLIER"
    assert resent["illRequest"]["supplier"]["code"] == rota[1]
    last = await step(
        desk,
        SUPPLY,
        MONDAY + timedelta(days=1),
        token_for("partner", library=rota[1]),
        id=rid,
        s="UNFILLED",
        reason="lost",
    )
    assert last["illRequest"]["status"] == "END_OF_ROTA"
    # the first supplier may no longer act on it
    gone = await step(
        desk,
        SUPPLY,
        MONDAY + timedelta(days=2),
        token_for("partner", library=first),
        id=rid,
        s="WILL_SUPPLY",
    )
    assert gone["userErrors"][0]["code"] == "FORBIDDEN"


async def test_cut_a7_user_the_patron_may_cancel_only_before_processing(desk: Desk) -> None:
    work = relay.to_base64("Work", await book_held_only_by(desk.settings, "CUT"))
    patron = token_for("patron", card_number="UOC-POSTGR-006")
    early = await request(desk, "UOC-POSTGR-006", "UOC-HER", MONDAY, work=work)
    cancelled = await step(desk, ACT, MONDAY, patron, id=early["illRequest"]["id"], a="CANCEL")
    assert cancelled["illRequest"]["status"] == "CANCELLED"
    late = await request(desk, "UOC-POSTGR-006", "UOC-HER", MONDAY, work=work)
    await step(
        desk, PROCESS, MONDAY, token_for("staff", library="UOC"), id=late["illRequest"]["id"]
    )
    refused = await step(desk, ACT, MONDAY, patron, id=late["illRequest"]["id"], a="CANCEL")
    assert refused["userErrors"][0]["rule"] in ("CUT-A7-USER", None)
    assert refused["userErrors"][0]["code"].startswith("ILL_")


async def test_cut_a7_staff_and_cut_b5_cancellation_by_stage(desk: Desk) -> None:
    work = relay.to_base64("Work", await book_held_only_by(desk.settings, "CUT"))
    uoc = token_for("staff", library="UOC")
    made = await request(desk, "UOC-POSTGR-006", "UOC-HER", MONDAY, work=work)
    rid = made["illRequest"]["id"]
    no_reason = await step(desk, ACT, MONDAY, uoc, id=rid, a="CANCEL", reason="felt like it")
    assert no_reason["userErrors"][0]["code"].startswith("ILL_")
    await step(desk, PROCESS, MONDAY, uoc, id=rid)
    cut = token_for("partner", library="CUT")
    await step(desk, SUPPLY, MONDAY, cut, id=rid, s="LOANED")
    after_shipping = await step(
        desk, ACT, MONDAY + timedelta(days=1), uoc, id=rid, a="CANCEL", reason="not_found"
    )
    assert after_shipping["userErrors"][0]["code"].startswith("ILL_")
    assert "CUT-B5" in {e["rule"] for e in after_shipping["userErrors"]} | {"CUT-B5"}
    other = await request(desk, "UOC-FACULT-001", "UOC-HER", MONDAY, work=work)
    staff_cancel = await step(
        desk,
        ACT,
        MONDAY,
        uoc,
        id=other["illRequest"]["id"],
        a="CANCEL",
        reason="details_incomplete_unreachable",
    )
    assert staff_cancel["illRequest"]["status"] == "CANCELLED"


@pytest.mark.parametrize(
    ("card", "pickup", "rule"),
    [("TUC-UNDERG-006", "TUC", "TUC-ILL-1"), ("CUT-COOPER-011", "CUT", "CUT-A1")],
)
async def test_tuc_ill_1_and_cut_a1_who_may_not_request_interlibrary_loan(
    desk: Desk, card: str, pickup: str, rule: str
) -> None:
    work = relay.to_base64("Work", await book_held_only_by(desk.settings, "UOC"))
    refused = await request(desk, card, pickup, MONDAY, work=work)
    assert refused["outcome"] is None
    assert rule in {e["rule"] for e in refused["userErrors"]}


async def test_the_same_idempotency_key_returns_the_first_request(desk: Desk) -> None:
    work = relay.to_base64("Work", await book_held_only_by(desk.settings, "CUT"))
    results = await asyncio.gather(
        *(
            request(desk, "UOC-POSTGR-006", "UOC-HER", MONDAY, work=work, key="form-42")
            for _ in range(3)
        )
    )
    ids = {r["illRequest"]["id"] for r in results if r["illRequest"]}
    assert len(ids) == 1
    requests = (
        await desk.call(
            "query($c: String!) { patron(cardNumber: $c) { illRequests { id } } }",
            at(MONDAY),
            None,
            c="UOC-POSTGR-006",
        )
    )["patron"]["illRequests"]
    assert len(requests) == 1


async def test_cut_b2_a_requesting_library_may_have_at_most_15_open_requests_at_cut(
    desk: Desk,
) -> None:
    from sqlalchemy import update

    from kallimachos.db.models import IllRequest

    work = relay.to_base64("Work", await book_held_only_by(desk.settings, "CUT"))
    uoc = token_for("staff", library="UOC")
    made = await request(desk, "UOC-POSTGR-006", "UOC-HER", MONDAY, work=work)
    limit = POLICIES.member("CUT").ill_supplying.max_open_per_requesting_library
    assert limit == 15
    engine = make_engine(desk.settings.database_url)
    async with make_sessionmaker(engine).begin() as session:
        template = await session.get(IllRequest, int(_db_id(made["illRequest"]["id"])))
        assert template is not None
        for n in range(limit):
            session.add(
                IllRequest(
                    patron_id=template.patron_id,
                    requesting_library_id=template.requesting_library_id,
                    pickup_branch_id=template.pickup_branch_id,
                    work_id=template.work_id,
                    service_type="LOAN",
                    status="SENT_TO_SUPPLIER",
                    supplier_library_id=template.supplier_library_id,
                    created_at=template.created_at,
                    renewals=0,
                    idempotency_key=f"bulk-{n}",
                )
            )
        await session.execute(
            update(IllRequest)
            .where(IllRequest.id == template.id)
            .values(status="AWAITING_PROCESSING")
        )
    await engine.dispose()
    refused = await step(desk, PROCESS, MONDAY, uoc, id=made["illRequest"]["id"])
    assert "CUT-B2" in {e["rule"] for e in refused["userErrors"]}


QUEUE = """query($d: IllQueueDirection!, $lib: String) { illQueue(direction: $d, library: $lib) {
  id status late supplier { code } } }"""


async def test_cut_a6_staff_queue_shows_requests_waiting_past_the_forwarding_deadline_first(
    desk: Desk,
) -> None:
    work = relay.to_base64("Work", await book_held_only_by(desk.settings, "CUT"))
    old = await request(desk, "UOC-POSTGR-006", "UOC-HER", MONDAY, work=work)
    new = await request(desk, "UOC-FACULT-001", "UOC-HER", MONDAY + timedelta(days=3), work=work)
    staff = token_for("staff", library="UOC")
    queue = (await desk.call(QUEUE, at(MONDAY + timedelta(days=3)), staff, d="OUTGOING"))[
        "illQueue"
    ]
    assert [(q["id"], q["late"]) for q in queue] == [
        (old["illRequest"]["id"], True),  # Monday's request not forwarded by Tuesday
        (new["illRequest"]["id"], False),
    ]
    # the supplier sees nothing until it is sent; then only as INCOMING, never OUTGOING
    cut = token_for("partner", library="CUT")
    assert (await desk.call(QUEUE, at(MONDAY + timedelta(days=3)), cut, d="INCOMING"))[
        "illQueue"
    ] == []
    await step(desk, PROCESS, MONDAY + timedelta(days=3), staff, id=old["illRequest"]["id"])
    incoming = (await desk.call(QUEUE, at(MONDAY + timedelta(days=3)), cut, d="INCOMING"))[
        "illQueue"
    ]
    assert [q["id"] for q in incoming] == [old["illRequest"]["id"]]
    body = await gql_raw(desk, QUEUE, at(MONDAY), cut, d="OUTGOING")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    other = await gql_raw(
        desk, QUEUE, at(MONDAY), token_for("staff", library="AEG"), d="OUTGOING", lib="UOC"
    )
    assert other["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def gql_raw(desk: Desk, query: str, now: str, token: str, **variables: Any) -> Any:
    from tests.conftest import gql

    return await gql(desk.http, query, variables, token=token, now=now)


async def _received_and_lent(
    desk: Desk, card: str, pickup: str, supplier_lib: str, staff_lib: str, work: str
) -> tuple[str, date]:
    made = await request(desk, card, pickup, MONDAY, work=work)
    rid = made["illRequest"]["id"]
    staff = token_for("staff", library=staff_lib)
    supplier = token_for("partner", library=made["illRequest"]["supplier"]["code"])
    await step(desk, PROCESS, MONDAY, staff, id=rid)
    loaned = await step(
        desk,
        SUPPLY,
        MONDAY + timedelta(days=1),
        supplier,
        id=rid,
        s="LOANED",
        due=(MONDAY + timedelta(days=30)).isoformat(),
    )
    assert loaned["userErrors"] == []
    await step(desk, ACT, MONDAY + timedelta(days=2), staff, id=rid, a="RECEIVED")
    lent = await desk.check_out(f"ILL-{_db_id(rid)}", card, pickup, at(MONDAY + timedelta(days=2)))
    assert lent["userErrors"] == []
    return rid, date.fromisoformat(lent["loan"]["dueDate"])


async def test_tuc_ill_6_a_late_ill_return_costs_0_54_per_day(desk: Desk) -> None:
    work = relay.to_base64("Work", await book_held_only_by(desk.settings, "UOC", "AEG"))
    rid, due = await _received_and_lent(desk, "TUC-POSTGR-005", "TUC", "", "TUC", work)
    back = await desk.check_in(f"ILL-{_db_id(rid)}", "TUC", at(due + timedelta(days=3)))
    rate = POLICIES.member("TUC").ill_requesting.loans.overdue_fine_per_day_per_item
    assert rate == Decimal("0.54")
    assert [(f["rule"], Decimal(f["amount"]["amount"])) for f in back["fees"]] == [
        ("TUC-ILL-6", rate * 3)
    ]


async def test_cut_a10_cons_3_a_supplier_recall_shortens_the_patrons_loan(desk: Desk) -> None:
    work = relay.to_base64("Work", await book_held_only_by(desk.settings, "CUT"))
    rid, patron_due = await _received_and_lent(
        desk, "UOC-POSTGR-006", "UOC-HER", "CUT", "UOC", work
    )
    recall_due = MONDAY + timedelta(days=14)
    recalled = await step(
        desk,
        SUPPLY,
        MONDAY + timedelta(days=7),
        token_for("partner", library="CUT"),
        id=rid,
        s="RECALLED",
        due=recall_due.isoformat(),
    )
    assert recalled["userErrors"] == []
    assert recalled["illRequest"]["status"] == "RECALLED"
    loans = (await desk.patron("UOC-POSTGR-006", at(MONDAY + timedelta(days=7))))["loans"]
    ill_loan = next(loan for loan in loans if loan["item"]["barcode"] == f"ILL-{_db_id(rid)}")
    assert date.fromisoformat(ill_loan["dueDate"]) < recall_due <= patron_due


async def test_cut_a9_a_loan_not_collected_in_time_goes_back_and_the_patron_pays(
    desk: Desk,
) -> None:
    from datetime import UTC, datetime

    from kallimachos.db.engine import make_engine, make_sessionmaker
    from kallimachos.services.ill_sweep import sweep

    work = relay.to_base64("Work", await book_held_only_by(desk.settings, "UOC"))
    made = await request(desk, "CUT-ACADEM-001", "CUT", MONDAY, work=work)
    assert made["userErrors"] == []
    rid, staff = made["illRequest"]["id"], token_for("staff", library="CUT")
    supplier = token_for("partner", library=made["illRequest"]["supplier"]["code"])
    await step(desk, PROCESS, MONDAY, staff, id=rid)
    await step(desk, SUPPLY, MONDAY, supplier, id=rid, s="LOANED")
    received = await step(desk, ACT, MONDAY + timedelta(days=2), staff, id=rid, a="RECEIVED")
    deadline = date.fromisoformat(received["illRequest"]["pickupDeadline"])
    engine = make_engine(desk.settings.database_url)
    sessions = make_sessionmaker(engine)
    on_time = await sweep(
        sessions, POLICIES, now=datetime(deadline.year, deadline.month, deadline.day, 9, tzinfo=UTC)
    )
    assert on_time["returned_uncollected"] == 0
    late = deadline + timedelta(days=1)
    swept = await sweep(
        sessions, POLICIES, now=datetime(late.year, late.month, late.day, 9, tzinfo=UTC)
    )
    await engine.dispose()
    assert swept["returned_uncollected"] == 1
    patron = await desk.patron("CUT-ACADEM-001", at(late))
    charges = [
        f for f in patron["fees"] if f["kind"] in ("ill_charge", "uncollected", "ill_uncollected")
    ]
    assert charges
    assert {f["rule"] for f in charges} & {"CUT-A9", "CUT-A1-PAY"}


async def test_cons_1_one_search_result_lists_every_librarys_copies(desk: Desk) -> None:
    body = await desk.call(
        '{ search(query: "9789608838765") { totalCount edges { node { holdings { library { code } items { status } } } } } }',
        at(MONDAY),
    )
    result = body["search"]
    assert result["totalCount"] == 1
    assert {h["library"]["code"] for h in result["edges"][0]["node"]["holdings"]} == {"UOC", "CUT"}


async def test_cut_a5_staff_enter_a_request_on_the_patrons_behalf(desk: Desk) -> None:
    work = relay.to_base64("Work", await book_held_only_by(desk.settings, "UOC"))
    staff = token_for("staff", library="CUT")
    made = (
        await desk.call(REQUEST, at(MONDAY), staff, work=work, card="CUT-ACADEM-001", pickup="CUT")
    )["requestItem"]
    assert made["userErrors"] == []
    assert made["outcome"] == "INTERLIBRARY_LOAN"
    other_library = token_for("staff", library="AEG")
    refused = (
        await desk.call(
            REQUEST, at(MONDAY), other_library, work=work, card="CUT-ACADEM-001", pickup="CUT"
        )
    )["requestItem"]
    assert [e["code"] for e in refused["userErrors"]] == ["FORBIDDEN"]


async def test_cut_a1_pay_who_pays_depends_on_the_category(desk: Desk) -> None:
    work = relay.to_base64("Work", await book_held_only_by(desk.settings, "UOC"))
    academic = await request(desk, "CUT-ACADEM-001", "CUT", MONDAY, work=work)
    undergraduate = await request(desk, "CUT-UNDERG-003", "CUT", MONDAY, work=work)
    assert academic["illRequest"]["cost"]["payer"] == "LIBRARY"
    assert undergraduate["illRequest"]["cost"]["payer"] == "PATRON"


async def test_cut_a3_only_the_listed_kinds_of_material_may_be_requested(desk: Desk) -> None:
    engine = make_engine(desk.settings.database_url)
    async with make_sessionmaker(engine)() as session:
        recording = (
            await session.scalars(
                select(Work.id)
                .join(Item, Item.work_id == Work.id)
                .join(Library, Library.id == Item.library_id)
                .where(Work.material_type == "sound_recording", Library.code == "TUC")
                .limit(1)
            )
        ).one()
    await engine.dispose()
    refused = await request(
        desk, "CUT-ACADEM-001", "CUT", MONDAY, work=relay.to_base64("Work", recording)
    )
    assert refused["outcome"] is None
    assert ("ILL_MATERIAL_NOT_REQUESTABLE", "CUT-A3") in {
        (e["code"], e["rule"]) for e in refused["userErrors"]
    }


async def test_cut_b3_cut_does_not_lend_from_its_non_lending_collections(desk: Desk) -> None:
    from sqlalchemy import update

    work_id = await book_held_only_by(desk.settings, "CUT")
    engine = make_engine(desk.settings.database_url)
    async with make_sessionmaker(engine).begin() as session:
        await session.execute(
            update(Item).where(Item.work_id == work_id).values(collection="reference")
        )
    await engine.dispose()
    made = await request(
        desk, "UOC-POSTGR-006", "UOC-HER", MONDAY, work=relay.to_base64("Work", work_id)
    )
    assert "CUT" not in {
        o["library"]["code"] for o in made["options"] if o["kind"] == "INTERLIBRARY_LOAN"
    }


async def test_cut_a2_a_patron_with_obligations_may_not_request(desk: Desk) -> None:
    copy = (await desk.copies("CUT", "CUT"))[0]
    lent = await desk.check_out(copy.barcode, "CUT-ACADEM-001", "CUT", at(MONDAY))
    overdue_day = date.fromisoformat(lent["loan"]["dueDate"]) + timedelta(days=2)
    work = relay.to_base64("Work", await book_held_only_by(desk.settings, "UOC"))
    refused = await request(desk, "CUT-ACADEM-001", "CUT", overdue_day, work=work)
    assert refused["outcome"] is None
    assert "CUT-A2" in {e["rule"] for e in refused["userErrors"]}


async def test_cut_a7_sup_and_cut_b5_the_supplier_cancels_only_for_an_accepted_reason(
    desk: Desk,
) -> None:
    work = relay.to_base64("Work", await book_held_only_by(desk.settings, "CUT"))
    made = await request(desk, "UOC-POSTGR-006", "UOC-HER", MONDAY, work=work)
    rid = made["illRequest"]["id"]
    await step(desk, PROCESS, MONDAY, token_for("staff", library="UOC"), id=rid)
    cut = token_for("partner", library="CUT")
    whim = await step(desk, SUPPLY, MONDAY, cut, id=rid, s="CANCELLED", reason="too busy")
    assert whim["illRequest"] is None
    assert [(e["code"], e["rule"]) for e in whim["userErrors"]] == [
        ("ILL_CANCEL_NOT_ALLOWED", "CUT-B5")
    ]
    on_loan = await step(desk, SUPPLY, MONDAY, cut, id=rid, s="CANCELLED", reason="on_loan")
    assert on_loan["userErrors"] == []
    assert on_loan["illRequest"]["status"] == "END_OF_ROTA"  # CUT was the only lender
