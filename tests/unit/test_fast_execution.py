"""The compiled executor answers exactly as graphql-core does, and skips resolvers it may.

Each query runs through the same schema twice: with :class:`FastExecutionContext` and
with strawberry's own execution context.  Data and errors (messages, paths, locations)
must be equal; a counter on a resolver shows when the shortcut was really taken.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import pytest
import strawberry
from strawberry import relay
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from kallimachos.schema.fast_execution import NOT_READY, FastExecutionContext, fast


@dataclass
class Calls:
    resolved: int = 0
    ready: bool = True
    log: list[str] = field(default_factory=list)


CALLS = Calls()


@strawberry.enum
class Colour(Enum):
    RED = "red"
    GREEN = "green"


def _shelf_ready(book: Book, _context: Any) -> str:
    return book.shelf_code if CALLS.ready else NOT_READY


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Author(Named):
    born: int | None


@strawberry.type
class Book(relay.Node):
    db_id: relay.NodeID[int]
    title: str
    colour: Colour
    tags: list[str]
    grid: list[list[int | None]]
    subtitle: str | None
    must: str | None = strawberry.field(graphql_type=str)  # non-null in the schema
    author: Author | None = None
    shelf_code: strawberry.Private[str] = "A1"

    @strawberry.field(metadata=fast(_shelf_ready))  # type: ignore[untyped-decorator]
    def shelf(self) -> str:
        CALLS.resolved += 1
        return self.shelf_code

    @strawberry.field
    def greeting(self, word: str = "hello") -> str:
        return f"{word} {self.title}"

    @strawberry.field
    def named(self) -> Named | None:
        return self.author

    @classmethod
    def resolve_nodes(  # type: ignore[override]
        cls, *, info: Any, node_ids: Any, required: bool = False
    ) -> list[Book | None]:
        return [BOOKS.get(int(i)) for i in node_ids]


BOOKS = {
    1: Book(
        db_id=1,
        title="Odyssey",
        colour=Colour.RED,
        tags=["epic", "greek"],
        grid=[[1, None], [3]],
        subtitle=None,
        must="yes",
        author=Author(name="Homer", born=None),
    ),
    2: Book(
        db_id=2,
        title="Iliad",
        colour=Colour.GREEN,
        tags=[],
        grid=[],
        subtitle="war",
        must=None,  # breaks the schema: the executor must report it
        author=None,
    ),
}


@strawberry.type
class Query:
    node: relay.Node | None = relay.node()

    @strawberry.field
    def books(self) -> list[Book]:
        return [BOOKS[1], BOOKS[2]]

    @strawberry.field
    def good(self) -> list[Book]:
        return [BOOKS[1]]


SCHEMA = strawberry.Schema(Query, types=[Author], execution_context_class=FastExecutionContext)


def run(query: str, variables: dict[str, Any] | None, context_class: type[Any]) -> Any:
    SCHEMA.execution_context_class = context_class
    try:
        result = asyncio.run(SCHEMA.execute(query, variables))
    finally:
        SCHEMA.execution_context_class = FastExecutionContext
    return result.data, [e.formatted for e in result.errors or []]


def both(query: str, variables: dict[str, Any] | None = None) -> tuple[Any, int]:
    """The shared answer, and how often the shelf resolver ran on the fast path."""
    CALLS.resolved = 0
    fast_answer = run(query, variables, FastExecutionContext)
    fast_calls = CALLS.resolved
    assert fast_answer == run(query, variables, StrawberryGraphQLCoreExecutionContext)
    return fast_answer, fast_calls


@pytest.fixture(autouse=True)
def ready() -> None:
    CALLS.ready = True


PLAIN_PAGE = """{ good { id title colour tags grid subtitle must shelf __typename
  author { name born __typename } } }"""


def test_plain_fields_come_out_as_graphql_core_makes_them_without_running_resolvers() -> None:
    (data, errors), calls = both(PLAIN_PAGE)
    assert errors == []
    assert data["good"][0]["colour"] == "RED"
    assert data["good"][0]["id"] == relay.to_base64("Book", 1)
    assert data["good"][0]["shelf"] == "A1"
    assert calls == 0  # the declared getter answered; the resolver never ran


def test_a_getter_that_is_not_ready_leaves_the_field_to_its_resolver() -> None:
    CALLS.ready = False
    (data, errors), calls = both(PLAIN_PAGE)
    assert errors == [] and data["good"][0]["shelf"] == "A1"
    assert calls == 1


def test_null_in_a_non_null_field_is_the_same_error_at_the_same_path() -> None:
    (data, errors), _ = both("{ books { title must } }")
    assert data is None
    assert len(errors) == 1
    assert errors[0]["path"] == ["books", 1, "must"]
    assert "non-nullable" in errors[0]["message"].lower()


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ good { t: title again: title colour } }", None),
        (
            "{ good { ...B } } fragment B on Book { title author { ...A } } fragment A on Author { name }",
            None,
        ),
        ("{ good { ... on Book { title } ... on Node { id } } }", None),
        ("query($s: Boolean!) { good { title @skip(if: $s) tags @include(if: $s) } }", {"s": True}),
        (
            "query($s: Boolean!) { good { title @skip(if: $s) tags @include(if: $s) } }",
            {"s": False},
        ),
        ('{ good { greeting(word: "καλημέρα") named { name __typename } } }', None),
        ('{ node(id: "Qm9vazox") { id ... on Book { title shelf } } }', None),
        ("{ books { title subtitle author { name } } }", None),
    ],
)
def test_fragments_aliases_directives_arguments_and_interfaces_agree(
    query: str, variables: dict[str, Any] | None
) -> None:
    (data, errors), _ = both(query, variables)
    assert errors == []
    assert data is not None
