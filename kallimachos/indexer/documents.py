"""Database rows -> search documents.

Loanability is computed from the owning library's policy at the moment the document is
built (never stored on the item); ``available`` means loanable and on the shelf now.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import cast

import orjson
from sqlalchemy import JSON, Table, Text, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from kallimachos.db.any_of import any_of
from kallimachos.db.models import Item, Library, Work
from kallimachos.domain.identifiers import isbn_variants
from kallimachos.search.backend import WorkDocument

_WORKS = cast(Table, Work.__table__)
_ITEMS = cast(Table, Item.__table__)

# The list columns as their JSON text, decoded here with orjson: the driver's stdlib decoder
# was a sixth of a drain's CPU.
_WORK_COLUMNS = select(
    *(
        sql_cast(column, Text).label(column.name) if isinstance(column.type, JSON) else column
        for column in _WORKS.columns
    )
)


def json_list(text: str | None) -> list[str]:
    """A JSON list column read as text (what the driver's decoder would have returned)."""
    if text is None:
        return []
    try:
        return cast(list[str], orjson.loads(text))
    except orjson.JSONDecodeError:  # text the stdlib accepts and orjson does not (lone surrogates)
        return cast(list[str], json.loads(text))


ItemLoanable = Callable[[str, Item], bool]
"""``(library_code, item) -> bool``: may this copy be lent under its library's policy?"""


async def build_documents(
    session: AsyncSession, work_ids: Sequence[int], loanable: ItemLoanable
) -> tuple[list[WorkDocument], list[int]]:
    """Documents for the works that exist, and the ids of those that no longer do."""
    # Plain rows, not ORM objects: building thousands of mapped instances was most of the
    # cost of a drain.  A row of ``items`` has every column of an Item as an attribute, which
    # is all that loanability reads (Item has no relationships).
    rows = await session.execute(_WORK_COLUMNS.where(any_of(session, _WORKS.c.id, work_ids)))
    works = {w.id: w for w in rows}
    codes = {row.id: row.code for row in await session.execute(select(Library.id, Library.code))}
    items = await session.execute(select(_ITEMS).where(any_of(session, _ITEMS.c.work_id, works)))
    holding: dict[int, set[str]] = defaultdict(set)
    lendable: dict[int, set[str]] = defaultdict(set)
    on_shelf: dict[int, set[str]] = defaultdict(set)
    for item in items:
        code = codes[item.library_id]
        holding[item.work_id].add(code)
        if loanable(code, cast(Item, item)):
            lendable[item.work_id].add(code)
            if item.status == "AVAILABLE":
                on_shelf[item.work_id].add(code)
    documents = [
        WorkDocument(
            work_id=work.id,
            title=work.title,
            alternate_titles=tuple(json_list(work.alternate_titles)),
            authors=tuple(json_list(work.authors)),
            subjects=tuple(json_list(work.subjects)),
            publisher=work.publisher,
            isbns=tuple(sorted({v for isbn in json_list(work.isbns) for v in isbn_variants(isbn)})),
            issns=tuple(json_list(work.issns)),
            language=work.language,
            material_type=work.material_type,
            year=work.publication_year,
            holding_libraries=tuple(sorted(holding[work.id])),
            loanable_at=tuple(sorted(lendable[work.id])),
            available_at=tuple(sorted(on_shelf[work.id])),
        )
        for work in works.values()
    ]
    missing = [wid for wid in work_ids if wid not in works]
    return documents, missing
