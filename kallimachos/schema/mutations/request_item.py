"""``requestItem``: the one round trip — choose the best source and set it going (CONS-2)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import strawberry

from kallimachos.schema.circulation import Hold
from kallimachos.schema.context import Info
from kallimachos.schema.ill import IllRequest, IllServiceType, RequestKind, RequestOption
from kallimachos.schema.mutations.common import UserError, node_id, text, user_errors
from kallimachos.services.outcome import Abort, invalid
from kallimachos.services.request_item import Ask, Citation, request_item

MATERIAL_TYPES = (
    "printed_book",
    "book_chapter",
    "ejournal_article",
    "print_journal_article",
    "doctoral_thesis",
    "conference_proceedings",
    "conference_presentation",
)


@strawberry.input(description="Material not in the union catalogue, for external suppliers.")
class CitationInput:
    title: str
    material_type: str = strawberry.field(
        description="One of CUT-A3's kinds: " + ", ".join(MATERIAL_TYPES)
    )
    authors: list[str] | None = None
    year: int | None = None
    isbn: str | None = None
    issn: str | None = None
    journal: str | None = None
    pages: str | None = None


@strawberry.input
class RequestItemInput:
    work_id: strawberry.ID | None = None
    citation: CitationInput | None = None
    patron_card_number: str
    pickup_branch: str
    service_type: IllServiceType = IllServiceType.LOAN
    max_cost: str | None = strawberry.field(default=None, description="Most the patron will pay.")
    idempotency_key: str | None = strawberry.field(
        default=None, description="Repeat a call safely: the same key returns the same result."
    )


@strawberry.type
class RequestItemPayload:
    outcome: RequestKind | None
    hold: Hold | None
    ill_request: IllRequest | None
    options: list[RequestOption] = strawberry.field(description="Every ranked option considered.")
    user_errors: list[UserError]


def _citation(value: CitationInput | None) -> Citation | None:
    if value is None:
        return None
    if value.material_type not in MATERIAL_TYPES:
        raise Abort(
            invalid(
                f"materialType must be one of {', '.join(MATERIAL_TYPES)}", "citation.materialType"
            )
        )
    title = text(value.title, "citation.title", max_length=500)
    authors = value.authors or []
    if len(authors) > 20 or any(not a.strip() or len(a) > 200 for a in authors):
        raise Abort(invalid("at most 20 authors of 1-200 characters", "citation.authors"))
    if value.year is not None and not 1000 <= value.year <= 2100:
        raise Abort(invalid("year must be between 1000 and 2100", "citation.year"))
    return Citation(
        title=title,
        material_type=value.material_type,  # type: ignore[arg-type]
        authors=tuple(a.strip() for a in authors),
        year=value.year,
        isbn=_optional(value.isbn, "citation.isbn", 32),
        issn=_optional(value.issn, "citation.issn", 16),
        journal=_optional(value.journal, "citation.journal", 500),
        pages=_optional(value.pages, "citation.pages", 50),
    )


def _optional(value: str | None, field: str, limit: int) -> str | None:
    return None if value is None else text(value, field, max_length=limit)


def _money(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise Abort(invalid(f"{value!r} is not an amount like 25.00", "maxCost")) from exc
    if not amount.is_finite() or amount < 0:
        raise Abort(invalid("maxCost must be zero or more", "maxCost"))
    return amount


def _empty(errors: list[UserError]) -> RequestItemPayload:
    return RequestItemPayload(
        outcome=None, hold=None, ill_request=None, options=[], user_errors=errors
    )


async def resolve(info: Info, input: RequestItemInput) -> RequestItemPayload:
    services = info.context.services
    try:
        key = input.idempotency_key
        if key is not None:
            key = text(key, "idempotencyKey", max_length=128)
        ask = Ask(
            patron_card=text(input.patron_card_number, "patronCardNumber"),
            pickup_branch=text(input.pickup_branch, "pickupBranch"),
            service_type=input.service_type.value.lower(),
            work_id=node_id(input.work_id, "Work", "workId") if input.work_id else None,
            citation=_citation(input.citation),
            max_cost=_money(input.max_cost),
            idempotency_key=key,
        )
        outcome = await request_item(
            services.sessions,
            services.policies,
            actor=info.context.actor,
            now=info.context.now,
            ask=ask,
        )
    except Abort as stop:
        return _empty(user_errors(stop.problems))
    done = outcome.value
    if done is None:
        return _empty(user_errors(outcome.problems))
    return RequestItemPayload(
        outcome=done.outcome,
        hold=Hold.from_row(done.hold) if done.hold else None,
        ill_request=IllRequest.from_row(done.ill_request) if done.ill_request else None,
        options=[RequestOption.of(o, done.libraries, done.branches) for o in done.options],
        user_errors=[],
    )
