"""The union catalogue in GraphQL: works, their holdings per library, live item status.

The search index picks which works match and in what order; holdings and item status on a
result page come live from the database through one batched loader per page.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Iterable, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from kallimachos.db.models import Work as WorkRow
from kallimachos.db.queries import ItemView
from kallimachos.schema.context import Context, Info
from kallimachos.schema.errors import Forbidden, InvalidArgument
from kallimachos.schema.fast_execution import NOT_READY, fast
from kallimachos.schema.ids import node_db_ids
from kallimachos.schema.types import Branch, Library
from kallimachos.search.backend import FacetValue as FacetValueData

if TYPE_CHECKING:
    from kallimachos.schema.ill import RequestOption


def _known_library(source: Item | Holding | WorkRecord, context: Context) -> Library:
    return context.services.directory.known_library(source.library_id) or NOT_READY


def _known_branch(source: Item, context: Context) -> Branch:
    return context.services.directory.known_branch(source.branch_id) or NOT_READY


def _prefetched_holdings(work: Work, _context: Context) -> list[Holding]:
    found = work.prefetched_holdings
    return found if found is not None else NOT_READY


@strawberry.enum(description="Where a copy is and whether it can go out.")
class ItemStatus(Enum):
    AVAILABLE = "AVAILABLE"
    ON_LOAN = "ON_LOAN"
    ON_HOLD_SHELF = "ON_HOLD_SHELF"
    IN_TRANSIT = "IN_TRANSIT"
    LOST = "LOST"
    DAMAGED = "DAMAGED"
    MISSING = "MISSING"
    IN_PROCESSING = "IN_PROCESSING"
    WITHDRAWN = "WITHDRAWN"


@strawberry.type(description="A copy. Its loanability comes from the owning library's policy.")
class Item(relay.Node):
    db_id: relay.NodeID[int]
    barcode: str
    collection: str = strawberry.field(description="Collection code (general, reference, ...).")
    call_number: str | None
    status: ItemStatus
    loanable: bool = strawberry.field(
        description="Whether the owning library lends this copy (collection, flags, status)."
    )
    due_date: str | None = strawberry.field(description="Due date of the open loan, if any.")
    hold_queue_length: int = strawberry.field(
        description="Patrons waiting for this copy or for any copy of its work."
    )
    library_id: strawberry.Private[int]
    branch_id: strawberry.Private[int]

    @classmethod
    def from_view(cls, view: ItemView, loanable: bool) -> Item:
        item = view.item
        return cls(
            db_id=item.id,
            barcode=item.barcode,
            collection=item.collection,
            call_number=item.call_number,
            status=ItemStatus(item.status),
            loanable=loanable,
            due_date=view.due_date.isoformat() if view.due_date else None,
            hold_queue_length=view.hold_queue,
            library_id=item.library_id,
            branch_id=item.current_branch_id or item.home_branch_id,
        )

    @strawberry.field(graphql_type=Library, metadata=fast(_known_library))
    def library(self, info: Info) -> Library | Awaitable[Library]:
        return info.context.services.directory.library(self.library_id, info)

    @strawberry.field(
        graphql_type=Branch,
        description="The branch where the copy is now (its home branch).",
        metadata=fast(_known_branch),
    )
    def branch(self, info: Info) -> Branch | Awaitable[Branch]:
        return info.context.services.directory.branch(self.branch_id, info)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Item | None]:
        views = await info.context.loaders.item.load_many(node_db_ids(node_ids))
        return [_item(info, v) if v is not None else None for v in views]


def _item(info: Info, view: ItemView) -> Item:
    library = info.context.services.library_codes.get(view.item.library_id, "")
    return Item.from_view(view, info.context.services.loanable(library, view.item))


def holdings_of(info: Info, views: Sequence[ItemView]) -> list[Holding]:
    """A work's copies grouped by owning library, in the order the copies come."""
    by_library: dict[int, list[Item]] = {}
    for view in views:
        by_library.setdefault(view.item.library_id, []).append(_item(info, view))
    return [
        Holding(
            library_id=library_id,
            items=items,
            loanable_count=sum(1 for i in items if i.loanable),
            available_count=sum(
                1 for i in items if i.loanable and i.status is ItemStatus.AVAILABLE
            ),
        )
        for library_id, items in by_library.items()
    ]


@strawberry.type(description="One library's copies of a work, with live counts.")
class Holding:
    library_id: strawberry.Private[int]
    items: list[Item]
    loanable_count: int
    available_count: int

    @strawberry.field(graphql_type=Library, metadata=fast(_known_library))
    def library(self, info: Info) -> Library | Awaitable[Library]:
        return info.context.services.directory.library(self.library_id, info)


@strawberry.type(description="A cluster of records from member libraries describing one edition.")
class Work(relay.Node):
    db_id: relay.NodeID[int]
    title: str
    alternate_titles: list[str] = strawberry.field(
        description="Titles in the original script (MARC 880) and other records' titles."
    )
    authors: list[str]
    publication_year: int | None
    isbns: list[str]
    language: str | None
    material_type: str
    subjects: list[str]
    publisher: str | None
    prefetched_holdings: strawberry.Private[list[Holding] | None] = None

    @classmethod
    def from_row(cls, row: WorkRow, holdings: list[Holding] | None = None) -> Work:
        return cls(
            db_id=row.id,
            title=row.title,
            alternate_titles=list(row.alternate_titles),
            authors=list(row.authors),
            publication_year=row.publication_year,
            isbns=list(row.isbns),
            language=row.language,
            material_type=row.material_type,
            subjects=list(row.subjects),
            publisher=row.publisher,
            prefetched_holdings=holdings,
        )

    @strawberry.field(
        graphql_type=list[Holding],
        description="Every member library's copies with live availability.",
        metadata=fast(_prefetched_holdings),
    )
    def holdings(self, info: Info) -> list[Holding] | Awaitable[list[Holding]]:
        if self.prefetched_holdings is not None:  # a search page loads them all at once
            return self.prefetched_holdings
        return self._load_holdings(info)

    async def _load_holdings(self, info: Info) -> list[Holding]:
        return holdings_of(info, await info.context.loaders.items_of_work.load(self.db_id) or [])

    @strawberry.field(
        description=(
            "Every way this patron can get the work, ranked with cost, payer, loan days and "
            "the reason for each rank (CONS-2). Creates nothing."
        )
    )
    async def request_options(
        self,
        info: Info,
        patron_card_number: str,
        pickup_branch: str | None = None,
        service_type: str = "LOAN",
    ) -> list[Annotated[RequestOption, strawberry.lazy("kallimachos.schema.ill")]]:
        from kallimachos.schema.ill import RequestOption as Option
        from kallimachos.services.request_item import Ask, request_options

        services = info.context.services
        outcome = await request_options(
            services.sessions,
            services.policies,
            actor=info.context.actor,
            now=info.context.now,
            ask=Ask(
                patron_card=patron_card_number.strip(),
                pickup_branch=pickup_branch,
                service_type="copy" if service_type.upper() == "COPY" else "loan",
                work_id=self.db_id,
            ),
        )
        if outcome.value is None:
            problem = outcome.problems[0]
            if problem.code == "FORBIDDEN":
                raise Forbidden(problem.message)
            raise InvalidArgument(problem.message)
        return [Option.of(o) for o in outcome.value.options]

    @strawberry.field(description="The source records clustered into this work, and why.")
    async def records(self, info: Info) -> list[WorkRecord]:
        rows = await info.context.loaders.records_of_work.load(self.db_id) or []
        return [
            WorkRecord(
                library_id=r.library_id,
                control_number=r.control_number,
                title=r.title,
                source_format=r.source_format,
                matched_by=r.matched_by,
            )
            for r in rows
        ]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Work | None]:
        rows = await info.context.loaders.work.load_many(node_db_ids(node_ids))
        return [cls.from_row(r) if r is not None else None for r in rows]


@strawberry.type(description="One library's source record within a work.")
class WorkRecord:
    library_id: strawberry.Private[int]
    control_number: str | None
    title: str
    source_format: str
    matched_by: str = strawberry.field(
        description="Why the record joined the work: the shared key, or 'first record'."
    )

    @strawberry.field(graphql_type=Library, metadata=fast(_known_library))
    def library(self, info: Info) -> Library | Awaitable[Library]:
        return info.context.services.directory.library(self.library_id, info)


@strawberry.input(description="Narrow a catalogue search.")
class WorkFilter:
    libraries: list[str] | None = None
    loanable_only: bool | None = None
    available_only: bool | None = None
    material_types: list[str] | None = None
    languages: list[str] | None = None
    year_from: int | None = None
    year_to: int | None = None
    isbn: str | None = None


@strawberry.type
class FacetCount:
    value: str
    count: int


@strawberry.type(description="Counts over the whole result set for one field.")
class Facet:
    field: str
    values: list[FacetCount]

    @classmethod
    def build(cls, name: str, values: list[FacetValueData]) -> Facet:
        return cls(field=name, values=[FacetCount(value=v.value, count=v.count) for v in values])


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class WorkEdge:
    cursor: str
    node: Work


@strawberry.type(description="One page of catalogue results, with facets.")
class WorkConnection:
    total_count: int
    edges: list[WorkEdge]
    page_info: PageInfo
    facets: list[Facet]


def encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        kind, _, number = base64.b64decode(cursor.encode(), validate=True).decode().partition(":")
        offset = int(number)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"after: {cursor!r} is not a cursor from this API") from exc
    if kind != "offset" or offset < 0:
        raise InvalidArgument(f"after: {cursor!r} is not a cursor from this API")
    return offset
