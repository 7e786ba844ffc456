"""``search`` and ``work``: the public catalogue (no token needed)."""

from __future__ import annotations

from kallimachos.domain.identifiers import normalise_isbn
from kallimachos.schema.catalogue import (
    Facet,
    PageInfo,
    Work,
    WorkConnection,
    WorkEdge,
    WorkFilter,
    decode_cursor,
    encode_cursor,
)
from kallimachos.schema.context import Info
from kallimachos.schema.errors import InvalidArgument, SearchFailed
from kallimachos.search.backend import FACET_FIELDS, SearchQuery, SearchUnavailable

MAX_PAGE = 100
MAX_QUERY_CHARS = 500
MAX_FILTER_VALUES = 50


def build_query(
    text: str | None, work_filter: WorkFilter | None, first: int, after: str | None
) -> SearchQuery:
    """Validate the GraphQL arguments into a search request (clear errors, never a 500)."""
    if not 1 <= first <= MAX_PAGE:
        raise InvalidArgument(f"first must be between 1 and {MAX_PAGE}; got {first}")
    if text is not None and len(text) > MAX_QUERY_CHARS:
        raise InvalidArgument(f"query is longer than {MAX_QUERY_CHARS} characters")
    offset = decode_cursor(after) + 1 if after else 0
    f = work_filter or WorkFilter()
    for name in ("libraries", "material_types", "languages"):
        values = getattr(f, name) or []
        if len(values) > MAX_FILTER_VALUES:
            raise InvalidArgument(f"filter.{name}: at most {MAX_FILTER_VALUES} values")
    if f.year_from is not None and f.year_to is not None and f.year_from > f.year_to:
        raise InvalidArgument("filter.yearFrom is after filter.yearTo")
    isbn = None
    if f.isbn is not None:
        isbn = normalise_isbn(f.isbn)
        if isbn is None:
            raise InvalidArgument(f"filter.isbn: {f.isbn!r} is not a valid ISBN")
    return SearchQuery(
        text=(text or "").strip() or None,
        libraries=tuple(f.libraries or ()),
        loanable_only=bool(f.loanable_only),
        available_only=bool(f.available_only),
        material_types=tuple(f.material_types or ()),
        languages=tuple(f.languages or ()),
        year_from=f.year_from,
        year_to=f.year_to,
        isbn=isbn,
        offset=offset,
        limit=first,
    )


async def run_search(
    info: Info, text: str | None, work_filter: WorkFilter | None, first: int, after: str | None
) -> WorkConnection:
    query = build_query(text, work_filter, first, after)
    try:
        result = await info.context.services.search.search(query)
    except SearchUnavailable as exc:
        raise SearchFailed(str(exc)) from exc
    rows = await info.context.loaders.work.load_many(result.work_ids)
    edges = [
        WorkEdge(cursor=encode_cursor(query.offset + i), node=Work.from_row(row))
        for i, row in enumerate(rows)
        if row is not None
    ]
    return WorkConnection(
        total_count=result.total,
        edges=edges,
        page_info=PageInfo(
            has_next_page=query.offset + len(result.work_ids) < result.total,
            has_previous_page=query.offset > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        facets=[Facet.build(name, result.facets.get(name, [])) for name in FACET_FIELDS],
    )
