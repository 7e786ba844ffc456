"""SearchQuery -> OpenSearch request body (pure; no I/O), plus the query rules both engines share.

The engine-neutral part (:func:`interpret_text`, :func:`isbn_filter_keys`, :func:`title_key`,
:func:`document_isbns`, :func:`document_issns`, :func:`check_window`) is imported by the
embedded engine too, so the two engines cannot disagree on what counts as an identifier query
or an exact title.

Ranking, in both engines:

1. identifier matches (the text *is* an ISBN or ISSN and the work carries it),
2. exact title matches (the folded token sequence of the text equals that of the title or
   of an alternate title),
3. relevance: BM25 over title^3, alternate_titles^3, authors^2, subjects, publisher,
4. ``work_id`` ascending as the final tie-break (and the only order when there is no text).

On OpenSearch the tiers are constant-score ``should`` clauses with boosts far above any BM25
score of a catalogue record (:data:`IDENTIFIER_BOOST`, :data:`EXACT_TITLE_BOOST`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kallimachos.domain.identifiers import isbn_variants, normalise_isbn, normalise_issn
from kallimachos.search.backend import FACET_FIELDS, SearchQuery, WorkDocument
from kallimachos.search.normalise import tokens

# Deep pages: OpenSearch refuses from + size beyond index.max_result_window (10,000); the
# embedded engine applies the same limit so that both behave alike.
MAX_RESULT_WINDOW = 10_000
FACET_SIZE = 50
TEXT_FIELDS = ("title^3", "alternate_titles^3", "authors^2", "subjects", "publisher")
IDENTIFIER_BOOST = 100_000.0
EXACT_TITLE_BOOST = 1_000.0

# facet name -> indexed field
FACET_SOURCES: dict[str, str] = {
    "library": "holding_libraries",
    "language": "language",
    "materialType": "material_type",
    "year": "year",
}
assert tuple(FACET_SOURCES) == FACET_FIELDS

_ISBN_TEXT = re.compile(r"^(?:isbn(?:[-\s]?1[03])?\s*:?\s*)?([0-9][0-9\s\-]{8,20}[0-9xX])$", re.I)
_ISSN_TEXT = re.compile(r"^(?:issn\s*:?\s*)?([0-9]{4}[-\s]?[0-9]{3}[0-9xX])$", re.I)


@dataclass(frozen=True)
class TextPlan:
    """How the free text of a query is searched."""

    text: str  # as typed (stripped); OpenSearch analyses it itself
    terms: tuple[str, ...]  # folded tokens; every one must match (AND)
    title_key: str  # " ".join(terms): the exact-title key
    isbns: tuple[str, ...] = ()  # identifier keys when the text is an ISBN
    issns: tuple[str, ...] = ()  # identifier keys when the text is an ISSN

    @property
    def is_identifier(self) -> bool:
        return bool(self.isbns or self.issns)


def title_key(title: str) -> str:
    """The exact-title key of a title or query: its folded tokens joined by single spaces."""
    return " ".join(tokens(title))


def interpret_text(text: str | None) -> TextPlan | None:
    """The plan for free text; None when there is nothing to search for (match all)."""
    stripped = (text or "").strip()
    terms = tuple(tokens(stripped))
    isbns: tuple[str, ...] = ()
    issns: tuple[str, ...] = ()
    match = _ISBN_TEXT.match(stripped)
    if match:
        digits = re.sub(r"[\s\-]", "", match.group(1))
        if len(digits) in (10, 13) and normalise_isbn(digits) is not None:
            isbns = tuple(sorted(isbn_variants(digits)))
    match = _ISSN_TEXT.match(stripped)
    if match:
        issn = normalise_issn(match.group(1))
        if issn is not None:
            issns = (issn,)
    if not terms and not isbns and not issns:
        return None
    return TextPlan(stripped, terms, " ".join(terms), isbns, issns)


def isbn_filter_keys(isbn: str) -> tuple[str, ...]:
    """The ``isbns`` values that satisfy an ISBN filter given in any form."""
    variants = isbn_variants(isbn)
    if variants:
        return tuple(sorted(variants))
    # Not a valid ISBN: match only a record that stores exactly these characters.
    raw = re.sub(r"[\s\-]", "", isbn).upper()
    return (raw,) if raw else ()


def document_title_keys(document: WorkDocument) -> tuple[str, ...]:
    """The exact-title keys of a work: its title and every alternate title."""
    keys = {title_key(t) for t in (document.title, *document.alternate_titles)}
    return tuple(sorted(key for key in keys if key))


def document_isbns(document: WorkDocument) -> tuple[str, ...]:
    """Every ISBN form a work is found by (the stored forms plus their 10/13 variants)."""
    forms = set(document.isbns)
    for isbn in document.isbns:
        forms |= isbn_variants(isbn)
    return tuple(sorted(forms))


def document_issns(document: WorkDocument) -> tuple[str, ...]:
    """A work's ISSNs as ``NNNN-NNNC`` (unchecked ones kept as given)."""
    return tuple(sorted({normalise_issn(issn) or issn for issn in document.issns}))


def check_window(query: SearchQuery) -> None:
    """Refuse pages OpenSearch cannot serve (the same rule on both engines)."""
    if query.offset < 0 or query.limit < 0:
        raise ValueError(f"offset and limit must be >= 0; got {query.offset}, {query.limit}")
    if query.offset + query.limit > MAX_RESULT_WINDOW:
        raise ValueError(
            f"offset + limit must be <= {MAX_RESULT_WINDOW}; got {query.offset + query.limit}"
        )


def document_source(document: WorkDocument) -> dict[str, Any]:
    """The indexed ``_source`` of one work."""
    return {
        "work_id": document.work_id,
        "title": document.title,
        "alternate_titles": list(document.alternate_titles),
        "title_key": list(document_title_keys(document)),
        "authors": list(document.authors),
        "subjects": list(document.subjects),
        "publisher": document.publisher,
        "isbns": list(document_isbns(document)),
        "issns": list(document_issns(document)),
        "language": document.language or None,  # empty is missing, as in the embedded engine
        "material_type": document.material_type,
        "year": document.year,
        "holding_libraries": sorted(set(document.holding_libraries)),
        "loanable_at": sorted(set(document.loanable_at)),
        "available_at": sorted(set(document.available_at)),
    }


def _terms(field: str, values: Iterable[str]) -> dict[str, Any]:
    return {"terms": {field: sorted(set(values))}}


def _library_filter(field: str, libraries: tuple[str, ...]) -> dict[str, Any]:
    return _terms(field, libraries) if libraries else {"exists": {"field": field}}


def build_filters(query: SearchQuery) -> list[dict[str, Any]]:
    """The non-scoring filter clauses of a query."""
    filters: list[dict[str, Any]] = []
    if query.libraries:
        filters.append(_terms("holding_libraries", query.libraries))
    if query.loanable_only:
        filters.append(_library_filter("loanable_at", query.libraries))
    if query.available_only:
        filters.append(_library_filter("available_at", query.libraries))
    if query.material_types:
        filters.append(_terms("material_type", query.material_types))
    if query.languages:
        filters.append(_terms("language", query.languages))
    if query.year_from is not None or query.year_to is not None:
        bounds: dict[str, int] = {}
        if query.year_from is not None:
            bounds["gte"] = query.year_from
        if query.year_to is not None:
            bounds["lte"] = query.year_to
        filters.append({"range": {"year": bounds}})
    if query.isbn is not None:
        filters.append(_terms("isbns", isbn_filter_keys(query.isbn)))
    return filters


def build_text_clauses(plan: TextPlan) -> list[dict[str, Any]]:
    """The scoring ``should`` clauses for free text (at least one must match)."""
    should: list[dict[str, Any]] = []
    if plan.isbns or plan.issns:
        identifiers: list[dict[str, Any]] = []
        if plan.isbns:
            identifiers.append(_terms("isbns", plan.isbns))
        if plan.issns:
            identifiers.append(_terms("issns", plan.issns))
        should.append(
            {
                "constant_score": {
                    "filter": {"bool": {"should": identifiers, "minimum_should_match": 1}},
                    "boost": IDENTIFIER_BOOST,
                }
            }
        )
    if plan.terms:
        should.append(
            {
                "multi_match": {
                    "query": plan.text,
                    "type": "cross_fields",
                    "operator": "and",
                    "fields": list(TEXT_FIELDS),
                }
            }
        )
        should.append(
            {
                "constant_score": {
                    "filter": {"term": {"title_key": plan.title_key}},
                    "boost": EXACT_TITLE_BOOST,
                }
            }
        )
    return should


def build_aggregations() -> dict[str, Any]:
    """Facet counts over the whole matching set: count desc, then value asc; top 50."""
    return {
        name: {
            "terms": {
                "field": field,
                "size": FACET_SIZE,
                "order": [{"_count": "desc"}, {"_key": "asc"}],
            }
        }
        for name, field in FACET_SOURCES.items()
    }


def build_search_body(query: SearchQuery) -> dict[str, Any]:
    """The ``_search`` request body for one page of a catalogue search."""
    check_window(query)
    filters = build_filters(query)
    plan = interpret_text(query.text)
    body: dict[str, Any] = {
        "from": query.offset,
        "size": query.limit,
        "track_total_hits": True,
        "_source": False,
    }
    if plan is None:
        body["query"] = {"bool": {"filter": filters}} if filters else {"match_all": {}}
        body["sort"] = [{"work_id": {"order": "asc"}}]
    else:
        bool_query: dict[str, Any] = {
            "should": build_text_clauses(plan),
            "minimum_should_match": 1,
        }
        if filters:
            bool_query["filter"] = filters
        body["query"] = {"bool": bool_query}
        body["sort"] = [{"_score": {"order": "desc"}}, {"work_id": {"order": "asc"}}]
    if query.with_facets:
        body["aggs"] = build_aggregations()
    return body


def parse_facets(aggregations: dict[str, Any]) -> dict[str, list[tuple[str, int]]]:
    """``aggregations`` of a response -> facet name -> [(value, count)], as returned."""
    facets: dict[str, list[tuple[str, int]]] = {}
    for name in FACET_SOURCES:
        buckets = aggregations.get(name, {}).get("buckets", [])
        facets[name] = [(_key(bucket["key"]), int(bucket["doc_count"])) for bucket in buckets]
    return facets


def _key(key: Any) -> str:
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)
