"""The store of record: SQLAlchemy 2 tables for the whole consortium.

One schema serves SQLite (embedded default) and PostgreSQL.  Rules never live here:
columns hold facts (who borrowed which copy, when it is due); what is *allowed* is
decided in ``kallimachos.domain`` from the policy files.

Invariants enforced by the database itself, so that no race can break them:

* a copy has at most one open loan (partial unique index on ``loans.item_id``);
* a card number, library or branch code exists once; a barcode once per library;
* an idempotency key is used once per actor.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from kallimachos.db.types import Money, UtcDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UtcDateTime(),
        Decimal: Money(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


class Library(Base):
    """A member library of the consortium, or an external supplier (BL, Subito...)."""

    __tablename__ = "libraries"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_el: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    role: Mapped[str] = mapped_column(String(24))  # member | external_supplier
    currency: Mapped[str] = mapped_column(String(3), default="EUR")

    branches: Mapped[list[Branch]] = relationship(
        back_populates="library", order_by="Branch.code", lazy="raise"
    )


class Branch(Base):
    """A service point of a library; single-site libraries have one, coded like the library."""

    __tablename__ = "branches"

    id: Mapped[int] = mapped_column(primary_key=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("libraries.id"), index=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)
    name: Mapped[str] = mapped_column(String(200))

    library: Mapped[Library] = relationship(back_populates="branches", lazy="raise")


class Patron(Base):
    """A registered reader of one member library."""

    __tablename__ = "patrons"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_number: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(8), default="el")
    library_id: Mapped[int] = mapped_column(ForeignKey("libraries.id"), index=True)
    home_branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    category: Mapped[str] = mapped_column(String(40))
    expires_on: Mapped[date | None] = mapped_column(Date)
    fee_paid_until: Mapped[date | None] = mapped_column(Date)
    visit_ends_on: Mapped[date | None] = mapped_column(Date)
    suspended_until: Mapped[date | None] = mapped_column(Date)
    suspension_rule: Mapped[str | None] = mapped_column(String(32))
    requirements_met: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column()


class Work(Base):
    """A cluster of bibliographic records describing the same manifestation."""

    __tablename__ = "works"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    alternate_titles: Mapped[list[str]] = mapped_column(default=list)
    authors: Mapped[list[str]] = mapped_column(default=list)
    publication_year: Mapped[int | None] = mapped_column(Integer, index=True)
    language: Mapped[str | None] = mapped_column(String(8))
    material_type: Mapped[str] = mapped_column(String(32))
    isbns: Mapped[list[str]] = mapped_column(default=list)
    issns: Mapped[list[str]] = mapped_column(default=list)
    subjects: Mapped[list[str]] = mapped_column(default=list)
    publisher: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column()


class WorkKey(Base):
    """A clustering key (``isbn:978...``, ``title:...``) pointing at the work that owns it."""

    __tablename__ = "work_keys"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"), index=True)


class BibRecord(Base):
    """One source record from one library, kept verbatim, attached to a work."""

    __tablename__ = "bib_records"
    __table_args__ = (UniqueConstraint("library_id", "source_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("libraries.id"), index=True)
    source_key: Mapped[str] = mapped_column(String(200))
    source_format: Mapped[str] = mapped_column(String(16))
    control_number: Mapped[str | None] = mapped_column(String(64))
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id"), index=True)
    matched_by: Mapped[str] = mapped_column(String(600))
    match_keys: Mapped[list[str]] = mapped_column(default=list)
    title: Mapped[str] = mapped_column(Text)
    title_vernacular: Mapped[str | None] = mapped_column(Text)
    authors: Mapped[list[str]] = mapped_column(default=list)
    publication_year: Mapped[int | None] = mapped_column(Integer)
    isbns: Mapped[list[str]] = mapped_column(default=list)
    issns: Mapped[list[str]] = mapped_column(default=list)
    language: Mapped[str | None] = mapped_column(String(8))
    material_type: Mapped[str] = mapped_column(String(32))
    publisher: Mapped[str | None] = mapped_column(Text)
    edition: Mapped[str | None] = mapped_column(Text)
    subjects: Mapped[list[str]] = mapped_column(default=list)
    content_hash: Mapped[str] = mapped_column(String(64))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    imported_at: Mapped[datetime] = mapped_column()


class Item(Base):
    """A physical (or temporary ILL) copy.  Loanability is computed from policy, not stored."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("library_id", "barcode"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    barcode: Mapped[str] = mapped_column(String(64), index=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("libraries.id"), index=True)
    home_branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    current_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    transit_to_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id"), index=True)
    bib_record_id: Mapped[int | None] = mapped_column(ForeignKey("bib_records.id"), index=True)
    collection: Mapped[str] = mapped_column(String(32), default="general")
    material_type: Mapped[str] = mapped_column(String(32))
    item_type: Mapped[str | None] = mapped_column(String(64))
    call_number: Mapped[str | None] = mapped_column(String(200))
    source_location: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24), default="AVAILABLE")
    high_demand: Mapped[bool] = mapped_column(Boolean, default=False)
    damaged: Mapped[bool] = mapped_column(Boolean, default=False)
    unprocessed: Mapped[bool] = mapped_column(Boolean, default=False)
    not_for_loan: Mapped[bool] = mapped_column(Boolean, default=False)
    temporary_ill: Mapped[bool] = mapped_column(Boolean, default=False)
    replacement_cost: Mapped[Decimal | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column()


class Loan(Base):
    """A copy lent to a patron.  Open while ``returned_at`` is empty."""

    __tablename__ = "loans"
    __table_args__ = (
        Index(
            "uq_loans_open_item",
            "item_id",
            unique=True,
            sqlite_where=text("returned_at IS NULL"),
            postgresql_where=text("returned_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    patron_id: Mapped[int] = mapped_column(ForeignKey("patrons.id"), index=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("libraries.id"))
    checkout_branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    checked_out_at: Mapped[datetime] = mapped_column()
    due_date: Mapped[date] = mapped_column(Date)
    renewals: Mapped[int] = mapped_column(Integer, default=0)
    recalled: Mapped[bool] = mapped_column(Boolean, default=False)
    recalled_at: Mapped[datetime | None] = mapped_column()
    returned_at: Mapped[datetime | None] = mapped_column()
    return_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    rule: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=1)


class Hold(Base):
    """A patron's place in the queue for a work or a specific copy (FIFO by placed_at)."""

    __tablename__ = "holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    patron_id: Mapped[int] = mapped_column(ForeignKey("patrons.id"), index=True)
    work_id: Mapped[int | None] = mapped_column(ForeignKey("works.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), index=True)
    pickup_branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    status: Mapped[str] = mapped_column(String(16), default="WAITING", index=True)
    placed_at: Mapped[datetime] = mapped_column()
    trapped_item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"))
    ready_at: Mapped[datetime | None] = mapped_column()
    expires_on: Mapped[date | None] = mapped_column(Date)
    closed_at: Mapped[datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)


class Fee(Base):
    """Money a patron (or a requesting library) owes: overdue fine, replacement, ILL cost..."""

    __tablename__ = "fees"

    id: Mapped[int] = mapped_column(primary_key=True)
    patron_id: Mapped[int | None] = mapped_column(ForeignKey("patrons.id"), index=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("libraries.id"))
    debtor_library_id: Mapped[int | None] = mapped_column(ForeignKey("libraries.id"))
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id"))
    ill_request_id: Mapped[int | None] = mapped_column(ForeignKey("ill_requests.id"))
    kind: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal] = mapped_column()
    paid: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    status: Mapped[str] = mapped_column(String(8), default="OPEN")  # OPEN PAID WAIVED
    rule: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    assessed_at: Mapped[datetime] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)


class IllRequest(Base):
    """A patron's interlibrary loan or copy request: one intent, many supplier attempts."""

    __tablename__ = "ill_requests"
    __table_args__ = (UniqueConstraint("patron_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patron_id: Mapped[int] = mapped_column(ForeignKey("patrons.id"), index=True)
    requesting_library_id: Mapped[int] = mapped_column(ForeignKey("libraries.id"), index=True)
    pickup_branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    work_id: Mapped[int | None] = mapped_column(ForeignKey("works.id"))
    citation: Mapped[dict[str, Any] | None] = mapped_column()
    service_type: Mapped[str] = mapped_column(String(8))  # LOAN | COPY
    material_type: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), index=True)
    supplier_library_id: Mapped[int | None] = mapped_column(ForeignKey("libraries.id"))
    temporary_item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"))
    payer: Mapped[str | None] = mapped_column(String(8))
    supplier_charge: Mapped[Decimal | None] = mapped_column()
    shipping: Mapped[Decimal | None] = mapped_column()
    service_charge: Mapped[Decimal | None] = mapped_column()
    vat: Mapped[Decimal | None] = mapped_column()
    total_cost: Mapped[Decimal | None] = mapped_column()
    max_cost: Mapped[Decimal | None] = mapped_column()
    prepaid: Mapped[bool] = mapped_column(Boolean, default=False)
    delivery_method: Mapped[str | None] = mapped_column(String(32))
    supplier_due_date: Mapped[date | None] = mapped_column(Date)
    patron_due_date: Mapped[date | None] = mapped_column(Date)
    pickup_deadline: Mapped[date | None] = mapped_column(Date)
    request_received_on: Mapped[date | None] = mapped_column(Date)
    checked_out_on: Mapped[date | None] = mapped_column(Date)
    return_shipped_on: Mapped[date | None] = mapped_column(Date)
    copyright_declared: Mapped[bool] = mapped_column(Boolean, default=False)
    renewals: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column()
    processed_at: Mapped[datetime | None] = mapped_column()
    shipped_at: Mapped[datetime | None] = mapped_column()
    received_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)


class SupplierAttempt(Base):
    """One lender tried for an ILL request, in rota order, with its ISO 18626 status."""

    __tablename__ = "ill_supplier_attempts"
    __table_args__ = (UniqueConstraint("request_id", "rank"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("ill_requests.id"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    supplier_library_id: Mapped[int] = mapped_column(ForeignKey("libraries.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"))
    status: Mapped[str] = mapped_column(String(32))
    rank_reason: Mapped[str] = mapped_column(Text)
    reason_unfilled: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()


class Event(Base):
    """Outbox and audit history in one append-only table.

    Every state change writes one row in the same transaction as the change: who did it,
    when, which rule applied, the state before and after.  The indexer drains rows whose
    ``indexed_at`` is empty; notification workers track their own delivery state.
    """

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_aggregate", "aggregate_type", "aggregate_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column()
    recorded_at: Mapped[datetime] = mapped_column()
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_ref: Mapped[str | None] = mapped_column(String(64))
    aggregate_type: Mapped[str] = mapped_column(String(32))
    aggregate_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(48))
    rule: Mapped[str | None] = mapped_column(String(32))
    before: Mapped[dict[str, Any] | None] = mapped_column()
    after: Mapped[dict[str, Any] | None] = mapped_column()
    payload: Mapped[dict[str, Any] | None] = mapped_column()
    indexed_at: Mapped[datetime | None] = mapped_column(index=True)


class RevokedToken(Base):
    """A bearer token withdrawn before it expired."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    revoked_at: Mapped[datetime] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)


class IdempotencyKey(Base):
    """A client's key for a request already made: the same key returns the same result."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("patron_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patron_id: Mapped[int] = mapped_column(ForeignKey("patrons.id"))
    key: Mapped[str] = mapped_column(String(128))
    outcome: Mapped[str] = mapped_column(String(32))
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("holds.id"))
    ill_request_id: Mapped[int | None] = mapped_column(ForeignKey("ill_requests.id"))
    created_at: Mapped[datetime] = mapped_column()


class Webhook(Base):
    """A library's HTTPS endpoint for HMAC-signed JSON notices of its interlibrary requests.

    The secret signs every call (``kallimachos.notify.webhooks``); it is kept because an
    HMAC needs it, and never shown again after registration.
    """

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("libraries.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column()


class Delivery(Base):
    """One notice of one event to one recipient by one channel, and how sending it went.

    Created by the notification worker in the transaction that marks the event read
    (:class:`NotificationMark`), so a notice exists once the event does; ``status`` moves
    PENDING -> SENT, or -> RETRYING (``next_attempt_at``, exponential backoff) -> SENT, or
    -> FAILED when it can never be sent (no e-mail address, address refused, webhook gone).
    The rendered ``subject``/``body`` are kept, so a retry sends exactly what was meant.
    """

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # EMAIL | WEBHOOK
    notice: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(2000))  # an e-mail address or a webhook URL
    library_id: Mapped[int] = mapped_column(ForeignKey("libraries.id"), index=True)
    patron_id: Mapped[int | None] = mapped_column(ForeignKey("patrons.id"), index=True)
    webhook_id: Mapped[int | None] = mapped_column(ForeignKey("webhooks.id"), index=True)
    language: Mapped[str | None] = mapped_column(String(8))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="PENDING")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()


class NotificationMark(Base):
    """An event the notification worker has turned into deliveries (possibly none).

    The lowest mark is the floor below which every event has been handled; marks above it
    let events that commit out of id order (concurrent PostgreSQL writers) still be seen.
    Marks older than the settle window are folded into the floor and deleted.
    """

    __tablename__ = "notification_marks"

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    marked_at: Mapped[datetime] = mapped_column()
