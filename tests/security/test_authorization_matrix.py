"""Who may do what: every Query and Mutation field of the live schema x every kind of caller.

``RULES`` says, for each root field, which callers are allowed; everyone else must be
refused.  The cases are generated from the schema itself, so a new root field without a
rule fails ``test_every_root_field_has_a_rule`` ("new mutation without an authorization
rule"), and a rule without a scenario fails too.

Allowed means the call did what was asked (no error, no user error; for node lookups every
object came back).  Refused means, per field:

* ``top``  — a top-level ``FORBIDDEN`` or ``UNAUTHENTICATED`` error;
* ``user`` — a top-level refusal, or ``userErrors[0].code`` among the field's refusal codes
  (``FORBIDDEN``; the ILL steps also answer ``ILL_INVALID_TRANSITION`` to a caller who may
  see the request but not take that step); a refused call must leave the store unchanged;
* ``null`` — every private object asked for by ``node(id:)`` resolves to null.

Each case runs on its own copy of the demo consortium (loaded once per module).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from strawberry import relay

from kallimachos.api.settings import Settings
from kallimachos.schema import schema
from tests.e2e.circulation_support import (
    CANCEL_HOLD,
    CHECK_IN,
    CHECK_OUT,
    PLACE_HOLD,
    RENEW,
    build_template,
)
from tests.security.support import (
    AEG,
    CUT_SUPPLYING,
    MONDAY,
    UOC,
    UOC_PG,
    Env,
    Home,
    Who,
    at,
    fresh_env,
)

# --- the rules ------------------------------------------------------------------------------

PUBLIC = frozenset(Who)
PATRON_DATA = frozenset(
    {Who.PATRON_SELF, Who.STAFF_OWN, Who.STAFF_DESK, Who.STAFF_OTHER_BRANCH, Who.ADMIN}
)
"""Who may see a patron and their loans, holds and fees (Actor.may_see_patron)."""
DESK = frozenset({Who.STAFF_OWN, Who.STAFF_DESK, Who.ADMIN})
"""Who may work a given branch desk: the library's staff, at that branch if the token says."""
FOR_PATRON = PATRON_DATA
"""Who may act for a patron: themself, their library's staff (any branch), admins."""
LIBRARY_STAFF = frozenset({Who.STAFF_OWN, Who.STAFF_DESK, Who.STAFF_OTHER_BRANCH, Who.ADMIN})
SUPPLYING = frozenset(
    {Who.STAFF_OWN, Who.STAFF_DESK, Who.STAFF_OTHER_BRANCH, Who.PARTNER, Who.ADMIN}
)
"""The supplying library of an ILL request: its staff or its partner account, admins."""


@dataclass(frozen=True)
class Rule:
    allowed: frozenset[Who]
    refused_by: str  # "public" | "top" | "user" | "null"
    why: str
    refusal_codes: frozenset[str] = frozenset({"FORBIDDEN"})


ILL_STEP_REFUSALS = frozenset({"FORBIDDEN", "ILL_INVALID_TRANSITION"})

RULES: dict[str, Rule] = {
    # --- Query ---
    "businessTime": Rule(PUBLIC, "public", "the request's own business time"),
    "libraries": Rule(PUBLIC, "public", "the consortium's libraries are public"),
    "search": Rule(PUBLIC, "public", "the catalogue is public (no patron data in it)"),
    "work": Rule(PUBLIC, "public", "the catalogue is public (no patron data in it)"),
    "node": Rule(PATRON_DATA, "null", "a patron's record, loans, holds, fees: may_see_patron"),
    "patron": Rule(PATRON_DATA, "top", "the patron themself, their library's staff, admins"),
    "illQueue": Rule(SUPPLYING, "top", "a library's queue: its staff; INCOMING also its partner"),
    # --- Mutation: circulation ---
    "checkOut": Rule(DESK, "user", "the owning library's desk, at the token's branch"),
    "checkIn": Rule(DESK, "user", "the owning library's desk, at the token's branch"),
    "renewLoan": Rule(FOR_PATRON, "user", "the borrower or their library's staff"),
    "placeHold": Rule(FOR_PATRON, "user", "the patron or their library's staff"),
    "cancelHold": Rule(FOR_PATRON, "user", "the patron or their library's staff"),
    "payFee": Rule(LIBRARY_STAFF, "user", "the library's staff take payments"),
    "waiveFee": Rule(LIBRARY_STAFF, "user", "the library's staff waive, with a reason"),
    "suspendPatron": Rule(LIBRARY_STAFF, "user", "AEG-8: the patron's library's staff"),
    "chargeSecurityGateFine": Rule(LIBRARY_STAFF, "user", "AEG-8: the library's staff"),
    "declareItemLost": Rule(LIBRARY_STAFF, "user", "AEG-8: the owning library's staff"),
    # --- Mutation: interlibrary loan ---
    "requestItem": Rule(FOR_PATRON, "user", "CONS-2: the patron or their library's staff"),
    "illProcess": Rule(
        LIBRARY_STAFF, "user", "the requesting library's staff forward it", ILL_STEP_REFUSALS
    ),
    "illSupplyingAction": Rule(
        SUPPLYING, "user", "the supplier's staff or partner account", ILL_STEP_REFUSALS
    ),
    "illRequestingAction": Rule(
        FOR_PATRON, "user", "CANCEL before processing: the patron or their staff", ILL_STEP_REFUSALS
    ),
    # --- notifications ---
    "registerWebhook": Rule(SUPPLYING, "user", "a library's staff or partner token, for itself"),
    "webhookDeliveries": Rule(SUPPLYING, "top", "a library's webhook log: its staff or partner"),
    "notificationDeliveries": Rule(LIBRARY_STAFF, "top", "delivery state: the library's staff"),
}
OPTIONAL = frozenset(
    {
        "illQueue",
        "requestItem",
        "illProcess",
        "illSupplyingAction",
        "illRequestingAction",
    }
)
"""Rules for fields still being built: checked when the schema has them, else skipped."""

_ADMIN_ILL = (
    "admins may do everything (issue 6), but ill_states.roles_of gives an admin only the "
    "SYSTEM role, so staff and supplier steps answer ILL_INVALID_TRANSITION: give "
    "ActorKind.ADMIN the requesting-staff and supplier roles too"
)
KNOWN_GAPS: dict[tuple[str, Who], str] = {}
"""Cells where the code does not yet follow the rule: each an xfail (strict) naming the fix;
when the code is fixed the xfail passes unexpectedly and the entry must go."""


# --- the scenarios --------------------------------------------------------------------------

PATRON_Q = """query($card: String!) { patron(cardNumber: $card) {
  cardNumber name email loans { id dueDate } holds { id } fees { id } } }"""
NODES_Q = """query($p: ID!, $l: ID!, $f: ID!, $h: ID!) {
  p: node(id: $p) { id } l: node(id: $l) { id } f: node(id: $f) { id } h: node(id: $h) { id } }"""
SEARCH_Q = """{ search(query: "jazz", first: 5) { totalCount edges { node { title
  holdings { library { code } items { barcode status dueDate } } } } } }"""
WORK_Q = "query($id: ID!) { work(id: $id) { title holdings { items { status dueDate } } } }"
ILL_QUEUE_Q = """query($lib: String) { illQueue(direction: INCOMING, library: $lib) {
  id status } }"""
PAY = """mutation($id: ID!) { payFee(input: {feeId: $id, amount: "1.00"}) {
  fee { id paid { amount } } userErrors { code message } } }"""
WAIVE = """mutation($id: ID!) { waiveFee(input: {feeId: $id, reason: "security suite"}) {
  fee { id status } userErrors { code message } } }"""
SUSPEND = """mutation($card: String!) { suspendPatron(input: {patronCardNumber: $card,
  reason: "security suite"}) { patron { suspendedUntil } userErrors { code message } } }"""
GATE = """mutation($card: String!) { chargeSecurityGateFine(input: {patronCardNumber: $card,
  reason: "security suite"}) { fees { id } userErrors { code message } } }"""
LOST = """mutation($id: ID!) { declareItemLost(input: {loanId: $id}) {
  fees { id } userErrors { code message } } }"""
REQUEST = """mutation($work: ID!, $card: String!, $pickup: String!) {
  requestItem(input: {workId: $work, patronCardNumber: $card, pickupBranch: $pickup}) {
    outcome illRequest { id status } userErrors { code message } } }"""
PROCESS = """mutation($id: ID!) { illProcess(input: {requestId: $id}) {
  illRequest { id status } userErrors { code message } } }"""
SUPPLY = """mutation($id: ID!) { illSupplyingAction(input: {requestId: $id, status: WILL_SUPPLY}) {
  illRequest { id status } userErrors { code message } } }"""
CANCEL_ILL = """mutation($id: ID!) { illRequestingAction(input: {requestId: $id, action: CANCEL,
  reason: "details_incomplete_unreachable"}) { illRequest { id status } userErrors { code message } } }"""

Attempt = Callable[[Env, Home, str | None], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Scenario:
    home: Home
    attempt: Attempt


async def _loan(env: Env, home: Home, card: str | None = None) -> tuple[Any, dict[str, Any]]:
    copy = (await env.desk.copies(home.library, home.desk))[0]
    done = (
        await env.ok(CHECK_OUT, barcode=copy.barcode, card=card or home.patron, branch=home.desk)
    )["checkOut"]
    assert done["userErrors"] == [], done
    return copy, done["loan"]


async def _hold(env: Env, home: Home) -> str:
    copy = await env.desk.work_with_single_copy(home.library, home.desk)
    await env.ok(CHECK_OUT, barcode=copy.barcode, card=home.other_patron, branch=home.desk)
    work = relay.to_base64("Work", copy.work_id)
    placed = (await env.ok(PLACE_HOLD, work=work, item=None, card=home.patron, pickup=home.desk))[
        "placeHold"
    ]
    assert placed["userErrors"] == [], placed
    return str(placed["hold"]["id"])


async def _ill_request(env: Env, home: Home) -> str:
    work = await env.book_held_only_by("CUT")
    made = (await env.ok(REQUEST, work=work, card=home.patron, pickup="UOC-HER"))["requestItem"]
    assert made["outcome"] == "INTERLIBRARY_LOAN", made
    return str(made["illRequest"]["id"])


async def attempt_business_time(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    return await env.call("{ businessTime }", token)


async def attempt_libraries(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    return await env.call("{ libraries { code branches { code } } }", token)


async def attempt_search(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    return await env.call(SEARCH_Q, token)


async def attempt_work(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    copy = (await env.desk.copies(home.library, home.desk))[0]
    return await env.call(WORK_Q, token, id=relay.to_base64("Work", copy.work_id))


async def attempt_patron(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    await _loan(env, home)
    return await env.call(PATRON_Q, token, card=home.patron)


async def attempt_node(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    _, loan = await _loan(env, home)
    hold = await _hold(env, home)
    fee = await env.add_fee(home.patron)
    patron = (
        await env.ok(PATRON_Q.replace("cardNumber name", "id cardNumber name"), card=home.patron)
    )["patron"]["id"]
    return await env.call(NODES_Q, token, p=patron, l=loan["id"], f=fee, h=hold)


async def attempt_check_out(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    copy = (await env.desk.copies(home.library, home.desk))[0]
    return await env.call(
        CHECK_OUT, token, barcode=copy.barcode, card=home.patron, branch=home.desk
    )


async def attempt_check_in(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    copy, _ = await _loan(env, home)
    return await env.call(CHECK_IN, token, barcode=copy.barcode, branch=home.desk, damaged=False)


async def attempt_renew(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    _, loan = await _loan(env, home)
    the_day_before = at(date.fromisoformat(loan["dueDate"]) - timedelta(days=1))
    return await env.call(RENEW, token, the_day_before, id=loan["id"])


async def attempt_place_hold(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    copy = await env.desk.work_with_single_copy(home.library, home.desk)
    await env.ok(CHECK_OUT, barcode=copy.barcode, card=home.other_patron, branch=home.desk)
    work = relay.to_base64("Work", copy.work_id)
    return await env.call(
        PLACE_HOLD, token, work=work, item=None, card=home.patron, pickup=home.desk
    )


async def attempt_cancel_hold(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    hold = await _hold(env, home)
    return await env.call(CANCEL_HOLD, token, id=hold)


async def attempt_pay_fee(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    return await env.call(PAY, token, id=await env.add_fee(home.patron))


async def attempt_waive_fee(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    return await env.call(WAIVE, token, id=await env.add_fee(home.patron))


async def attempt_suspend(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    return await env.call(SUSPEND, token, card=home.patron)


async def attempt_gate_fine(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    return await env.call(GATE, token, card=home.patron)


async def attempt_lost(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    _, loan = await _loan(env, home)
    return await env.call(LOST, token, id=loan["id"])


async def attempt_request_item(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    work = await env.book_held_only_by("CUT")
    return await env.call(REQUEST, token, work=work, card=home.patron, pickup=home.desk)


async def attempt_ill_process(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    return await env.call(PROCESS, token, id=await _ill_request(env, home))


async def attempt_ill_supplying(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    rid = await _ill_request(env, UOC_PG)
    from tests.conftest import token_for

    await env.ok(PROCESS, token_for("staff", library="UOC"), id=rid)
    return await env.call(SUPPLY, token, id=rid)


async def attempt_ill_requesting(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    return await env.call(CANCEL_ILL, token, id=await _ill_request(env, home))


async def attempt_ill_queue(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    rid = await _ill_request(env, UOC_PG)
    from tests.conftest import token_for

    await env.ok(PROCESS, token_for("staff", library="UOC"), id=rid)
    return await env.call(ILL_QUEUE_Q, token, lib=home.library)


REGISTER_WEBHOOK = """mutation($lib: String) { registerWebhook(input: {library: $lib,
  url: "https://partner.example.org/hooks", secret: "a-long-enough-shared-secret-0123456789"}) {
  userErrors { code } } }"""
WEBHOOK_LOG_Q = """query($lib: String) { webhookDeliveries(library: $lib) { status } }"""
DELIVERIES_Q = """query($lib: String) { notificationDeliveries(library: $lib) { status } }"""


async def attempt_register_webhook(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    return await env.call(REGISTER_WEBHOOK, token, lib=home.library)


async def attempt_webhook_log(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    return await env.call(WEBHOOK_LOG_Q, token, lib=home.library)


async def attempt_deliveries(env: Env, home: Home, token: str | None) -> dict[str, Any]:
    return await env.call(DELIVERIES_Q, token, lib=home.library)


SCENARIOS: dict[str, Scenario] = {
    "businessTime": Scenario(UOC, attempt_business_time),
    "libraries": Scenario(UOC, attempt_libraries),
    "search": Scenario(UOC, attempt_search),
    "work": Scenario(UOC, attempt_work),
    "node": Scenario(UOC, attempt_node),
    "patron": Scenario(UOC, attempt_patron),
    "illQueue": Scenario(CUT_SUPPLYING, attempt_ill_queue),
    "checkOut": Scenario(UOC, attempt_check_out),
    "checkIn": Scenario(UOC, attempt_check_in),
    "renewLoan": Scenario(UOC, attempt_renew),
    "placeHold": Scenario(UOC, attempt_place_hold),
    "cancelHold": Scenario(UOC, attempt_cancel_hold),
    "payFee": Scenario(UOC, attempt_pay_fee),
    "waiveFee": Scenario(UOC, attempt_waive_fee),
    "suspendPatron": Scenario(AEG, attempt_suspend),
    "chargeSecurityGateFine": Scenario(AEG, attempt_gate_fine),
    "declareItemLost": Scenario(AEG, attempt_lost),
    "requestItem": Scenario(UOC_PG, attempt_request_item),
    "illProcess": Scenario(UOC_PG, attempt_ill_process),
    "illSupplyingAction": Scenario(CUT_SUPPLYING, attempt_ill_supplying),
    "illRequestingAction": Scenario(UOC_PG, attempt_ill_requesting),
    "registerWebhook": Scenario(CUT_SUPPLYING, attempt_register_webhook),
    "webhookDeliveries": Scenario(CUT_SUPPLYING, attempt_webhook_log),
    "notificationDeliveries": Scenario(UOC, attempt_deliveries),
}


# --- the schema's own list of fields ----------------------------------------------------------


def root_fields() -> dict[str, str]:
    """Every field of Query and Mutation in the live schema: name -> 'Query' | 'Mutation'."""
    graphql_schema = schema._schema
    fields = {name: "Query" for name in graphql_schema.query_type.fields}  # type: ignore[union-attr]
    if graphql_schema.mutation_type is not None:
        fields.update({name: "Mutation" for name in graphql_schema.mutation_type.fields})
    return fields


def cases() -> list[Any]:
    found = []
    for name in sorted(root_fields()):
        if name not in RULES or name not in SCENARIOS:
            continue  # test_every_root_field_has_a_rule fails for it
        for who in SCENARIOS[name].home.callers():
            marks = []
            if (name, who) in KNOWN_GAPS:
                marks.append(pytest.mark.xfail(reason=KNOWN_GAPS[(name, who)], strict=True))
            found.append(pytest.param(name, who, id=f"{name}-{who.value}", marks=marks))
    return found


def test_every_root_field_has_a_rule() -> None:
    fields = root_fields()
    missing = sorted(set(fields) - set(RULES))
    assert not missing, f"new root field(s) without an authorization rule: {missing}"
    without_scenario = sorted(set(fields) - set(SCENARIOS))
    assert not without_scenario, f"rule(s) without a scenario to prove them: {without_scenario}"
    stale = sorted(set(RULES) - set(fields) - OPTIONAL)
    assert not stale, f"rules for fields the schema no longer has: {stale}"


def test_no_mutation_edits_the_event_history() -> None:
    """The audit trail is append-only: no mutation is about events (ADR 0003)."""
    mutations = [n for n, kind in root_fields().items() if kind == "Mutation"]
    assert not [n for n in mutations if "event" in n.lower() or "history" in n.lower()]
    assert not [n for n in mutations if n.lower().startswith(("delete", "update", "edit"))]


# --- the matrix -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_template(tmp_path_factory.mktemp("authorization-template"))


@pytest.fixture
async def env(template: Settings, tmp_path: Path) -> AsyncIterator[Env]:
    async with fresh_env(template, tmp_path) as environment:
        yield environment


REFUSED_AT_TOP = frozenset({"FORBIDDEN", "UNAUTHENTICATED"})


def judge(field: str, rule: Rule, body: dict[str, Any]) -> str:
    """'allowed', 'refused', or a description of anything else (which always fails)."""
    errors = body.get("errors") or []
    codes = [e.get("extensions", {}).get("code") for e in errors]
    data = body.get("data") or {}
    if rule.refused_by in ("public", "top"):
        if not errors and data.get(field) is not None:
            return "allowed"
        if rule.refused_by == "top" and codes and codes[0] in REFUSED_AT_TOP:
            return "refused"
        return f"unexpected: {body}"
    if rule.refused_by == "null":
        if errors:
            return f"unexpected: {body}"
        values = list(data.values())
        if values and all(v is not None for v in values):
            return "allowed"
        if values and all(v is None for v in values):
            return "refused"
        return f"some objects visible, some not: {data}"
    # "user"
    if codes and codes[0] in REFUSED_AT_TOP:
        return "refused"
    if errors:
        return f"unexpected: {body}"
    problems = data[field]["userErrors"]
    if not problems:
        return "allowed"
    if problems[0]["code"] in rule.refusal_codes:
        return "refused"
    return f"allowed past authorization but did not succeed: {problems}"


@pytest.mark.parametrize(("field", "who"), cases())
async def test_authorization(env: Env, field: str, who: Who) -> None:
    rule, scenario = RULES[field], SCENARIOS[field]
    expected = "allowed" if who in rule.allowed else "refused"
    before: dict[str, int] | None = None
    if expected == "refused" and rule.refused_by == "user":
        # the scenario's own setup runs first; count what a refused attempt may not touch
        original = scenario.attempt

        async def counted(e: Env, h: Home, t: str | None) -> dict[str, Any]:
            nonlocal before
            call = e.call

            async def spy(query: str, token: str | None, now: str = MONDAY, **v: Any) -> Any:
                nonlocal before
                if token == t and query.lstrip().startswith("mutation"):
                    before = await e.counts()
                return await call(query, token, now, **v)

            e.call = spy  # type: ignore[method-assign]
            try:
                return await original(e, h, t)
            finally:
                e.call = call  # type: ignore[method-assign]

        body = await counted(env, scenario.home, scenario.home.token(who))
    else:
        body = await scenario.attempt(env, scenario.home, scenario.home.token(who))
    outcome = judge(field, rule, body)
    assert outcome == expected, f"{field} as {who.value}: expected {expected}, got {outcome}"
    if before is not None:
        assert await env.counts() == before, "a refused change wrote to the store"
