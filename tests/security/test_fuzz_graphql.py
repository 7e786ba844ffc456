"""Generated queries and mutations, valid and invalid, through the real ASGI app.

``hypothesis-graphql`` builds operations from the live schema; each is sent over HTTP as
anonymous, a patron, staff and an admin.  Whatever the operation, the answer is never a
5xx and never an ``INTERNAL_SERVER_ERROR`` (an unexpected exception in a resolver): every
refusal is a client error with a code.  Derandomised, bounded: a fixed set of examples
runs in well under a minute.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLObjectType, print_schema
from httpx import ASGITransport, AsyncClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, mutations, queries

from kallimachos.api.app import create_app
from kallimachos.api.settings import Settings
from kallimachos.schema import schema
from tests.conftest import token_for
from tests.e2e.circulation_support import build_template, copy_template

SDL = print_schema(schema._schema)
CALLERS = {
    "anonymous": None,
    "patron": token_for("patron", card_number="UOC-UNDERG-003"),
    "staff": token_for("staff", library="UOC", branch="UOC-HER"),
    "partner": token_for("partner", library="CUT"),
    "admin": token_for("admin"),
}
FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


class Served:
    """One app and client on one event loop, driven from hypothesis's synchronous examples."""

    def __init__(self, settings_: Settings) -> None:
        self.runner = asyncio.Runner()
        self.stack = AsyncExitStack()
        self.settings = settings_
        self.http: AsyncClient | None = None

    def __enter__(self) -> Served:
        async def start() -> AsyncClient:
            app = create_app(self.settings, drain_outbox=False)
            await self.stack.enter_async_context(app.router.lifespan_context(app))
            return await self.stack.enter_async_context(
                AsyncClient(transport=ASGITransport(app=app), base_url="http://fuzz")
            )

        self.http = self.runner.run(start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.runner.run(self.stack.aclose())
        self.runner.close()

    def post(self, query: str, caller: str) -> tuple[int, Any]:
        async def send() -> tuple[int, Any]:
            assert self.http is not None
            token = CALLERS[caller]
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            headers["X-Kallimachos-Now"] = "2026-11-23T10:00:00+02:00"
            response = await self.http.post("/graphql", json={"query": query}, headers=headers)
            try:
                return response.status_code, response.json()
            except ValueError:
                return response.status_code, response.text

        return self.runner.run(send())


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_template(tmp_path_factory.mktemp("fuzz-template"))


@pytest.fixture
def served(template: Settings, tmp_path: Path) -> Iterator[Served]:
    with Served(copy_template(template, tmp_path)) as running:
        yield running


def check(status: int, body: Any, query: str) -> None:
    assert status < 500, f"{status} for {query!r}: {body!r}"
    if status != 200:
        assert status in (400, 401, 403, 413), (status, query, body)
        return
    assert isinstance(body, dict), body
    for error in body.get("errors") or []:
        code = error.get("extensions", {}).get("code")
        assert code, f"an error without a code for {query!r}: {error}"
        assert code != "INTERNAL_SERVER_ERROR", f"unexpected exception for {query!r}: {error}"


@FUZZ
@given(query=queries(SDL), caller=st.sampled_from(sorted(CALLERS)))
def test_generated_queries_never_fail_the_server(served: Served, query: str, caller: str) -> None:
    check(*served.post(query, caller), query)


@FUZZ
@given(mutation=mutations(SDL), caller=st.sampled_from(sorted(CALLERS)))
def test_generated_mutations_never_fail_the_server(
    served: Served, mutation: str, caller: str
) -> None:
    check(*served.post(mutation, caller), mutation)


@FUZZ
@given(
    operation=from_schema(SDL, mode=Mode.NEGATIVE),
    caller=st.sampled_from(["anonymous", "staff"]),
)
def test_operations_that_break_the_schema_are_refused_cleanly(
    served: Served, operation: str, caller: str
) -> None:
    status, body = served.post(operation, caller)
    check(status, body, operation)
    if status == 200:
        assert body.get("errors"), f"an invalid operation was executed: {operation!r}"


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(raw=st.binary(max_size=2048) | st.text(max_size=512).map(str.encode))
def test_arbitrary_request_bodies_are_client_errors(served: Served, raw: bytes) -> None:
    async def send() -> int:
        assert served.http is not None
        response = await served.http.post(
            "/graphql", content=raw, headers={"content-type": "application/json"}
        )
        return response.status_code

    assert served.runner.run(send()) < 500


NODE_ID_PARSING = (
    "resolve_nodes of Patron, Loan, Hold, Fee, Item, Work, Library, Branch and IllRequest "
    "call int() on the id part of a global ID: node(id: base64('Loan:abc')) or a number "
    "beyond 64 bits is an internal error; parse ids once (ASCII digits, at most 2**63-1) "
    "and resolve anything else to null"
)
NODE_TYPES = sorted(
    name
    for name, named in schema._schema.type_map.items()
    if isinstance(named, GraphQLObjectType) and any(i.name == "Node" for i in named.interfaces)
)


@FUZZ
@given(
    kind=st.sampled_from([*NODE_TYPES, "Nope", ""]),
    raw=st.text(max_size=30) | st.integers(-(2**70), 2**70).map(str),
    caller=st.sampled_from(["anonymous", "admin"]),
)
def test_node_ids_of_every_type_are_looked_up_safely(
    served: Served, kind: str, raw: str, caller: str
) -> None:
    from strawberry import relay

    query = f'{{ node(id: "{relay.to_base64(kind, raw)}") {{ id }} }}'
    check(*served.post(query, caller), query)
