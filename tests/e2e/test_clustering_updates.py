"""Clustering is incremental, and a record's update can move it between works (issue 3)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pymarc
from sqlalchemy import select

from kallimachos.api import cli
from kallimachos.api.settings import Settings
from kallimachos.db.engine import make_engine, make_sessionmaker
from kallimachos.db.models import BibRecord, Library, Work
from tests.conftest import TEST_SECRET


def _record(control: str, title: str, isbn: str, author: str = "Doe, Jane") -> pymarc.Record:
    record = pymarc.Record(leader="00000nam a2200000 a 4500")
    record.add_field(pymarc.Field(tag="001", data=control))
    record.add_field(pymarc.Field(tag="008", data="200101s2020    gr            000 0 eng d"))
    record.add_field(
        pymarc.Field(tag="020", indicators=[" ", " "], subfields=[pymarc.Subfield("a", isbn)])
    )
    record.add_field(
        pymarc.Field(tag="100", indicators=["1", " "], subfields=[pymarc.Subfield("a", author)])
    )
    record.add_field(
        pymarc.Field(tag="245", indicators=["1", "0"], subfields=[pymarc.Subfield("a", title)])
    )
    return record


def _write(path: Path, *records: pymarc.Record) -> Path:
    with path.open("wb") as out:
        for record in records:
            out.write(record.as_marc())
    return path


def _works(settings: Settings) -> dict[tuple[str, str], int]:
    async def run() -> dict[tuple[str, str], int]:
        engine = make_engine(settings.database_url)
        async with make_sessionmaker(engine)() as session:
            rows = (
                await session.execute(
                    select(Library.code, BibRecord.control_number, BibRecord.work_id).join(
                        Library, Library.id == BibRecord.library_id
                    )
                )
            ).all()
            works = set(await session.scalars(select(Work.id)))
        await engine.dispose()
        assert {w for *_, w in rows} <= works
        return {(code, control): work for code, control, work in rows}

    return asyncio.run(run())


def test_a_changed_isbn_moves_a_record_to_the_work_it_now_describes(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'c.sqlite3'}", secret=TEST_SECRET
    )
    cli.cmd_init(settings)
    first = _record("U1", "Greek libraries", "9780596000271")
    second = _record("U2", "Cretan archives", "9781565922433", author="Roe, Rick")
    uoc = _write(tmp_path / "uoc.mrc", first, second)
    assert (
        cli.main_with_settings(
            ["import", "marc", str(uoc), "--library", "UOC", "--branch", "UOC-HER"], settings
        )
        == 0
    )
    aeg = _write(tmp_path / "aeg.mrc", _record("A9", "Greek libraries", "0-596-00027-8"))
    assert (
        cli.main_with_settings(
            ["import", "marc", str(aeg), "--library", "AEG", "--branch", "AEG-MYT"], settings
        )
        == 0
    )
    works = _works(settings)
    assert works[("AEG", "A9")] == works[("UOC", "U1")]  # joined incrementally, by ISBN-10 = 13
    assert works[("UOC", "U2")] != works[("UOC", "U1")]
    # the UOC cataloguer corrects U1: it is in fact the Cretan archives book
    corrected = _write(
        tmp_path / "uoc2.mrc",
        _record("U1", "Cretan archives", "9781565922433", author="Roe, Rick"),
        second,
    )
    assert (
        cli.main_with_settings(
            ["import", "marc", str(corrected), "--library", "UOC", "--branch", "UOC-HER"], settings
        )
        == 0
    )
    moved = _works(settings)
    assert moved[("UOC", "U1")] == moved[("UOC", "U2")]
    assert moved[("AEG", "A9")] == works[("AEG", "A9")]  # AEG's record keeps the old work
    # importing the same file again changes nothing
    assert (
        cli.main_with_settings(
            ["import", "marc", str(corrected), "--library", "UOC", "--branch", "UOC-HER"], settings
        )
        == 0
    )
    assert _works(settings) == moved
