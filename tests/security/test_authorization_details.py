"""Authorization beyond the root-field matrix: what public types can reach, nested fields that
take a patron, cross-library desks, partner queues, audit of every change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLObjectType, get_named_type
from sqlalchemy import select
from strawberry import relay

from kallimachos.api.settings import Settings
from kallimachos.db.models import Event
from kallimachos.schema import schema
from tests.conftest import token_for
from tests.e2e.circulation_support import CHECK_OUT, PLACE_HOLD, build_template
from tests.security.support import MONDAY, Env, fresh_env

PRIVATE_TYPES = frozenset({"Patron", "Loan", "Hold", "Fee", "IllRequest"})
PUBLIC_ROOTS = ("businessTime", "libraries", "search", "work")
PATRON_ARGUMENTS = {"cardNumber", "patronCardNumber", "card"}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_template(tmp_path_factory.mktemp("details-template"))


@pytest.fixture
async def env(template: Settings, tmp_path: Path) -> AsyncIterator[Env]:
    async with fresh_env(template, tmp_path) as environment:
        yield environment


# --- the shape of the schema --------------------------------------------------------------------


def _reachable(root: str) -> set[str]:
    query = schema._schema.query_type
    assert query is not None
    seen: set[str] = set()
    todo = [get_named_type(query.fields[root].type)]
    while todo:
        named = todo.pop()
        if named.name in seen or not isinstance(named, GraphQLObjectType):
            continue
        seen.add(named.name)
        todo.extend(get_named_type(f.type) for f in named.fields.values())
    return seen


@pytest.mark.parametrize("root", PUBLIC_ROOTS)
def test_public_fields_cannot_reach_patron_data(root: str) -> None:
    """No path from the catalogue to a patron, loan, hold, fee or ILL request object."""
    assert not (_reachable(root) & PRIVATE_TYPES)


def _fields_taking_a_patron() -> list[str]:
    found = []
    for named in schema._schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        for name, field in named.fields.items():
            if PATRON_ARGUMENTS & set(field.args):
                found.append(f"{named.name}.{name}")
    return sorted(found)


def test_every_nested_field_that_takes_a_patron_is_known() -> None:
    """Fields below the root that name a patron are checked by the tests below."""
    nested = [f for f in _fields_taking_a_patron() if not f.startswith(("Query.", "Mutation."))]
    assert nested == ["Work.requestOptions"]


REQUEST_OPTIONS = """query($w: ID!, $card: String!) { work(id: $w) {
  requestOptions(patronCardNumber: $card) { kind rank } } }"""


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        (None, False),
        ({"kind": "patron", "card_number": "UOC-POSTGR-006"}, True),
        ({"kind": "patron", "card_number": "UOC-FACULT-001"}, False),
        ({"kind": "staff", "library": "UOC", "branch": "UOC-RET"}, True),
        ({"kind": "staff", "library": "CUT"}, False),
        ({"kind": "partner", "library": "UOC"}, False),
        ({"kind": "admin"}, True),
    ],
)
async def test_request_options_for_a_patron(
    env: Env, who: dict[str, str] | None, allowed: bool
) -> None:
    work = await env.book_held_only_by("CUT")
    token = token_for(**who) if who else None
    body = await env.call(REQUEST_OPTIONS, token, w=work, card="UOC-POSTGR-006")
    if allowed:
        assert "errors" not in body and body["data"]["work"]["requestOptions"]
    else:
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert body["data"] is None or body["data"]["work"] is None


CARD_ORACLE = (
    "an anonymous caller tells cards that exist (FORBIDDEN) from cards that do not "
    "(BAD_USER_INPUT 'no patron with card'): Work.requestOptions (services/request_item."
    "_context) should refuse a caller who may act for no patron before looking the card up"
)


async def test_anonymous_callers_cannot_tell_which_cards_exist(env: Env) -> None:
    work = await env.book_held_only_by("CUT")
    known = await env.call(REQUEST_OPTIONS, None, w=work, card="UOC-POSTGR-006")
    unknown = await env.call(REQUEST_OPTIONS, None, w=work, card="UOC-NOBODY-999")
    assert known["errors"][0]["extensions"] == unknown["errors"][0]["extensions"]
    assert known["errors"][0]["message"] == unknown["errors"][0]["message"]


async def test_anonymous_mutations_are_refused_before_any_lookup(env: Env) -> None:
    for card in ("UOC-UNDERG-003", "UOC-NOBODY-999"):
        body = await env.call(
            'mutation($c: String!) { suspendPatron(input: {patronCardNumber: $c, reason: "x"}) '
            "{ userErrors { code } } }",
            None,
            c=card,
        )
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# --- desks and libraries ----------------------------------------------------------------------


async def test_staff_never_lend_to_another_librarys_patron_even_at_their_own_desk(
    env: Env,
) -> None:
    copy = (await env.desk.copies("AEG", "AEG-MYT"))[0]
    body = await env.call(
        CHECK_OUT,
        token_for("staff", library="AEG"),
        barcode=copy.barcode,
        card="UOC-UNDERG-003",
        branch="AEG-MYT",
    )
    assert [e["code"] for e in body["data"]["checkOut"]["userErrors"]] == [
        "PATRON_OF_ANOTHER_LIBRARY"
    ]


async def test_a_partner_sees_incoming_requests_only(env: Env) -> None:
    partner = token_for("partner", library="CUT")
    queue = "query($d: IllQueueDirection!) { illQueue(direction: $d) { id } }"
    incoming = await env.call(queue, partner, d="INCOMING")
    assert "errors" not in incoming
    outgoing = await env.call(queue, partner, d="OUTGOING")
    assert outgoing["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    other = await env.call(
        queue.replace("direction: $d", 'direction: $d, library: "UOC"'), partner, d="INCOMING"
    )
    assert other["errors"][0]["extensions"]["code"] == "FORBIDDEN"


ILL_REQUEST = """mutation($work: ID!, $card: String!, $pickup: String!) {
  requestItem(input: {workId: $work, patronCardNumber: $card, pickupBranch: $pickup}) {
    illRequest { id } userErrors { code } } }"""
PROCESS = """mutation($id: ID!) { illProcess(input: {requestId: $id}) {
  illRequest { id status } userErrors { code } } }"""


async def test_an_ill_request_is_seen_by_its_parties_only(env: Env) -> None:
    work = await env.book_held_only_by("CUT")
    made = await env.ok(ILL_REQUEST, work=work, card="UOC-POSTGR-006", pickup="UOC-HER")
    rid = made["requestItem"]["illRequest"]["id"]
    node = "query($id: ID!) { node(id: $id) { id } }"

    async def sees(**who: str) -> bool:
        body = await env.call(node, token_for(**who) if who else None, id=rid)
        assert "errors" not in body, body
        return body["data"]["node"] is not None

    assert await sees(kind="patron", card_number="UOC-POSTGR-006")
    assert await sees(kind="staff", library="UOC")
    assert not await sees(kind="partner", library="CUT")  # not yet forwarded to it
    assert not await sees(kind="staff", library="CUT")
    await env.ok(PROCESS, token_for("staff", library="UOC"), id=rid)
    assert await sees(kind="partner", library="CUT")
    assert await sees(kind="staff", library="CUT")
    assert not await sees(kind="partner", library="UOC")
    assert not await sees(kind="staff", library="AEG")
    assert not await sees(kind="patron", card_number="UOC-FACULT-001")
    assert not await sees()


RECALL_LEAK = (
    "placeHold returns recalledLoan, another reader's loan (its checkout time, renewals, "
    "due date), to the patron who placed the hold: schema/mutations/place_hold.py should "
    "return it only when actor.may_see_patron(borrower), e.g. null for patrons"
)


async def test_a_patron_placing_a_hold_does_not_receive_anothers_loan(env: Env) -> None:
    copy = await env.desk.work_with_single_copy("UOC", "UOC-HER")
    await env.ok(CHECK_OUT, barcode=copy.barcode, card="UOC-FACULT-001", branch="UOC-HER")
    placed = await env.call(
        PLACE_HOLD,
        token_for("patron", card_number="UOC-UNDERG-003"),
        work=relay.to_base64("Work", copy.work_id),
        item=None,
        card="UOC-UNDERG-003",
        pickup="UOC-HER",
    )
    assert placed["data"]["placeHold"]["userErrors"] == []
    assert placed["data"]["placeHold"]["recalledLoan"] is None


# --- audit --------------------------------------------------------------------------------------


async def _events(env: Env, kind: str) -> list[Any]:
    rows = await env.store(select(Event).where(Event.kind == kind).order_by(Event.id))
    return [r[0] for r in rows]


async def test_a_checkout_records_who_when_and_before_after(env: Env) -> None:
    copy = (await env.desk.copies("UOC", "UOC-HER"))[0]
    done = await env.call(
        CHECK_OUT,
        token_for("staff", library="UOC", branch="UOC-HER"),
        barcode=copy.barcode,
        card="UOC-UNDERG-003",
        branch="UOC-HER",
    )
    loan_id = int(relay.from_base64(done["data"]["checkOut"]["loan"]["id"])[1])
    [event] = await _events(env, "loan.checked_out")
    assert (event.aggregate_type, event.aggregate_id) == ("loan", loan_id)
    assert (event.actor_kind, event.actor_ref) == ("staff", "UOC-HER")
    assert event.occurred_at == datetime.fromisoformat(MONDAY)
    assert event.recorded_at is not None
    assert event.before == {"status": "AVAILABLE"}
    assert event.after["status"] == "ON_LOAN"
    assert event.after["item_id"] == copy.id
    assert event.after["due_date"] == done["data"]["checkOut"]["loan"]["dueDate"]


async def test_every_successful_mutation_writes_an_event_naming_its_actor(env: Env) -> None:
    """Renew, pay, waive as different actors: each change is one event with its actor."""
    copy = (await env.desk.copies("UOC", "UOC-HER"))[0]
    loan = (await env.ok(CHECK_OUT, barcode=copy.barcode, card="UOC-UNDERG-003", branch="UOC-HER"))[
        "checkOut"
    ]["loan"]
    patron = token_for("patron", card_number="UOC-UNDERG-003")
    renew = "mutation($id: ID!) { renewLoan(input: {loanId: $id}) { userErrors { code } } }"
    due = datetime.fromisoformat(loan["dueDate"])
    the_day_before = f"{due.date().fromordinal(due.toordinal() - 1).isoformat()}T10:00:00+02:00"
    assert (await env.call(renew, patron, the_day_before, id=loan["id"]))["data"]["renewLoan"][
        "userErrors"
    ] == []
    fee = await env.add_fee("UOC-UNDERG-003")
    pay = (
        'mutation($id: ID!) { payFee(input: {feeId: $id, amount: "2.00"}) { userErrors { code } } }'
    )
    assert (await env.call(pay, token_for("staff", library="UOC", branch="UOC-RET"), id=fee))[
        "data"
    ]["payFee"]["userErrors"] == []
    [renewed] = await _events(env, "loan.renewed")
    assert (renewed.actor_kind, renewed.actor_ref) == ("patron", "UOC-UNDERG-003")
    assert renewed.before and renewed.after and renewed.before != renewed.after
    [paid] = await _events(env, "fee.paid")
    assert (paid.actor_kind, paid.actor_ref) == ("staff", "UOC-RET")
    assert paid.before == {"paid": "0.00", "status": "OPEN"}
    assert paid.after == {"paid": "2.00", "status": "OPEN"}
