"""Check that the batched MARC import stores exactly what the one-record-at-a-time import did.

Imports the same sequence of files with a reference ``marc_import`` (by default
:data:`REFERENCE`, the last commit with the one-record-at-a-time import, read with
``git show``) and with the working tree's, each
into a fresh database, with the same fixed clock, and compares the reports and every row of
``works``, ``work_keys``, ``bib_records``, ``items`` and the import events, ids included.

The sequence covers what the batch path must get right: the demo consortium (clustering across
libraries, shared records, 880 titles), re-imports (unchanged), a file of changed records that
move between works and merge them, repeated control numbers, barcodes already in use or
repeated inside a batch, new records clustering with each other and with stored works inside
one batch, values too long for a column (refused by PostgreSQL only), broken records, and the
whole sequence again with tiny batches (so that runs cross batch boundaries) and every file
read through the parser process.

    .venv/bin/python bench/import_equivalence.py                       # SQLite
    .venv/bin/python bench/import_equivalence.py --postgres ADMIN_URL  # also PostgreSQL

``ADMIN_URL`` is a ``postgresql+asyncpg://`` URL of a role that may create databases (the
``scripts/postgres.sh`` role may); two scratch databases are created and dropped.
Exit status 0 when everything matches.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import importlib.util
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pymarc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kallimachos.api import cli  # noqa: E402
from kallimachos.api.settings import Settings  # noqa: E402
from kallimachos.db.engine import make_engine, make_sessionmaker  # noqa: E402
from kallimachos.services import marc_import  # noqa: E402

DEMO = ROOT / "kallimachos" / "demo"
FIXTURES = ROOT / "tests" / "fixtures" / "marc"
NOW = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
REFERENCE = "94e9dac"  # kallimachos/services/marc_import.py before the batch path
TABLES = {
    "works": "select * from works order by id",
    "work_keys": "select * from work_keys order by key",
    "bib_records": "select * from bib_records order by id",
    "items": "select * from items order by id",
    "events": "select id, actor_kind, actor_ref, aggregate_type, aggregate_id, kind, payload,"
    " occurred_at from events where aggregate_type = 'bib_record' order by id",
}


def reference_module(rev: str, workdir: Path) -> ModuleType:
    source = subprocess.run(
        ["git", "show", f"{rev}:kallimachos/services/marc_import.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = workdir / "reference_marc_import.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("reference_marc_import", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _field(record: pymarc.Record, tag: str) -> pymarc.Field | None:
    fields = record.get_fields(tag)
    return fields[0] if fields else None


def _set_sub(field: pymarc.Field, code: str, value: str) -> None:
    if code in field:
        field[code] = value
    else:
        field.add_subfield(code, value)


def isbn13(first12: str) -> str:
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(first12))
    return first12 + str((10 - total % 10) % 10)


def tricky_file(workdir: Path) -> Path:
    """Changed, moved, repeated and clashing records built from the UOC and AEG demo files."""
    uoc = list(pymarc.parse_xml_to_array(str(DEMO / "UOC.marcxml")))
    aeg = list(pymarc.parse_xml_to_array(str(DEMO / "AEG.marcxml")))
    out: list[pymarc.Record] = []
    for i, rec in enumerate(uoc[:60]):
        r = copy.deepcopy(rec)
        if i < 20 and (f := _field(r, "245")) is not None and "a" in f:
            f["a"] = f["a"] + " (revised)"  # changed title: update, maybe another work
        elif 20 <= i < 30:
            donor = _field(uoc[i + 20], "020")
            for old in r.get_fields("020"):
                r.remove_field(old)
            if donor is not None:
                r.add_ordered_field(copy.deepcopy(donor))  # joins record i+20's work
        elif 30 <= i < 35:
            for old in r.get_fields("001"):
                r.remove_field(old)  # new record (sha256 key) whose barcodes exist
        out.append(r)
    out.append(copy.deepcopy(uoc[35]))  # same 001 twice more: #2, #3
    out.append(copy.deepcopy(uoc[35]))
    for n in range(40):  # new records, new barcodes, clustering inside the batch
        r = copy.deepcopy(uoc[60 + n % 20])
        for old in r.get_fields("001"):
            r.remove_field(old)
        r.add_ordered_field(pymarc.Field(tag="001", data=f"BENCH-NEW-{n}"))
        if n % 4 == 1:  # shares an ISBN with an AEG record (a stored work)
            donor = _field(aeg[n], "020")
            for old in r.get_fields("020"):
                r.remove_field(old)
            if donor is not None:
                r.add_ordered_field(copy.deepcopy(donor))
        for k, item in enumerate(r.get_fields("952")):
            barcode = f"BENCH-{n}-{k}"
            if n in (7, 8):
                barcode = "BENCH-SHARED"  # one barcode on two new records
            _set_sub(item, "p", barcode)
            if n == 11:
                _set_sub(item, "o", "x" * 300)  # too long for items.call_number
        if n % 4 == 2 or n in (17, 18):  # new works, some shared by two new records
            for old in r.get_fields("020"):
                r.remove_field(old)
            if n % 4 == 2:
                r.add_ordered_field(
                    pymarc.Field(
                        tag="020",
                        indicators=[" ", " "],
                        subfields=[pymarc.Subfield("a", isbn13(f"979123{n // 8:06d}"))],
                    )
                )
            if (f := _field(r, "245")) is not None and "a" in f:
                f["a"] = f"New work {n // 8}" if n not in (17, 18) else "Z" * 400
        if n == 13:
            for old in r.get_fields("952"):
                r.remove_field(old)  # no holdings: one generated barcode
        out.append(r)
    path = workdir / "tricky.marcxml"
    with path.open("wb") as handle:
        writer = pymarc.XMLWriter(handle)
        for r in out:
            writer.write(r)
        writer.close(close_fh=False)
    return path


def steps(tricky: Path) -> list[tuple[Path, str, str | None]]:
    return [
        *((DEMO / name, library, branch) for name, library, branch in cli.DEMO_RECORDS),
        (DEMO / "UOC.marcxml", "UOC", "UOC-HER"),
        (tricky, "UOC", "UOC-HER"),
        (tricky, "UOC", "UOC-HER"),
        (FIXTURES / "bad_records.mrc", "TUC", None),
        (FIXTURES / "three-records-second-bad.xml", "TUC", None),
        (FIXTURES / "cotesT.mrc", "CUT", None),
        (FIXTURES / "1251.dat", "AEG", "AEG-MYT"),
        (FIXTURES / "koha_pairs.marcxml", "AEG", "AEG-MYT"),
    ]


async def run_sequence(
    module: ModuleType, url: str, sequence: list[tuple[Path, str, str | None]]
) -> list[tuple[Any, ...]]:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    reports = []
    try:
        for path, library, branch in sequence:
            report = await module.import_file(
                sessions,
                path,
                library_code=library,
                branch_code=branch,
                fmt="auto",
                actor=cli.CLI_ACTOR,
                now=NOW,
            )
            reports.append(
                (
                    path.name,
                    report.records_new,
                    report.records_updated,
                    report.records_unchanged,
                    report.items_new,
                    report.works_new,
                    [str(p) for p in report.problems],
                    sorted(report.changed_works),
                )
            )
    finally:
        await engine.dispose()
    return reports


async def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return {
                name: [tuple(row) for row in await conn.execute(text(sql))]
                for name, sql in TABLES.items()
            }
    finally:
        await engine.dispose()


def known_report_difference(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """The reference counted a record as new/updated (and its works and items) before it
    failed to store; the batched import counts only what was committed.  Same file, same
    problems, same changed works, and the reference's counters are the larger ones."""
    same = a[0] == b[0] and a[6] == b[6] and a[7] == b[7]
    failed = any(": not stored: " in p for p in a[6])
    return same and failed and all(x >= y for x, y in zip(a[1:6], b[1:6], strict=True))


def renumber_surrogates(rows: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[Any]]:
    """Items without their ids (column 0): PostgreSQL sequences skip values that a failed
    INSERT consumed, differently when statements differ; nothing here refers to item ids."""
    return {**rows, "items": [row[1:] for row in rows["items"]]}


def compare(label: str, a: Any, b: Any) -> bool:
    if a == b:
        return True
    print(f"  DIFFERENT: {label}")
    if isinstance(a, dict):
        for key in a:
            if a[key] != b.get(key):
                rows_a, rows_b = a[key], b.get(key, [])
                print(f"    table {key}: {len(rows_a)} vs {len(rows_b)} rows")
                for ra, rb in zip(rows_a, rows_b, strict=False):
                    if ra != rb:
                        print(f"      reference: {str(ra)[:300]}\n      batched:   {str(rb)[:300]}")
                        break
    else:
        for ra, rb in zip(a, b, strict=False):
            if ra != rb:
                print(f"    reference: {str(ra)[:400]}\n    batched:   {str(rb)[:400]}")
    return False


def check(
    reference: ModuleType,
    urls: tuple[str, str],
    sequence: list[tuple[Path, str, str | None]],
    reset: Callable[[str], None],
    batch: int | None,
) -> bool:
    results = []
    for module, url in zip((reference, marc_import), urls, strict=True):
        reset(url)
        saved = module.BATCH_SIZE, getattr(module, "PARALLEL_PARSE_BYTES", None)
        if batch is not None:
            module.BATCH_SIZE = batch
            if saved[1] is not None:
                module.PARALLEL_PARSE_BYTES = 0  # every file through the parser process
        try:
            reports = asyncio.run(run_sequence(module, url, sequence))
        finally:
            module.BATCH_SIZE = saved[0]
            if saved[1] is not None:
                module.PARALLEL_PARSE_BYTES = saved[1]
        results.append((reports, asyncio.run(dump(url))))
    (reports_a, rows_a), (reports_b, rows_b) = results
    known = [
        i
        for i, (a, b) in enumerate(zip(reports_a, reports_b, strict=True))
        if a != b and known_report_difference(a, b)
    ]
    for i in known:
        a, b = reports_a[i], reports_b[i]
        print(f"  known difference, step {i + 1} ({a[0]}): counters {a[1:6]} vs {b[1:6]}")
        print("    (the reference also counted records that failed to store)")
        reports_a[i] = b
    if urls[0].startswith("postgresql"):
        rows_a, rows_b = renumber_surrogates(rows_a), renumber_surrogates(rows_b)
    ok = compare("reports", reports_a, reports_b) & compare("tables", rows_a, rows_b)
    counts = ", ".join(f"{len(v)} {k}" for k, v in rows_b.items())
    print(f"  {'same' if ok else 'NOT the same'} ({counts})")
    return ok


def sqlite_reset(workdir: Path) -> Callable[[str], None]:
    def reset(url: str) -> None:
        path = Path(url.split(":///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        init(url, workdir)

    return reset


def init(url: str, workdir: Path) -> None:
    settings = Settings(database_url=url, secret="equivalence")
    cli.cmd_init(settings)


def postgres_reset(admin_url: str, workdir: Path) -> Callable[[str], None]:
    def reset(url: str) -> None:
        name = url.rsplit("/", 1)[1]

        async def recreate() -> None:
            engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
            async with engine.connect() as conn:
                await conn.execute(text(f'drop database if exists "{name}"'))
                await conn.execute(text(f'create database "{name}"'))
            await engine.dispose()

        asyncio.run(recreate())
        init(url, workdir)

    return reset


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", default=REFERENCE, help="git revision of the reference")
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="also compare on PostgreSQL")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory(prefix="k-equivalence-") as tmp:
        workdir = Path(tmp)
        reference = reference_module(args.reference, workdir)
        sequence = steps(tricky_file(workdir))
        engines: list[tuple[str, tuple[str, str], Callable[[str], None]]] = [
            (
                "sqlite",
                tuple(f"sqlite+aiosqlite:///{workdir / n}.sqlite3" for n in ("ref", "new")),  # type: ignore[misc]
                sqlite_reset(workdir),
            )
        ]
        if args.postgres:
            base = args.postgres.rsplit("/", 1)[0]
            engines.append(
                (
                    "postgresql",
                    (f"{base}/k_equivalence_ref", f"{base}/k_equivalence_new"),
                    postgres_reset(args.postgres, workdir),
                )
            )
        for name, urls, reset in engines:
            for batch in (None, 7):
                how = "tiny batches, parser process" if batch else "default batches"
                print(f"{name}, {how}:")
                ok &= check(reference, urls, sequence, reset, batch)
    print("EQUIVALENT" if ok else "DIFFERENCES FOUND")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
