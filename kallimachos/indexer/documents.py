"""Database rows -> search documents.

Loanability is computed from the owning library's policy at the moment the document is
built (never stored on the item); ``available`` means loanable and on the shelf now.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kallimachos.db.models import Item, Library, Work
from kallimachos.domain.identifiers import isbn_variants
from kallimachos.search.backend import WorkDocument

ItemLoanable = Callable[[str, Item], bool]
"""``(library_code, item) -> bool``: may this copy be lent under its library's policy?"""


async def build_documents(
    session: AsyncSession, work_ids: Sequence[int], loanable: ItemLoanable
) -> tuple[list[WorkDocument], list[int]]:
    """Documents for the works that exist, and the ids of those that no longer do."""
    works = {w.id: w for w in await session.scalars(select(Work).where(Work.id.in_(work_ids)))}
    rows = (
        await session.execute(
            select(Item, Library.code)
            .join(Library, Library.id == Item.library_id)
            .where(Item.work_id.in_(list(works)))
        )
    ).all()
    holding: dict[int, set[str]] = defaultdict(set)
    lendable: dict[int, set[str]] = defaultdict(set)
    on_shelf: dict[int, set[str]] = defaultdict(set)
    for item, code in rows:
        holding[item.work_id].add(code)
        if loanable(code, item):
            lendable[item.work_id].add(code)
            if item.status == "AVAILABLE":
                on_shelf[item.work_id].add(code)
    documents = [
        WorkDocument(
            work_id=work.id,
            title=work.title,
            alternate_titles=tuple(work.alternate_titles),
            authors=tuple(work.authors),
            subjects=tuple(work.subjects),
            publisher=work.publisher,
            isbns=tuple(sorted({v for isbn in work.isbns for v in isbn_variants(isbn)})),
            issns=tuple(work.issns),
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
