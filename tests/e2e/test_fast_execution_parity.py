"""The real schema answers the same through compiled plans as through graphql-core alone.

The demo consortium gets a loan and a hold first, so pages carry due dates, queue lengths
and items out on loan.  Each query then runs three ways against the same database: the
ordinary executor; plans with a cold library directory (every plan falls back at first);
plans with a warm one.  Data and errors must be identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from kallimachos.api.app import create_app
from kallimachos.api.settings import Settings
from kallimachos.domain.actors import ANONYMOUS, Actor, ActorKind
from kallimachos.domain.clock import parse_business_time
from kallimachos.schema import schema
from kallimachos.schema.context import Context, Services
from kallimachos.schema.directory import Directory
from kallimachos.schema.fast_execution import FastExecutionContext
from kallimachos.schema.loaders import Loaders
from tests.e2e.circulation_support import Desk, build_template, copy_template

NOW = "2026-03-02T10:00:00+02:00"
ADMIN = Actor(ActorKind.ADMIN, token_id="test")

PAGE = """query($q: String, $f: WorkFilter) {
  search(query: $q, filter: $f, first: 20) {
    totalCount pageInfo { hasNextPage endCursor }
    facets { field values { value count } }
    edges { cursor node { id __typename title authors publicationYear isbns language materialType
      holdings { library { id code name nameEl country role } loanableCount availableCount
        items { id barcode collection callNumber status loanable dueDate holdQueueLength
          library { code } branch { id code name } } } } } } }"""
FRAGMENTS = """query($q: String) { search(query: $q) { edges { node { ...W } } } }
fragment W on Work { t: title holdings { ...H } records { library { code } matchedBy } }
fragment H on Holding { library { code branches { code } } items { ... on Item { barcode } } }"""
DIRECTIVES = """query($q: String, $with: Boolean!) { search(query: $q) { edges { node {
  title @skip(if: $with) holdings @include(if: $with) { items { status branch { code } } } } } } }"""
LIBRARIES = "{ libraries { code name branches { code name library { code } } } }"
PATRON = """query($card: String!) { patron(cardNumber: $card) { cardNumber
  loans { dueDate item { barcode status dueDate branch { code } library { code } } }
  holds { status position } } }"""

CASES: list[tuple[str, dict[str, Any], Actor]] = [
    (PAGE, {"q": None, "f": None}, ANONYMOUS),
    (PAGE, {"q": "music", "f": {"libraries": ["UOC", "CUT"], "loanableOnly": True}}, ANONYMOUS),
    (PAGE, {"q": "αγορα", "f": None}, ANONYMOUS),
    (FRAGMENTS, {"q": "history"}, ANONYMOUS),
    (DIRECTIVES, {"q": None, "with": True}, ANONYMOUS),
    (DIRECTIVES, {"q": None, "with": False}, ANONYMOUS),
    (LIBRARIES, {}, ANONYMOUS),
    (PATRON, {"card": "UOC-UNDERG-003"}, ADMIN),
    ('{ work(id: "V29yazox") { title holdings { items { barcode } } } }', {}, ANONYMOUS),
    ("{ search(first: 0) { totalCount } }", {}, ANONYMOUS),  # an argument error
]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_template(tmp_path_factory.mktemp("fast-parity"))


async def answer(
    services: Services, query: str, variables: dict[str, Any], actor: Actor, plans: bool
) -> tuple[Any, list[Any]]:
    context = Context(
        request=None,
        response=None,
        actor=actor,
        now=parse_business_time(NOW),
        services=services,
        loaders=Loaders(services.sessions),
    )
    schema.execution_context_class = (
        FastExecutionContext if plans else StrawberryGraphQLCoreExecutionContext
    )
    try:
        result = await schema.execute(query, variables, context)
    finally:
        schema.execution_context_class = FastExecutionContext
    return result.data, [e.formatted for e in result.errors or []]


async def test_every_case_answers_the_same_with_and_without_plans(
    template: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolved: list[int] = []  # libraries looked up by a resolver, not by a plan
    by_resolver = Directory.library

    def spy(self: Directory, library_id: int, info: Any) -> Any:
        resolved.append(library_id)
        return by_resolver(self, library_id, info)

    monkeypatch.setattr(Directory, "library", spy)
    settings = copy_template(template, tmp_path)
    app = create_app(settings, drain_outbox=False)
    async with app.router.lifespan_context(app):
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as http:
            desk = Desk(http, settings)
            copy = (await desk.copies("UOC", "UOC-HER", limit=1))[0]
            loan = await desk.check_out(copy.barcode, "UOC-UNDERG-003", "UOC-HER", NOW)
            assert loan["userErrors"] == []
        services: Services = app.state.parts.services
        on_loan = 0
        for query, variables, actor in CASES:
            plain = await answer(services, query, variables, actor, plans=False)
            services.directory = Directory()  # cold: plans meet libraries they do not know
            cold = await answer(services, query, variables, actor, plans=True)
            resolved.clear()
            warm = await answer(services, query, variables, actor, plans=True)
            if query is PAGE:
                assert resolved == []  # the whole page came from plans
            assert cold == plain, query
            assert warm == plain, query
            on_loan += str(plain[0]).count("'ON_LOAN'")
        assert on_loan > 0  # the pages really carried a copy out on loan
