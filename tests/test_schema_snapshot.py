"""The committed ``schema.graphql`` is the exported schema; regenerate with ``make schema``."""

from __future__ import annotations

from kallimachos.schema import schema
from tests.conftest import REPO


def test_committed_sdl_matches_the_code() -> None:
    committed = (REPO / "schema.graphql").read_text(encoding="utf-8")
    exported = schema.as_str() + "\n"
    assert committed == exported, "schema.graphql is stale: run `make schema` and commit it"


def test_api_md_names_exist_in_the_schema() -> None:
    """Public names from API.md that have landed stay in the schema (never renamed)."""
    sdl = schema.as_str()
    for name in ("libraries:", "node(", "patron(cardNumber: String!)", "interface Node"):
        assert name in sdl
