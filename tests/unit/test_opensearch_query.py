"""The OpenSearch request body and index definition, without a server."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest

from kallimachos.search.backend import FACET_FIELDS, SearchQuery, WorkDocument
from kallimachos.search.normalise import fold
from kallimachos.search.opensearch import mapping
from kallimachos.search.opensearch.query import (
    EXACT_TITLE_BOOST,
    IDENTIFIER_BOOST,
    MAX_RESULT_WINDOW,
    TEXT_FIELDS,
    build_search_body,
    document_source,
    interpret_text,
    isbn_filter_keys,
    parse_facets,
    title_key,
)


def should_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    clauses: list[dict[str, Any]] = body["query"]["bool"]["should"]
    return clauses


def filters_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    clauses: list[dict[str, Any]] = body["query"]["bool"].get("filter", [])
    return clauses


# ---------------------------------------------------------------- no text
def test_no_text_matches_all_in_work_id_order() -> None:
    body = build_search_body(SearchQuery(with_facets=False))
    assert body == {
        "from": 0,
        "size": 20,
        "track_total_hits": True,
        "_source": False,
        "query": {"match_all": {}},
        "sort": [{"work_id": {"order": "asc"}}],
    }


@pytest.mark.parametrize("text", [None, "", "   ", "--", "!!!"])
def test_text_without_words_is_no_text(text: str | None) -> None:
    assert interpret_text(text) is None
    assert build_search_body(SearchQuery(text=text))["query"] == {"match_all": {}}


def test_page_window() -> None:
    body = build_search_body(SearchQuery(offset=40, limit=20))
    assert (body["from"], body["size"]) == (40, 20)
    build_search_body(SearchQuery(offset=MAX_RESULT_WINDOW - 10, limit=10))
    with pytest.raises(ValueError, match="10000"):
        build_search_body(SearchQuery(offset=MAX_RESULT_WINDOW - 10, limit=11))
    with pytest.raises(ValueError, match=">= 0"):
        build_search_body(SearchQuery(offset=-1))


# ---------------------------------------------------------------- text
def test_text_query_clauses_and_sort() -> None:
    body = build_search_body(SearchQuery(text="  Ιστορία της Κρήτης ", with_facets=False))
    assert body["sort"] == [{"_score": {"order": "desc"}}, {"work_id": {"order": "asc"}}]
    assert body["query"]["bool"]["minimum_should_match"] == 1
    text_clause, exact = should_of(body)
    assert text_clause == {
        "multi_match": {
            "query": "Ιστορία της Κρήτης",
            "type": "cross_fields",
            "operator": "and",
            "fields": ["title^3", "alternate_titles^3", "authors^2", "subjects", "publisher"],
        }
    }
    assert exact == {
        "constant_score": {
            "filter": {"term": {"title_key": "ιστορια τησ κρητησ"}},
            "boost": EXACT_TITLE_BOOST,
        }
    }
    assert "filter" not in body["query"]["bool"]


def test_field_weights_title_authors_subjects_publisher() -> None:
    assert TEXT_FIELDS == ("title^3", "alternate_titles^3", "authors^2", "subjects", "publisher")


@pytest.mark.parametrize(
    "text", ["978-0-596-00027-1", "9780596000271", "0596000278", "0-596-00027-8", "ISBN 0596000278"]
)
def test_isbn_text_adds_an_identifier_clause_first(text: str) -> None:
    plan = interpret_text(text)
    assert plan is not None
    assert plan.isbns == ("0596000278", "9780596000271")
    ident = should_of(build_search_body(SearchQuery(text=text)))[0]
    assert ident == {
        "constant_score": {
            "filter": {
                "bool": {
                    "should": [{"terms": {"isbns": ["0596000278", "9780596000271"]}}],
                    "minimum_should_match": 1,
                }
            },
            "boost": IDENTIFIER_BOOST,
        }
    }


@pytest.mark.parametrize(
    "text", ["0596000279", "perl 0596000278", "0596000278 perl", "12345", "2000-2010"]
)
def test_text_that_is_not_exactly_a_valid_isbn_is_plain_text(text: str) -> None:
    plan = interpret_text(text)
    assert plan is not None
    assert not plan.is_identifier
    assert all(
        "constant_score" not in c or "term" in c["constant_score"]["filter"]
        for c in should_of(build_search_body(SearchQuery(text=text)))
    )


def test_issn_text() -> None:
    plan = interpret_text("ISSN 1105-7939")
    assert plan is not None
    assert plan.issns == ("1105-7939",)
    assert interpret_text("1105-7938") is not None
    assert interpret_text("1105-7938").issns == ()  # type: ignore[union-attr]


def test_boosts_keep_the_tiers_apart() -> None:
    # Identifier > exact title > any BM25 score of a catalogue record (well under 1,000).
    assert IDENTIFIER_BOOST >= 100 * EXACT_TITLE_BOOST
    assert EXACT_TITLE_BOOST >= 1_000


# ---------------------------------------------------------------- filters
def test_all_filters() -> None:
    query = SearchQuery(
        text="perl",
        libraries=("UOC", "TUC", "UOC"),
        loanable_only=True,
        available_only=True,
        material_types=("book",),
        languages=("eng", "gre"),
        year_from=1990,
        year_to=2000,
        isbn="0-596-00027-8",
    )
    assert filters_of(build_search_body(query)) == [
        {"terms": {"holding_libraries": ["TUC", "UOC"]}},
        {"terms": {"loanable_at": ["TUC", "UOC"]}},
        {"terms": {"available_at": ["TUC", "UOC"]}},
        {"terms": {"material_type": ["book"]}},
        {"terms": {"language": ["eng", "gre"]}},
        {"range": {"year": {"gte": 1990, "lte": 2000}}},
        {"terms": {"isbns": ["0596000278", "9780596000271"]}},
    ]


def test_loanable_and_available_anywhere() -> None:
    body = build_search_body(SearchQuery(loanable_only=True, available_only=True))
    assert body["query"] == {
        "bool": {
            "filter": [{"exists": {"field": "loanable_at"}}, {"exists": {"field": "available_at"}}]
        }
    }


def test_open_year_range() -> None:
    body = build_search_body(SearchQuery(year_to=1950))
    assert filters_of(body) == [{"range": {"year": {"lte": 1950}}}]


def test_isbn_filter_keys() -> None:
    assert isbn_filter_keys("978-0-596-00027-1") == ("0596000278", "9780596000271")
    assert isbn_filter_keys("979-10-90636-07-1") == ("9791090636071",)  # 979: no ISBN-10
    assert isbn_filter_keys("12-34") == ("1234",)  # invalid: matches only itself


# ---------------------------------------------------------------- facets
def test_facet_aggregations() -> None:
    aggs = build_search_body(SearchQuery())["aggs"]
    assert tuple(aggs) == FACET_FIELDS
    assert aggs["library"] == {
        "terms": {
            "field": "holding_libraries",
            "size": 50,
            "order": [{"_count": "desc"}, {"_key": "asc"}],
        }
    }
    assert aggs["materialType"]["terms"]["field"] == "material_type"
    assert aggs["year"]["terms"]["field"] == "year"


def test_parse_facets() -> None:
    response = {
        "library": {"buckets": [{"key": "UOC", "doc_count": 8}, {"key": "AEG", "doc_count": 5}]},
        "language": {"buckets": []},
        "materialType": {"buckets": [{"key": "book", "doc_count": 3}]},
        "year": {"buckets": [{"key": 2000, "doc_count": 2}, {"key": 1947.0, "doc_count": 1}]},
    }
    assert parse_facets(response) == {
        "library": [("UOC", 8), ("AEG", 5)],
        "language": [],
        "materialType": [("book", 3)],
        "year": [("2000", 2), ("1947", 1)],
    }


# ---------------------------------------------------------------- documents and index
def test_document_source() -> None:
    doc = WorkDocument(
        work_id=7,
        title="Programming Perl",
        authors=("Wall, Larry",),
        isbns=("9780596000271",),
        issns=("11057939",),
        language="",
        holding_libraries=("UOC", "TUC", "UOC"),
        loanable_at=("TUC",),
    )
    source = document_source(doc)
    assert source["title_key"] == ["programming perl"]
    assert source["isbns"] == ["0596000278", "9780596000271"]  # the 10 form added
    assert source["issns"] == ["1105-7939"]
    assert source["language"] is None  # empty means missing: not a facet value
    assert source["holding_libraries"] == ["TUC", "UOC"]
    assert source["available_at"] == []
    assert set(source) == set(mapping.MAPPINGS["properties"])


def test_alternate_titles_are_searched_and_give_exact_title_keys() -> None:
    doc = WorkDocument(
        work_id=1,
        title="Hē agora stē Mesogeio",
        alternate_titles=(
            "Η αγορά στη Μεσόγειο",
            "Agora in the Mediterranean",
            "Η ΑΓΟΡΑ ΣΤΗ ΜΕΣΟΓΕΙΟ",
        ),
    )
    source = document_source(doc)
    assert source["alternate_titles"] == list(doc.alternate_titles)
    assert source["title_key"] == [
        "agora in the mediterranean",
        "he agora ste mesogeio",
        "η αγορα στη μεσογειο",
    ]
    for field in ("title", "alternate_titles"):
        assert mapping.MAPPINGS["properties"][field]["analyzer"] == mapping.TEXT_ANALYZER


def test_title_key_ignores_case_accents_and_punctuation() -> None:
    assert title_key("Κρήτη: ταξιδιωτικός οδηγός.") == title_key("ΚΡΗΤΗ ταξιδιωτικος  οδηγος")


def test_index_body() -> None:
    body = mapping.index_body(replicas=0, alias="works")
    assert body["aliases"] == {"works": {}}
    index = body["settings"]["index"]
    assert index["number_of_shards"] == 1
    assert index["number_of_replicas"] == 0
    assert mapping.index_body()["settings"]["index"]["auto_expand_replicas"] == "0-1"
    analyzer = body["settings"]["analysis"]["analyzer"][mapping.TEXT_ANALYZER]
    assert analyzer["tokenizer"] == "standard"
    assert analyzer["char_filter"] == [mapping.FOLD_CHAR_FILTER]
    filters = body["settings"]["analysis"]["filter"]
    assert [filters[name] for name in analyzer["filter"]] == [
        {"type": "lowercase", "language": "greek"},
        {"type": "asciifolding", "preserve_original": False},
    ]
    assert "stemmer" not in json.dumps(body)  # no stemming, by design
    for field in ("title", "authors", "subjects", "publisher"):
        assert mapping.MAPPINGS["properties"][field]["analyzer"] == mapping.TEXT_ANALYZER


def test_fold_char_filter_agrees_with_fold() -> None:
    pairs = dict(mapping.fold_mappings())
    assert pairs["\u0301"] == ""  # combining acute (decomposed tonos)
    assert pairs["\u00ad"] == ""  # soft hyphen
    assert pairs["Ἀ"] == "α"
    assert pairs["ᾠ"] == "ωι"
    assert pairs["ς"] == "σ"
    for char, target in pairs.items():
        assert fold(char) == " ".join(target.split()), unicodedata.name(char, hex(ord(char)))
    rules = mapping.fold_char_filter()["mappings"]
    assert len(rules) == len(pairs)
    assert "\\u0301 => " in rules
    assert "\\u1F00 => \\u03B1" in rules
