"""``search`` and ``work``: the public catalogue (no token needed)."""

from __future__ import annotations

from collections.abc import Iterable

from strawberry.types.nodes import SelectedField, Selection

from kallimachos.db import queries
from kallimachos.db.queries import ItemView
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
    holdings_of,
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
    """One index query, then one database session for the whole page.

    The works and, when the client asked for holdings, every copy on the page with its
    loan and queue come in two statements, whatever the page size; holdings are handed
    to each work ready-made, so no resolver below the page does I/O.
    """
    query = build_query(text, work_filter, first, after)
    try:
        result = await info.context.services.search.search(query)
    except SearchUnavailable as exc:
        raise SearchFailed(str(exc)) from exc
    ids = result.work_ids
    items: dict[int, list[ItemView]] | None = None
    async with info.context.services.sessions() as session:
        await queries.read_without_transaction(session)
        rows = await queries.works_by_id(session, ids) if ids else {}
        if rows and _asks_for_holdings(info):
            items = await queries.items_by_work(session, list(rows))
    edges = [
        WorkEdge(
            cursor=encode_cursor(query.offset + i),
            node=Work.from_row(
                rows[work_id],
                holdings_of(info, items.get(work_id, [])) if items is not None else None,
            ),
        )
        for i, work_id in enumerate(ids)
        if work_id in rows
    ]
    return WorkConnection(
        total_count=result.total,
        edges=edges,
        page_info=PageInfo(
            has_next_page=query.offset + len(ids) < result.total,
            has_previous_page=query.offset > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        facets=[Facet.build(name, result.facets.get(name, [])) for name in FACET_FIELDS],
    )


def _asks_for_holdings(info: Info) -> bool:
    """Whether the query selects ``edges { node { holdings } }`` (through fragments too)."""
    level = [child for page in _fields(info.selected_fields) for child in page.selections]
    for name in ("edges", "node"):
        level = [child for f in _fields(level) if f.name == name for child in f.selections]
    return any(f.name == "holdings" for f in _fields(level))


def _fields(selections: Iterable[Selection]) -> list[SelectedField]:
    """The fields of a selection set, with fragments spread in."""
    found: list[SelectedField] = []
    for selection in selections:
        if isinstance(selection, SelectedField):
            found.append(selection)
        else:
            found.extend(_fields(selection.selections))
    return found
