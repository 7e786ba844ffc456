"""Hostile requests: too deep, too many aliases or tokens, too costly, too big; clear codes."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from graphql import TypeInfo, ValidationContext, get_introspection_query, parse
from httpx import AsyncClient

from kallimachos.api.graphql_view import MAX_BODY_BYTES
from kallimachos.domain.actors import ANONYMOUS
from kallimachos.schema import MAX_ALIASES, MAX_DEPTH, QueryLimits, limits, schema
from kallimachos.schema.limits import MAX_NODES, CostLimitRule
from tests.conftest import gql, token_for

README_QUERIES = [
    '{ search(query: "ΑΓΟΡΑ ΜΕΣΟΓΕΙΟ") { totalCount edges { node { title alternateTitles '
    "holdings { library { code } loanableCount availableCount } } } } }",
    '{ search(query: "978-960-88387-6-5") { edges { node { title isbns holdings { library '
    "{ code } items { barcode status loanable branch { code } dueDate } } } } } }",
    '{ search(query: "jazz", filter: { libraries: ["UOC", "AEG"], availableOnly: true }, '
    "first: 5) { totalCount facets { field values { value count } } edges { node { title "
    "publicationYear } } } }",
]
FULL_PAGE = (
    "query($q: String, $n: Int!) { search(query: $q, first: $n) { totalCount "
    "facets { field values { value count } } pageInfo { endCursor hasNextPage } "
    "edges { cursor node { id title authors holdings { library { code name } loanableCount "
    "items { barcode status loanable dueDate holdQueueLength branch { code } } } "
    "records { controlNumber library { code } } } } } }"
)


def cost(query: str) -> int:
    document = parse(query)
    graphql_schema = schema._schema
    context = ValidationContext(graphql_schema, document, TypeInfo(graphql_schema), lambda e: None)
    rule = CostLimitRule(context)
    operations = [d for d in document.definitions if d.kind == "operation_definition"]
    return sum(rule.cost_of(o) for o in operations)  # type: ignore[arg-type,misc]


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


# --- the cost (node count) rule -----------------------------------------------------------------


@pytest.mark.parametrize("query", README_QUERIES)
def test_the_documented_queries_are_well_within_the_budget(query: str) -> None:
    assert cost(query) < MAX_NODES / 5


def test_a_full_page_of_100_with_holdings_and_items_is_allowed() -> None:
    assert 10_000 < cost(FULL_PAGE) < MAX_NODES


def test_costs_multiply_down_the_tree() -> None:
    assert cost("{ businessTime }") == 0
    assert cost("{ libraries { code } }") == 12
    assert cost("{ libraries { branches { code } } }") == 12 * (1 + 10)
    one = cost('{ search(query: "x", first: 1) { edges { node { title } } } }')
    fifty = cost('{ search(query: "x", first: 50) { edges { node { title } } } }')
    assert (one, fifty) == (1 + 1 * 2, 1 + 50 * 2)
    # a variable counts as the largest page; a literal out of range as the nearest bound
    assert cost("query($n: Int!) { search(first: $n) { edges { node { title } } } }") == 201
    assert cost("{ search(first: 100000) { edges { node { title } } } }") == 201
    assert cost("{ search(first: -5) { edges { node { title } } } }") == 3
    assert cost("{ search { edges { node { title } } } }") == 1 + 20 * 2  # the default, 20


def test_fragments_and_inline_fragments_count_like_fields() -> None:
    plain = cost("{ libraries { branches { library { code } } } }")
    spread = cost(
        "{ libraries { ...B } } fragment B on Library { branches { ... on Branch { library "
        "{ code } } } }"
    )
    assert plain == spread


def test_introspection_is_allowed_and_free() -> None:
    assert cost(get_introspection_query()) == 0


async def test_an_expensive_query_is_refused_before_anything_runs(client: AsyncClient) -> None:
    page = (
        "edges { node { holdings { library { code } items { barcode branch { code } } } "
        "records { library { code } } } }"
    )
    aliases = " ".join(f"a{i}: search(first: 100) {{ {page} }}" for i in range(3))
    body = await gql(client, f"{{ {aliases} }}")
    assert body["data"] is None
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "the limit is 50,000" in body["errors"][0]["message"]  # type: ignore[index]
    assert body["errors"][0]["extensions"]["cost"] > MAX_NODES  # type: ignore[index]


async def test_nested_lists_are_refused_even_within_the_depth_limit(client: AsyncClient) -> None:
    nested = "{ libraries { branches { library { branches { library { branches { library { branches { code } } } } } } } } }"
    assert cost(nested) > MAX_NODES
    assert codes(await gql(client, nested)) == ["QUERY_TOO_COMPLEX"]


async def test_exponential_fragments_are_costed_quickly(client: AsyncClient) -> None:
    fragments = ["fragment F0 on Library { code branches { code } }"]
    for n in range(1, 25):
        fragments.append(
            f"fragment F{n} on Library {{ a: branches {{ library {{ ...F{n - 1} }} }} }}"
        )
    query = "{ libraries { ...F24 } } " + " ".join(fragments)
    started = time.perf_counter()
    body = await gql(client, query)
    assert time.perf_counter() - started < 2
    assert "QUERY_TOO_COMPLEX" in codes(body) or "QUERY_TOO_DEEP" in codes(body)


async def test_fragment_cycles_are_reported_not_looped(client: AsyncClient) -> None:
    body = await gql(
        client,
        "{ libraries { ...A } } fragment A on Library { branches { library { ...A } } }",
    )
    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]


# --- the validation cache still hits with the cost rule ---------------------------------------


async def test_the_validation_cache_still_hits_with_the_cost_rule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rules are built once at import, so strawberry's ValidationCache keys repeat.

    Counts how often the cost rule runs for the same document executed many times (it runs
    once: every later request is a cache hit), and measures the time per request.
    """
    built: list[int] = []
    original = CostLimitRule.__init__

    def counting(self: CostLimitRule, context: Any) -> None:
        built.append(1)
        original(self, context)

    monkeypatch.setattr(CostLimitRule, "__init__", counting)
    assert QueryLimits().validation_rules is QueryLimits().validation_rules
    context = SimpleNamespace(now=datetime.now(UTC), actor=ANONYMOUS)
    body = "{ businessTime ...F a: businessTime } fragment F on Query { b: businessTime }"
    query = f"query Bench {body}"
    await schema.execute(query, context_value=context)  # the first request validates
    assert built == [1]
    rounds = 300
    started = time.perf_counter()
    for _ in range(rounds):
        result = await schema.execute(query, context_value=context)
        assert result.errors is None
    cached = (time.perf_counter() - started) / rounds * 1e6
    assert built == [1], "the cost rule ran again: the validation cache missed"
    # a fresh document text each time: parse and validate every request
    started = time.perf_counter()
    for n in range(rounds):
        await schema.execute(f"query Bench{n} {body}", context_value=context)
    uncached = (time.perf_counter() - started) / rounds * 1e6
    assert len(built) == 1 + rounds
    print(
        f"\nvalidation with the cost rule: cache hit {cached:.0f} us/request, "
        f"miss (parse + validate) {uncached:.0f} us/request"
    )
    assert cached < uncached


# --- depth, aliases, tokens, page sizes -------------------------------------------------------


async def test_depth_aliases_and_tokens_have_their_own_codes(client: AsyncClient) -> None:
    deep = "code"
    for _ in range(MAX_DEPTH):
        deep = f"branches {{ library {{ {deep} }} }}"
    assert "QUERY_TOO_DEEP" in codes(await gql(client, f"{{ libraries {{ {deep} }} }}"))
    many = " ".join(f"a{i}: businessTime" for i in range(MAX_ALIASES + 1))
    assert codes(await gql(client, f"{{ {many} }}")) == ["TOO_MANY_ALIASES"]
    long = "{ " + " ".join("businessTime" for _ in range(6000)) + " }"
    assert codes(await gql(client, long)) == ["TOO_MANY_TOKENS"]
    assert codes(await gql(client, "{ libraries { ")) == ["GRAPHQL_PARSE_FAILED"]
    assert codes(await gql(client, "{ nope }")) == ["GRAPHQL_VALIDATION_FAILED"]
    body = await gql(client, "query($n: Int!) { search(first: $n) { totalCount } }", {"n": "x"})
    assert codes(body) == ["BAD_USER_INPUT"]


async def test_documents_nested_past_the_parser_limit_are_refused(client: AsyncClient) -> None:
    query = "{ libraries " + "{ branches { library " * 200 + "{ code }" + " } }" * 200 + " }"
    body = await gql(client, query)
    assert body["_status"] == 200
    assert codes(body) == ["GRAPHQL_PARSE_FAILED"]


@pytest.mark.parametrize("first", [0, -1, 101, 2**31 - 1])
async def test_page_sizes_are_1_to_100(client: AsyncClient, first: int) -> None:
    body = await gql(client, "query($n: Int!) { search(first: $n) { totalCount } }", {"n": first})
    assert codes(body) == ["BAD_USER_INPUT"]
    queue = await gql(
        client,
        "query($n: Int!) { illQueue(direction: INCOMING, first: $n) { id } }",
        {"n": first},
        token=token_for("staff", library="UOC"),
    )
    assert codes(queue) == ["BAD_USER_INPUT"]


async def test_introspection_is_allowed(client: AsyncClient) -> None:
    body = await gql(client, get_introspection_query())
    assert "errors" not in body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"  # type: ignore[index]


# --- request size -----------------------------------------------------------------------------


def _big_query(size: int) -> bytes:
    padding = "#" + "x" * size + "\n"
    return b'{"query": "' + padding.replace("\n", "\\n").encode() + b'{ businessTime }"}'


async def test_a_declared_oversized_body_is_refused(client: AsyncClient) -> None:
    response = await client.post(
        "/graphql", content=_big_query(MAX_BODY_BYTES), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"


async def _chunks(body: bytes, size: int = 8192) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_a_streamed_body_without_content_length_is_capped(client: AsyncClient) -> None:
    body = _big_query(MAX_BODY_BYTES)
    response = await client.post(
        "/graphql", content=_chunks(body), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"


async def test_a_streamed_body_under_the_cap_is_served(client: AsyncClient) -> None:
    body = _big_query(MAX_BODY_BYTES // 2)
    response = await client.post(
        "/graphql", content=_chunks(body), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    assert "businessTime" in response.json()["data"]


@pytest.mark.parametrize("length", ["-1", "abc", "1e9", str(MAX_BODY_BYTES + 1)])
async def test_a_bad_or_large_content_length_is_refused(client: AsyncClient, length: str) -> None:
    response = await client.post(
        "/graphql",
        content=b'{"query": "{ businessTime }"}',
        headers={"content-type": "application/json", "content-length": length},
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"[]",
        b"[1, 2]",
        b"null",
        b'"x"',
        b'{"query": 5}',
        b'{"query": null}',
        b'{"query": "{ businessTime }", "variables": 7}',
        b"\xff\xfe\x00",
        b'{"query": "{ businessTime }", "operationName": ["a"]}',
    ],
)
async def test_malformed_bodies_are_client_errors(client: AsyncClient, raw: bytes) -> None:
    response = await client.post(
        "/graphql", content=raw, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500 or (
        response.status_code == 200 and response.json()["data"] is None
    )


async def test_queries_via_get_are_not_served(client: AsyncClient) -> None:
    response = await client.get("/graphql", params={"query": "{ businessTime }"})
    assert response.status_code in (400, 405) or "graphiql" in response.text.lower()


def test_limits_are_module_constants() -> None:
    assert (limits.MAX_NODES, limits.MAX_PAGE) == (50_000, 100)
