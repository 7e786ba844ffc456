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

How it is written (see docs/performance.md): records are read in batches of
:data:`BATCH_SIZE`, one transaction per batch.  For each batch, one query finds which records
are already stored (unchanged ones are skipped at once).  Runs of **new** records whose copies
have barcodes nobody has yet take the *batch path*: a few queries load the clustering keys and
works they can meet, the records are clustered in memory exactly as the one-by-one rules below
would do in file order, and works, records, items, keys and outbox events are written with a
handful of multi-row statements (``COPY`` on PostgreSQL, see ``indexer/bulk_rows.py``) inside
one savepoint.  Everything else (changed records, barcodes already in use, values too long for
a column) takes the *record path*: the record alone, inside its own savepoint.  When a
batch-path write fails, its savepoint is rolled back and each of its records is retried on the
record path, so a database error on one record still cannot lose the others, and the result is
the same as importing one record at a time.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import pickle
import struct
import sys
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, cast

from sqlalchemy import String, Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kallimachos.db.any_of import any_of
from kallimachos.db.models import BibRecord, Branch, Event, Item, Library, Work, WorkKey
from kallimachos.domain.actors import Actor
from kallimachos.domain.work_keys import identifier_keys, shared_record_key, title_key
from kallimachos.indexer import reader
from kallimachos.indexer.bulk_rows import copy_supported, insert_rows, next_ids
from kallimachos.indexer.collector import fewer_collections
from kallimachos.indexer.extract import ParsedRecord
from kallimachos.indexer.holdings import HoldingData
from kallimachos.indexer.reader import FileFormat, RecordError, UnreadableFile, iter_records
from kallimachos.services.events import record_event

BATCH_SIZE = 1000
"""Records per transaction."""

NEW_WORK = "first record of the work"
_IN_CHUNK = 5000  # values per IN (...) list: far below SQLite's and asyncpg's limits

_WORKS = cast(Table, Work.__table__)
_RECORDS = cast(Table, BibRecord.__table__)
_ITEMS = cast(Table, Item.__table__)
_KEYS = cast(Table, WorkKey.__table__)
_EVENTS = cast(Table, Event.__table__)


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


Entry = ParsedRecord | RecordError


def _batches(entries: Iterable[Entry], size: int) -> Iterator[list[Entry]]:
    batch: list[Entry] = []
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
    with fewer_collections():
        async for batch in _read_batches(path, fmt):
            async with sessions.begin() as session:
                run = _BatchRun(session, target, report, file=str(path), actor=actor, now=now)
                await run.import_batch(batch, seen_keys)
            if on_progress is not None:
                on_progress(len(batch))
    return report


# --- reading: inline, or in a helper process for big files --------------------------------

PARALLEL_PARSE_BYTES = 8 * 1024 * 1024
"""Files at least this big are parsed by a helper process while this one writes."""
_FRAME = struct.Struct("!Q")  # length prefix of one pickled message on the helper's stdout
_HELPER = """
import pickle, struct, sys
from kallimachos.indexer import reader

path, fmt, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = sys.stdout.buffer

def send(kind, value):
    data = pickle.dumps((kind, value), protocol=pickle.HIGHEST_PROTOCOL)
    out.write(struct.pack("!Q", len(data)) + data)

try:
    batch = []
    for entry in reader.iter_records(path, fmt):
        batch.append(entry)
        if len(batch) >= size:
            send("batch", batch)
            batch = []
    if batch:
        send("batch", batch)
    send("done", None)
except reader.UnreadableFile as exc:
    send("unreadable", (type(exc).__name__, exc.path, exc.reason))
except BaseException as exc:
    send("error", f"{type(exc).__name__}: {exc}")
try:
    out.flush()
except BrokenPipeError:
    pass
"""
"""The helper process: only the reader, so it starts fast and small; pickled batches on
stdout, each behind an 8-byte length (``_FRAME``)."""


async def _read_batches(path: Path, fmt: FileFormat) -> AsyncIterator[list[Entry]]:
    """The file's entries in file order, :data:`BATCH_SIZE` at a time.

    Parsing costs about as much CPU as storing, so a big file is parsed by a helper process
    (``python -c`` :data:`_HELPER`, one, reading the file front to back, so the order is the
    file's) that pipes pickled batches to this one while it stores the previous batch.
    ``UnreadableFile`` is raised at once, as ``iter_records`` does.
    """
    entries = iter_records(path, fmt)  # raises UnreadableFile now if the file is unreadable
    if not _big(path):
        for batch in _batches(entries, BATCH_SIZE):
            yield batch
        return
    close = getattr(entries, "close", None)  # a generator holding the open file
    if callable(close):
        close()
    helper = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _HELPER,
        os.fspath(path),
        fmt,
        str(BATCH_SIZE),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        limit=4 * 1024 * 1024,  # bytes buffered ahead of the writer
        env=_helper_environment(),
    )
    assert helper.stdout is not None
    finished = False
    try:
        while True:
            try:
                (size,) = _FRAME.unpack(await helper.stdout.readexactly(_FRAME.size))
                kind, value = pickle.loads(await helper.stdout.readexactly(size))
            except asyncio.IncompleteReadError as exc:
                code = await helper.wait()
                message = f"reading {path}: the parser process died (exit {code})"
                raise RuntimeError(message) from exc
            if kind == "batch":
                yield value
            elif kind == "done":
                finished = True
                return
            elif kind == "unreadable":
                name, file, reason = value
                raise getattr(reader, name, UnreadableFile)(file, reason)
            else:
                raise RuntimeError(f"reading {path} failed: {value}")
    finally:
        if not finished and helper.returncode is None:
            helper.kill()  # the writer stopped early: the rest of the file is not wanted
        await helper.wait()


def _helper_environment() -> dict[str, str]:
    """This environment, with the directory holding this ``kallimachos`` package first on the
    helper's path (so it reads with the same code even when not installed)."""
    root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": root if not path else root + os.pathsep + path}


def _big(path: Path) -> bool:
    try:
        return os.path.getsize(path) >= PARALLEL_PARSE_BYTES
    except OSError:
        return False


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


def _record_fields(
    record: ParsedRecord, keys: list[str], content_hash: str, now: datetime
) -> dict[str, Any]:
    """The stored columns of a record, except its work and why it joined it."""
    raw = record.raw.encode("utf-8") if isinstance(record.raw, str) else record.raw
    return {
        "source_format": record.source_format,
        "control_number": record.control_number,
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


@dataclass
class _Outcome:
    """What importing one record changed (added to the report once it is committed)."""

    kind: str  # new | updated | unchanged
    works_new: int = 0
    items_new: int = 0
    touched: set[int] = field(default_factory=set)

    def add_to(self, report: ImportReport) -> None:
        if self.kind == "new":
            report.records_new += 1
        elif self.kind == "updated":
            report.records_updated += 1
        else:
            report.records_unchanged += 1
        report.works_new += self.works_new
        report.items_new += self.items_new
        report.changed_works |= self.touched


# --- the record path: one record, its own savepoint ---------------------------------------


async def _import_record(
    session: AsyncSession,
    target: ImportTarget,
    record: ParsedRecord,
    source_key: str,
    *,
    actor: Actor,
    now: datetime,
) -> _Outcome:
    content_hash = _hash(record.raw)
    existing = await session.scalar(
        select(BibRecord).where(
            BibRecord.library_id == target.library.id, BibRecord.source_key == source_key
        )
    )
    if existing is not None and existing.content_hash == content_hash:
        return _Outcome("unchanged")
    keys = _keys(record)
    work_id, matched_by, created = await _choose_work(session, record, keys, existing, now=now)
    fields = _record_fields(record, keys, content_hash, now)
    fields["work_id"] = work_id
    fields["matched_by"] = matched_by
    old_work_id: int | None = None
    if existing is None:
        bib = BibRecord(library_id=target.library.id, source_key=source_key, **fields)
        session.add(bib)
    else:
        bib = existing
        old_work_id = existing.work_id
        for key, value in fields.items():
            setattr(bib, key, value)
    await session.flush()
    items_new = await _sync_items(session, target, bib, record, now=now)
    touched = {work_id} | ({old_work_id} if old_work_id is not None else set())
    for wid in touched:
        await refresh_work(session, wid, now=now)
    record_event(
        session,
        actor=actor,
        now=now,
        recorded_at=now,
        aggregate_type="bib_record",
        aggregate_id=bib.id,
        kind="record.imported" if existing is None else "record.updated",
        payload=_event_payload(touched, work_id, old_work_id, matched_by, target),
    )
    return _Outcome(
        "new" if existing is None else "updated",
        works_new=int(created),
        items_new=items_new,
        touched=touched,
    )


def _event_payload(
    touched: set[int],
    work_id: int,
    old_work_id: int | None,
    matched_by: str,
    target: ImportTarget,
) -> dict[str, Any]:
    return {
        "work_ids": sorted(touched),
        "work_id": work_id,
        "previous_work_id": old_work_id,
        "matched_by": matched_by,
        "library": target.library.code,
    }


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
    return work.id, NEW_WORK, True


async def _is_alone(session: AsyncSession, record: BibRecord) -> bool:
    others = await session.scalar(
        select(BibRecord.id)
        .where(BibRecord.work_id == record.work_id, BibRecord.id != record.id)
        .limit(1)
    )
    return others is None


class _Described(Protocol):
    """What a work's description reads from each of its records."""

    @property
    def title(self) -> str: ...
    @property
    def title_vernacular(self) -> str | None: ...
    @property
    def authors(self) -> list[str]: ...
    @property
    def publication_year(self) -> int | None: ...
    @property
    def language(self) -> str | None: ...
    @property
    def material_type(self) -> str: ...
    @property
    def isbns(self) -> list[str]: ...
    @property
    def issns(self) -> list[str]: ...
    @property
    def subjects(self) -> list[str]: ...
    @property
    def publisher(self) -> str | None: ...


def _description(records: Sequence[_Described], now: datetime) -> dict[str, Any]:
    """A work's columns from its records, oldest record first (the lead)."""
    lead = records[0]
    return {
        "title": lead.title,
        "alternate_titles": _union(
            [r.title_vernacular] if r.title_vernacular else [] for r in records
        )
        + [r.title for r in records if r.title != lead.title],
        "authors": _union(r.authors for r in records),
        "publication_year": lead.publication_year
        or next((r.publication_year for r in records if r.publication_year), None),
        "language": lead.language or next((r.language for r in records if r.language), None),
        "material_type": lead.material_type,
        "isbns": _union(r.isbns for r in records),
        "issns": _union(r.issns for r in records),
        "subjects": _union(r.subjects for r in records),
        "publisher": lead.publisher or next((r.publisher for r in records if r.publisher), None),
        "updated_at": now,
    }


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
    for name, value in _description(records, now).items():
        setattr(work, name, value)
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


def _item_values(
    target: ImportTarget, holding: HoldingData | None, material_type: str
) -> dict[str, Any]:
    """The item columns a (re-)import sets, except the work and the record."""
    branch = target.default_branch
    source_location = None
    if holding is not None and holding.branch_code:
        branch = target.branches_by_code.get(holding.branch_code, target.default_branch)
        if holding.branch_code not in target.branches_by_code:
            source_location = holding.branch_code
    return {
        "home_branch_id": branch.id,
        "collection": holding.collection if holding else "general",
        "material_type": material_type,
        "item_type": holding.item_type if holding else None,
        "call_number": holding.call_number if holding else None,
        "source_location": source_location,
        "damaged": bool(holding and holding.damaged),
        "not_for_loan": bool(holding and holding.not_for_loan),
    }


def _new_item_status(holding: HoldingData | None) -> str:
    if holding is not None and holding.lost:
        return "LOST"
    if holding is not None and holding.withdrawn:
        return "WITHDRAWN"
    return "AVAILABLE"


def _barcodes(target: ImportTarget, record: ParsedRecord, source_key: str) -> list[str]:
    """The barcode of each copy the record describes (generated when the record has none)."""
    holdings: list[HoldingData | None] = list(record.holdings) or [None]
    return [
        (holding.barcode if holding else None)
        or _generated_barcode(target.library.code, source_key, index)
        for index, holding in enumerate(holdings)
    ]


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
    for holding, barcode in zip(holdings, _barcodes(target, record, bib.source_key), strict=True):
        item = await session.scalar(
            select(Item).where(Item.library_id == target.library.id, Item.barcode == barcode)
        )
        values = _item_values(target, holding, record.material_type)
        values["work_id"] = bib.work_id
        values["bib_record_id"] = bib.id
        if item is None:
            item = Item(
                library_id=target.library.id,
                barcode=barcode,
                status=_new_item_status(holding),
                current_branch_id=values["home_branch_id"],
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


# --- the batch path -----------------------------------------------------------------------


def _string_limits(table: Table) -> list[tuple[str, int]]:
    return [
        (column.name, column.type.length)
        for column in table.columns
        if isinstance(column.type, String) and column.type.length
    ]


_LIMITS = {table.name: _string_limits(table) for table in (_RECORDS, _ITEMS)}
_KEY_LIMIT = min(  # a key is stored as a work key and may become a record's matched_by
    length
    for name, length in [*_string_limits(_KEYS), *_string_limits(_RECORDS)]
    if name in ("key", "matched_by")
)


def _fits(table: Table, row: dict[str, Any]) -> bool:
    """No string longer than its column (PostgreSQL would refuse the whole statement)."""
    for name, length in _LIMITS[table.name]:
        value = row.get(name)
        if isinstance(value, str) and len(value) > length:
            return False
    return True


@dataclass
class _Candidate:
    """A new record on its way through the batch path."""

    record: ParsedRecord
    source_key: str
    keys: list[str]
    row: dict[str, Any]  # bib_records columns without work_id / matched_by
    items: list[dict[str, Any]]  # items columns without work_id / bib_record_id


@dataclass
class _Member:
    """A record as its work's description reads it; ``order`` is (0, id) or (1, position)."""

    order: tuple[int, int]
    title: str
    title_vernacular: str | None
    authors: list[str]
    publication_year: int | None
    language: str | None
    material_type: str
    isbns: list[str]
    issns: list[str]
    subjects: list[str]
    publisher: str | None
    match_keys: list[str]


_MEMBER_COLUMNS = (
    BibRecord.work_id,
    BibRecord.id,
    BibRecord.title,
    BibRecord.title_vernacular,
    BibRecord.authors,
    BibRecord.publication_year,
    BibRecord.language,
    BibRecord.material_type,
    BibRecord.isbns,
    BibRecord.issns,
    BibRecord.subjects,
    BibRecord.publisher,
    BibRecord.match_keys,
)


def _member(order: tuple[int, int], row: dict[str, Any]) -> _Member:
    return _Member(
        order=order,
        title=row["title"],
        title_vernacular=row["title_vernacular"],
        authors=row["authors"],
        publication_year=row["publication_year"],
        language=row["language"],
        material_type=row["material_type"],
        isbns=row["isbns"],
        issns=row["issns"],
        subjects=row["subjects"],
        publisher=row["publisher"],
        match_keys=row["match_keys"],
    )


def _in_order(members: list[_Member]) -> list[_Member]:
    return sorted(members, key=lambda m: m.order)


def _chunked(values: Iterable[Any], size: int = _IN_CHUNK) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for value in values:
        chunk.append(value)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _BatchRun:
    """One batch of records in one transaction (see the module docstring)."""

    def __init__(
        self,
        session: AsyncSession,
        target: ImportTarget,
        report: ImportReport,
        *,
        file: str,
        actor: Actor,
        now: datetime,
    ) -> None:
        self.session = session
        self.target = target
        self.report = report
        self.file = file
        self.actor = actor
        self.now = now

    async def import_batch(
        self, batch: list[ParsedRecord | RecordError], seen: dict[str, int]
    ) -> None:
        first_problem = len(self.report.problems)
        entries: list[tuple[ParsedRecord, str, str] | ImportProblem] = []
        for entry in batch:
            if isinstance(entry, RecordError):
                entries.append(ImportProblem(self.file, entry.position, entry.reason))
                continue
            try:
                source_key = _unique_in_file(_source_key(entry), seen)
                entries.append((entry, source_key, _hash(entry.raw)))
            except (SQLAlchemyError, ValueError) as exc:
                entries.append(self._problem(entry, exc))
        stored = await self._stored_hashes(
            [e[1] for e in entries if not isinstance(e, ImportProblem)]
        )
        candidates = [
            self._candidate(*e) if not isinstance(e, ImportProblem) and e[1] not in stored else None
            for e in entries
        ]
        in_use = await self._barcodes_in_use(
            [item["barcode"] for c in candidates if c is not None for item in c.items]
        )
        group: list[_Candidate] = []
        for e, candidate in zip(entries, candidates, strict=True):
            if isinstance(e, ImportProblem):
                self.report.problems.append(e)
                continue
            record, source_key, content_hash = e
            if stored.get(source_key) == content_hash:
                self.report.records_unchanged += 1
                continue
            barcodes = (
                [item["barcode"] for item in candidate.items]
                if candidate is not None
                else _barcodes(self.target, record, source_key)
            )
            fast = candidate is not None and len(set(barcodes)) == len(barcodes)
            fast = fast and not any(b in in_use for b in barcodes)
            in_use.update(barcodes)
            if fast:
                group.append(cast(_Candidate, candidate))
                continue
            await self._write_group(group)
            group = []
            await self._import_one(record, source_key)
        await self._write_group(group)
        # file order, as when every record was tried one after the other
        self.report.problems[first_problem:] = sorted(
            self.report.problems[first_problem:], key=lambda p: p.position
        )

    def _problem(self, record: ParsedRecord, exc: Exception) -> ImportProblem:
        return ImportProblem(self.file, record.position, f"not stored: {exc}")

    async def _stored_hashes(self, source_keys: list[str]) -> dict[str, str]:
        stored: dict[str, str] = {}
        for chunk in _chunked(source_keys):
            rows = await self.session.execute(
                select(BibRecord.source_key, BibRecord.content_hash).where(
                    BibRecord.library_id == self.target.library.id,
                    any_of(self.session, BibRecord.source_key, chunk),
                )
            )
            stored.update((row.source_key, row.content_hash) for row in rows)
        return stored

    async def _barcodes_in_use(self, barcodes: list[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunked(set(barcodes)):
            found.update(
                await self.session.scalars(
                    select(Item.barcode).where(
                        Item.library_id == self.target.library.id,
                        any_of(self.session, Item.barcode, chunk),
                    )
                )
            )
        return found

    def _candidate(
        self, record: ParsedRecord, source_key: str, content_hash: str
    ) -> _Candidate | None:
        """The rows of a new record, or None when it must take the record path."""
        try:
            keys = _keys(record)
        except ValueError:
            return None  # the record path reports it exactly as before
        if any(len(key) > _KEY_LIMIT for key in keys):
            return None
        library_id = self.target.library.id
        row = _record_fields(record, keys, content_hash, self.now)
        row["library_id"] = library_id
        row["source_key"] = source_key
        if not _fits(_RECORDS, row):
            return None
        items = []
        holdings: list[HoldingData | None] = list(record.holdings) or [None]
        barcodes = _barcodes(self.target, record, source_key)
        for holding, barcode in zip(holdings, barcodes, strict=True):
            item = _item_values(self.target, holding, record.material_type)
            item.update(
                library_id=library_id,
                barcode=barcode,
                status=_new_item_status(holding),
                current_branch_id=item["home_branch_id"],
                created_at=self.now,
            )
            if not _fits(_ITEMS, item):
                return None
            items.append(item)
        return _Candidate(record, source_key, keys, row, items)

    async def _import_one(self, record: ParsedRecord, source_key: str) -> None:
        try:
            async with self.session.begin_nested():
                outcome = await _import_record(
                    self.session, self.target, record, source_key, actor=self.actor, now=self.now
                )
        except (SQLAlchemyError, ValueError) as exc:
            self.report.problems.append(self._problem(record, exc))
            return
        outcome.add_to(self.report)

    async def _write_group(self, group: list[_Candidate]) -> None:
        if not group:
            return
        # Events of the record path so far go first, in file order; then forget the ORM
        # objects, whose rows the multi-row statements below may change.
        await self.session.flush()
        self.session.expunge_all()
        try:
            async with self.session.begin_nested():
                outcomes = await self._write_new_records(group)
        except (SQLAlchemyError, ValueError):
            self.session.expunge_all()
            for candidate in group:
                await self._import_one(candidate.record, candidate.source_key)
            return
        for outcome in outcomes:
            outcome.add_to(self.report)

    async def _owners(self, keys: Iterable[str]) -> dict[str, int]:
        owners: dict[str, int] = {}
        for chunk in _chunked(keys):
            rows = await self.session.execute(
                select(WorkKey.key, WorkKey.work_id).where(any_of(self.session, WorkKey.key, chunk))
            )
            owners.update((row.key, row.work_id) for row in rows)
        return owners

    async def _write_new_records(self, group: list[_Candidate]) -> list[_Outcome]:
        """Cluster new records in memory as the record path would, then write them in bulk."""
        session = self.session
        # 1. Who owns the group's keys now; the works that own them, with their records
        #    and every key those records carry (a refresh may claim any of them).
        group_keys = {key for c in group for key in c.keys}
        owner = await self._owners(group_keys)
        members: dict[int, list[_Member]] = defaultdict(list)
        known_works = set(owner.values())
        for chunk in _chunked(known_works):
            for row in await session.execute(
                select(*_MEMBER_COLUMNS).where(any_of(session, BibRecord.work_id, chunk))
            ):
                members[row.work_id].append(_member((0, row.id), row._asdict()))
        more = {key for ms in members.values() for m in ms for key in m.match_keys}
        owner.update(await self._owners(more - group_keys))
        for chunk in _chunked(known_works):
            owner.update(
                (row.key, row.work_id)
                for row in await session.execute(
                    select(WorkKey.key, WorkKey.work_id).where(
                        any_of(session, WorkKey.work_id, chunk)
                    )
                )
            )
        before = dict(owner)
        owned: dict[int, set[str]] = defaultdict(set)
        for key, wid in owner.items():
            owned[wid].add(key)

        # 2. Cluster in file order (new works get temporary ids -1, -2, ...).
        new_works: list[int] = []
        placed: list[tuple[int, str]] = []  # (work id, matched_by) per record
        for position, c in enumerate(group):
            work_id = next((owner[key] for key in c.keys if key in owner), None)
            if work_id is None:
                work_id = -(len(new_works) + 1)
                new_works.append(work_id)
                matched_by = NEW_WORK
            else:
                matched_by = next(key for key in c.keys if key in owner)
            placed.append((work_id, matched_by))
            members[work_id].append(_member((1, position), c.row))
            # refresh_work: the work keeps the keys of its records that no other work owns
            union = {key for m in members[work_id] for key in m.match_keys}
            for key in owned[work_id] - union:
                del owner[key]
            owned[work_id] &= union
            for key in union:
                if key not in owner:
                    owner[key] = work_id
                    owned[work_id].add(key)

        # 3. Write: works, records, items, keys, events.
        touched = {work_id for work_id, _ in placed}
        described = {wid: _description(_in_order(members[wid]), self.now) for wid in touched}
        real: dict[int, int] = {}
        if new_works:
            result = await session.execute(
                insert(_WORKS).returning(_WORKS.c.id, sort_by_parameter_order=True),
                [described[wid] for wid in new_works],
            )
            real = dict(zip(new_works, result.scalars().all(), strict=True))
        updated = [{"b_id": wid, **described[wid]} for wid in sorted(touched) if wid > 0]
        if updated:
            await session.execute(
                update(_WORKS).where(_WORKS.c.id == bindparam("b_id")),
                updated,
            )

        def resolve(wid: int) -> int:
            return real[wid] if wid < 0 else wid

        rows = [
            {**c.row, "work_id": resolve(wid), "matched_by": matched_by}
            for c, (wid, matched_by) in zip(group, placed, strict=True)
        ]
        if await copy_supported(session):
            bib_ids = await next_ids(session, _RECORDS, len(rows))
            for record_row, bib_id in zip(rows, bib_ids, strict=True):
                record_row["id"] = bib_id
            await insert_rows(session, _RECORDS, rows)
        else:
            result = await session.execute(
                insert(_RECORDS).returning(_RECORDS.c.id, sort_by_parameter_order=True), rows
            )
            bib_ids = list(result.scalars().all())
        items = [
            {**item, "work_id": row["work_id"], "bib_record_id": bib_id}
            for c, row, bib_id in zip(group, rows, bib_ids, strict=True)
            for item in c.items
        ]
        await insert_rows(session, _ITEMS, items)
        gone = [key for key, wid in before.items() if owner.get(key) != wid]
        for chunk in _chunked(gone):
            await session.execute(delete(_KEYS).where(any_of(session, _KEYS.c.key, chunk)))
        claimed = [
            {"key": key, "work_id": resolve(wid)}
            for key, wid in owner.items()
            if before.get(key) != wid
        ]
        await insert_rows(session, _KEYS, claimed)
        events = [
            {
                "occurred_at": self.now,
                "recorded_at": self.now,
                "actor_kind": self.actor.kind.value,
                "actor_ref": self.actor.ref,
                "aggregate_type": "bib_record",
                "aggregate_id": bib_id,
                "kind": "record.imported",
                "rule": None,
                "before": None,
                "after": None,
                "payload": _event_payload(
                    {row["work_id"]}, row["work_id"], None, row["matched_by"], self.target
                ),
            }
            for row, bib_id in zip(rows, bib_ids, strict=True)
        ]
        await insert_rows(session, _EVENTS, events)
        return [
            _Outcome(
                "new",
                works_new=int(matched_by == NEW_WORK),
                items_new=len(c.items),
                touched={row["work_id"]},
            )
            for c, row, matched_by in zip(group, rows, (m for _, m in placed), strict=True)
        ]
