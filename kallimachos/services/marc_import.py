"""Import one library's MARC records: records, clustering into works, items, outbox.

A librarian's view of the rules applied here:

* every record in the file is tried; a broken record is reported (file, position,
  reason) and skipped, and the rest of the file imports;
* importing the same file again changes nothing (records are known by library + control
  number, items by library + barcode; generated barcodes are deterministic);
* a record joins the work of another record that shares an ISBN/ISSN, otherwise one that
  shares the normalised title/author/year key; a changed record may move to another work;
* copies come from the holdings fields (952, 949, 852, 995); a record without any gets one
  copy at the import branch; a holdings branch code the library does not have puts the copy
  at the import branch and keeps the original code on the item.

Records are written in batches, each record inside its own savepoint so a database error
on one record cannot lose the others.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kallimachos.db.models import BibRecord, Branch, Item, Library, Work, WorkKey
from kallimachos.domain.actors import Actor
from kallimachos.domain.work_keys import identifier_keys, shared_record_key, title_key
from kallimachos.indexer.extract import ParsedRecord
from kallimachos.indexer.holdings import HoldingData
from kallimachos.indexer.reader import FileFormat, RecordError, iter_records
from kallimachos.services.events import record_event

BATCH_SIZE = 200


@dataclass(frozen=True)
class ImportProblem:
    """One record that was not imported, and why."""

    file: str
    position: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: record {self.position}: {self.reason}"


@dataclass
class ImportReport:
    records_new: int = 0
    records_updated: int = 0
    records_unchanged: int = 0
    items_new: int = 0
    works_new: int = 0
    problems: list[ImportProblem] = field(default_factory=list)
    changed_works: set[int] = field(default_factory=set)

    @property
    def records_seen(self) -> int:
        return self.records_new + self.records_updated + self.records_unchanged + len(self.problems)


@dataclass(frozen=True)
class ImportTarget:
    library: Library
    default_branch: Branch
    branches_by_code: dict[str, Branch]


class UnknownLibrary(ValueError):
    """The library or branch named on the command line does not exist."""


async def resolve_target(
    session: AsyncSession, library_code: str, branch_code: str | None
) -> ImportTarget:
    library = await session.scalar(select(Library).where(Library.code == library_code))
    if library is None or library.role != "member":
        raise UnknownLibrary(f"unknown member library {library_code!r}")
    branches = list(await session.scalars(select(Branch).where(Branch.library_id == library.id)))
    by_code = {b.code: b for b in branches}
    if branch_code is None:
        if len(branches) != 1:
            raise UnknownLibrary(
                f"{library_code} has {len(branches)} branches: name one with --branch "
                f"({', '.join(sorted(by_code))})"
            )
        default = branches[0]
    elif branch_code in by_code:
        default = by_code[branch_code]
    else:
        raise UnknownLibrary(f"{branch_code!r} is not a branch of {library_code}")
    return ImportTarget(library=library, default_branch=default, branches_by_code=by_code)


def _batches(
    entries: Iterable[ParsedRecord | RecordError], size: int
) -> Iterator[list[ParsedRecord | RecordError]]:
    batch: list[ParsedRecord | RecordError] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def import_file(
    sessions: async_sessionmaker[AsyncSession],
    path: Path,
    *,
    library_code: str,
    branch_code: str | None,
    fmt: FileFormat,
    actor: Actor,
    now: datetime,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Stream ``path`` into the store; returns what happened (raises only for bad targets)."""
    report = ImportReport()
    seen_keys: dict[str, int] = {}
    async with sessions() as session:
        target = await resolve_target(session, library_code, branch_code)
    for batch in _batches(iter_records(path, fmt), BATCH_SIZE):
        async with sessions.begin() as session:
            for entry in batch:
                if isinstance(entry, RecordError):
                    report.problems.append(ImportProblem(str(path), entry.position, entry.reason))
                    continue
                try:
                    source_key = _unique_in_file(_source_key(entry), seen_keys)
                    async with session.begin_nested():
                        await _import_record(
                            session, target, entry, source_key, report, actor=actor, now=now
                        )
                except (SQLAlchemyError, ValueError) as exc:
                    report.problems.append(
                        ImportProblem(str(path), entry.position, f"not stored: {exc}")
                    )
        if on_progress is not None:
            on_progress(len(batch))
    return report


def _unique_in_file(key: str, seen: dict[str, int]) -> str:
    """A control number repeated inside one file names distinct records: number them.

    The numbering follows the file's order, so importing the same file again gives the
    same keys (idempotent) and no record overwrites another.
    """
    count = seen.get(key, 0) + 1
    seen[key] = count
    return key if count == 1 else f"{key}#{count}"


def _source_key(record: ParsedRecord) -> str:
    if record.control_number and record.control_number.strip():
        return f"001:{record.control_number.strip()}"
    return f"sha256:{_hash(record.raw)}"


def _hash(raw: bytes | str) -> str:
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    return hashlib.sha256(data).hexdigest()


def _keys(record: ParsedRecord) -> list[str]:
    """Clustering keys, strongest first: identifiers, the shared source record, the title."""
    keys = sorted(identifier_keys(record))
    shared = shared_record_key(record)
    if shared:
        keys.append(shared)
    title = title_key(record)
    if title:
        keys.append(title)
    return keys


async def _import_record(
    session: AsyncSession,
    target: ImportTarget,
    record: ParsedRecord,
    source_key: str,
    report: ImportReport,
    *,
    actor: Actor,
    now: datetime,
) -> None:
    content_hash = _hash(record.raw)
    existing = await session.scalar(
        select(BibRecord).where(
            BibRecord.library_id == target.library.id, BibRecord.source_key == source_key
        )
    )
    if existing is not None and existing.content_hash == content_hash:
        report.records_unchanged += 1
        return
    keys = _keys(record)
    work_id, matched_by, created = await _choose_work(session, record, keys, existing, now=now)
    if created:
        report.works_new += 1
    raw = record.raw.encode("utf-8") if isinstance(record.raw, str) else record.raw
    fields = {
        "source_format": record.source_format,
        "control_number": record.control_number,
        "work_id": work_id,
        "matched_by": matched_by,
        "match_keys": keys,
        "title": record.title or "[untitled]",
        "title_vernacular": record.title_vernacular,
        "authors": list(record.authors),
        "publication_year": record.publication_year,
        "isbns": list(record.isbns),
        "issns": list(record.issns),
        "language": record.language,
        "material_type": record.material_type,
        "publisher": record.publisher,
        "edition": record.edition,
        "subjects": list(record.subjects),
        "content_hash": content_hash,
        "raw": raw,
        "imported_at": now,
    }
    old_work_id: int | None = None
    if existing is None:
        bib = BibRecord(library_id=target.library.id, source_key=source_key, **fields)
        session.add(bib)
        report.records_new += 1
    else:
        bib = existing
        old_work_id = existing.work_id
        for key, value in fields.items():
            setattr(bib, key, value)
        report.records_updated += 1
    await session.flush()
    report.items_new += await _sync_items(session, target, bib, record, now=now)
    touched = {work_id} | ({old_work_id} if old_work_id is not None else set())
    for wid in touched:
        await refresh_work(session, wid, now=now)
    report.changed_works |= touched
    record_event(
        session,
        actor=actor,
        now=now,
        recorded_at=now,
        aggregate_type="bib_record",
        aggregate_id=bib.id,
        kind="record.imported" if existing is None else "record.updated",
        payload={
            "work_ids": sorted(touched),
            "work_id": work_id,
            "previous_work_id": old_work_id,
            "matched_by": matched_by,
            "library": target.library.code,
        },
    )


async def _choose_work(
    session: AsyncSession,
    record: ParsedRecord,
    keys: list[str],
    existing: BibRecord | None,
    *,
    now: datetime,
) -> tuple[int, str, bool]:
    """The work this record belongs to, why, and whether it had to be created.

    Identifier keys are tried before the title key.  A record that matches nothing keeps
    its own work if it is alone there; otherwise it starts a new work.
    """
    if keys:
        rows = (
            await session.execute(select(WorkKey.key, WorkKey.work_id).where(WorkKey.key.in_(keys)))
        ).all()
        by_key = {row.key: row.work_id for row in rows}
        for key in keys:
            if key in by_key:
                return by_key[key], key, False
    if existing is not None and await _is_alone(session, existing):
        return existing.work_id, existing.matched_by, False
    work = Work(
        title=record.title or "[untitled]", material_type=record.material_type, updated_at=now
    )
    session.add(work)
    await session.flush()
    return work.id, "first record of the work", True


async def _is_alone(session: AsyncSession, record: BibRecord) -> bool:
    others = await session.scalar(
        select(BibRecord.id)
        .where(BibRecord.work_id == record.work_id, BibRecord.id != record.id)
        .limit(1)
    )
    return others is None


async def refresh_work(session: AsyncSession, work_id: int, *, now: datetime) -> None:
    """Recompute a work's description and keys from its records; delete it if empty."""
    records = list(
        await session.scalars(
            select(BibRecord).where(BibRecord.work_id == work_id).order_by(BibRecord.id)
        )
    )
    work = await session.get(Work, work_id)
    if work is None:
        return
    await session.execute(delete(WorkKey).where(WorkKey.work_id == work_id))
    if not records:
        has_items = await session.scalar(select(Item.id).where(Item.work_id == work_id).limit(1))
        if has_items is None:
            await session.delete(work)
        return
    lead = records[0]
    work.title = lead.title
    work.alternate_titles = _union(
        [r.title_vernacular] if r.title_vernacular else [] for r in records
    ) + [r.title for r in records if r.title != lead.title]
    work.authors = _union(r.authors for r in records)
    work.publication_year = lead.publication_year or next(
        (r.publication_year for r in records if r.publication_year), None
    )
    work.language = lead.language or next((r.language for r in records if r.language), None)
    work.material_type = lead.material_type
    work.isbns = _union(r.isbns for r in records)
    work.issns = _union(r.issns for r in records)
    work.subjects = _union(r.subjects for r in records)
    work.publisher = lead.publisher or next((r.publisher for r in records if r.publisher), None)
    work.updated_at = now
    keys = {key for r in records for key in r.match_keys}
    taken = set(
        await session.scalars(
            select(WorkKey.key).where(WorkKey.key.in_(keys), WorkKey.work_id != work_id)
        )
    )
    for key in sorted(keys - taken):
        session.add(WorkKey(key=key, work_id=work_id))
    await session.flush()


def _union(lists: Iterable[list[str]]) -> list[str]:
    seen: dict[str, None] = {}
    for values in lists:
        for value in values:
            seen.setdefault(value, None)
    return list(seen)


async def _sync_items(
    session: AsyncSession,
    target: ImportTarget,
    bib: BibRecord,
    record: ParsedRecord,
    *,
    now: datetime,
) -> int:
    """Create the copies described by the record's holdings; returns how many are new."""
    holdings: list[HoldingData | None] = list(record.holdings) or [None]
    created = 0
    for index, holding in enumerate(holdings):
        barcode = (holding.barcode if holding else None) or _generated_barcode(
            target.library.code, bib.source_key, index
        )
        item = await session.scalar(
            select(Item).where(Item.library_id == target.library.id, Item.barcode == barcode)
        )
        branch = target.default_branch
        source_location = None
        if holding is not None and holding.branch_code:
            branch = target.branches_by_code.get(holding.branch_code, target.default_branch)
            if holding.branch_code not in target.branches_by_code:
                source_location = holding.branch_code
        values = {
            "home_branch_id": branch.id,
            "work_id": bib.work_id,
            "bib_record_id": bib.id,
            "collection": holding.collection if holding else "general",
            "material_type": record.material_type,
            "item_type": holding.item_type if holding else None,
            "call_number": holding.call_number if holding else None,
            "source_location": source_location,
            "damaged": bool(holding and holding.damaged),
            "not_for_loan": bool(holding and holding.not_for_loan),
        }
        if item is None:
            status = "AVAILABLE"
            if holding is not None and holding.lost:
                status = "LOST"
            elif holding is not None and holding.withdrawn:
                status = "WITHDRAWN"
            item = Item(
                library_id=target.library.id,
                barcode=barcode,
                status=status,
                current_branch_id=branch.id,
                created_at=now,
                **values,
            )
            session.add(item)
            created += 1
        else:
            for key, value in values.items():
                setattr(item, key, value)
    await session.flush()
    return created


def _generated_barcode(library: str, source_key: str, index: int) -> str:
    digest = hashlib.sha1(f"{library}|{source_key}|{index}".encode()).hexdigest()[:12]
    return f"G{digest.upper()}"
