"""Failures lose nothing: search down, a crash during a drain, an import killed mid-file.

* OpenSearch is really stopped (``scripts/opensearch.sh stop``) and started again: search
  answers SEARCH_UNAVAILABLE, lending goes on, and once it is back the outbox catches up so
  the index matches the database.
* A drain that dies after writing the index but before marking its events is simply redone.
* ``kallimachos import marc`` killed with SIGKILL after its first batch: running it again
  completes with no duplicate records or items and nothing missing.
* PostgreSQL drops every pooled connection: the next requests still get their answers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pymarc
import pytest
from sqlalchemy import func, select

from kallimachos.api import cli
from kallimachos.api.settings import Settings
from kallimachos.db.engine import make_engine, make_sessionmaker
from kallimachos.db.models import BibRecord, Event, Item
from kallimachos.domain.actors import SYSTEM
from kallimachos.indexer.outbox import drain_all
from kallimachos.policies import load_policies
from kallimachos.search.backend import SearchQuery
from kallimachos.search.factory import make_search
from kallimachos.services import marc_import
from kallimachos.services.loanable import item_loanable
from tests.conftest import REPO, TEST_SECRET, gql, require_service
from tests.e2e.circulation_support import Desk, client_for

MONDAY = "2026-11-23T10:00:00+02:00"


def _control() -> str:
    control = os.environ.get("KALLIMACHOS_TEST_OPENSEARCH_CONTROL")
    if not control:
        message = "the OpenSearch under test is not managed by scripts/test.sh; cannot stop it"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return control


async def _count(settings: Settings, statement) -> int:  # type: ignore[no-untyped-def]
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            return int(await session.scalar(statement) or 0)
    finally:
        await engine.dispose()


@pytest.mark.integration
@pytest.mark.opensearch
async def test_search_down_circulation_goes_on_and_the_index_catches_up(tmp_path: Path) -> None:
    url = require_service("KALLIMACHOS_TEST_OPENSEARCH_URL", "OpenSearch")
    control = _control()
    index = f"k-fault-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'fault.sqlite3'}",
        secret=TEST_SECRET,
        clock_override=True,
        opensearch_url=url,
        opensearch_index=index,
    )
    await asyncio.to_thread(cli.load_demo, settings)
    search = (
        '{ search(filter: {libraries: ["UOC"], availableOnly: true}, first: 100) { totalCount } }'
    )
    async with client_for(settings) as http:
        desk = Desk(http, settings)
        before = (await gql(http, search))["data"]["search"]["totalCount"]  # type: ignore[index]
        copy = await desk.work_with_single_copy("UOC", "UOC-HER")
        stopped = await asyncio.to_thread(subprocess.run, [control, "stop"], capture_output=True)
        assert stopped.returncode == 0
        try:
            down = await gql(http, search)
            assert down["data"] is None
            assert down["errors"][0]["extensions"]["code"] == "SEARCH_UNAVAILABLE"  # type: ignore[index]
            health = await http.get("/health")
            assert health.status_code == 503
            lent = await desk.check_out(copy.barcode, "UOC-FACULT-001", "UOC-HER", MONDAY)
            assert lent["userErrors"] == []  # circulation does not need the search engine
        finally:
            started = await asyncio.to_thread(
                subprocess.run, [control, "start"], capture_output=True
            )
            assert started.returncode == 0, started.stderr
    # back up: the committed checkout is still in the outbox and reaches the index
    policies = load_policies()
    engine = make_engine(settings.database_url)
    backend = make_search(settings)
    try:
        drained = await drain_all(
            make_sessionmaker(engine), backend, item_loanable(policies), now=datetime.now(UTC)
        )
    finally:
        await backend.close()
        await engine.dispose()
    assert drained >= 1
    async with client_for(settings) as http:
        after = (await gql(http, search))["data"]["search"]["totalCount"]  # type: ignore[index]
    assert after == before - 1
    from opensearchpy import OpenSearch

    client = OpenSearch(hosts=[url])
    client.indices.delete(index=f"{index}*", ignore=[404])
    client.close()


async def test_a_drain_that_dies_after_indexing_is_redone_and_loses_nothing(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'drain.sqlite3'}",
        secret=TEST_SECRET,
        clock_override=True,
    )
    await asyncio.to_thread(cli.cmd_init, settings)
    await asyncio.to_thread(cli.cmd_import_patrons, settings, cli.DEMO_PATRONS)

    class Crash(Exception):
        pass

    real = make_search(settings)
    original = real.index_works

    async def index_then_die(documents):  # type: ignore[no-untyped-def]
        await original(documents)
        raise Crash("process killed between indexing and marking the events")

    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    await real.ensure_index()
    await marc_import.import_file(
        sessions,
        REPO / "kallimachos" / "demo" / "TUC.mrc",
        library_code="TUC",
        branch_code=None,
        fmt="auto",
        actor=SYSTEM,
        now=datetime.now(UTC),
    )
    real.index_works = index_then_die  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await drain_all(sessions, real, item_loanable(load_policies()), now=datetime.now(UTC))
    undrained = await _count(
        settings, select(func.count()).select_from(Event).where(Event.indexed_at.is_(None))
    )
    assert undrained > 0  # nothing was marked done
    real.index_works = original  # type: ignore[method-assign]
    await drain_all(sessions, real, item_loanable(load_policies()), now=datetime.now(UTC))
    assert (
        await _count(
            settings, select(func.count()).select_from(Event).where(Event.indexed_at.is_(None))
        )
        == 0
    )
    found = await real.search(SearchQuery(limit=1))
    works = await _count(settings, select(func.count(func.distinct(Item.work_id))))
    assert found.total == works
    await real.close()
    await engine.dispose()


def _big_marc_file(path: Path, copies: int) -> int:
    """The demo TUC records repeated with new control numbers: several import batches."""
    source = (REPO / "kallimachos" / "demo" / "TUC.mrc").read_bytes()
    records = [r for r in pymarc.MARCReader(source, to_unicode=False, force_utf8=False) if r]
    written = 0
    with path.open("wb") as out:
        for n in range(copies):
            for record in records:
                for field in record.get_fields("001"):
                    record.remove_field(field)
                record.add_ordered_field(pymarc.Field(tag="001", data=f"k{n}-{written}"))
                out.write(record.as_marc())
                written += 1
    return written


async def test_an_import_killed_mid_file_completes_on_rerun_without_duplicates(
    tmp_path: Path,
) -> None:
    db = tmp_path / "killed.sqlite3"
    settings = Settings(database_url=f"sqlite+aiosqlite:///{db}", secret=TEST_SECRET)
    await asyncio.to_thread(cli.cmd_init, settings)
    big = tmp_path / "big.mrc"
    total = _big_marc_file(big, copies=12)
    env = {
        **os.environ,
        "KALLIMACHOS_DATABASE_URL": settings.database_url,
        "KALLIMACHOS_SECRET": TEST_SECRET,
    }
    command = [
        sys.executable,
        "-m",
        "kallimachos.api.cli",
        "import",
        "marc",
        str(big),
        "--library",
        "TUC",
    ]
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(600):  # wait (bounded, 60 s) until a first batch is committed
            if process.returncode is not None:
                break
            if (
                db.exists()
                and await _count(settings, select(func.count()).select_from(BibRecord)) > 0
            ):
                break
            await asyncio.sleep(0.1)
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(process.wait(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
    partial = await _count(settings, select(func.count()).select_from(BibRecord))
    assert 0 < partial <= total
    rerun = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True
    )
    assert rerun.returncode == 0, rerun.stderr
    assert await _count(settings, select(func.count()).select_from(BibRecord)) == total
    items = await _count(settings, select(func.count()).select_from(Item))
    distinct = await _count(settings, select(func.count(func.distinct(Item.barcode))))
    assert items == distinct  # no copy imported twice
    again = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True
    )
    assert again.returncode == 0
    assert await _count(settings, select(func.count()).select_from(BibRecord)) == total
    assert await _count(settings, select(func.count()).select_from(Item)) == items


async def test_connections_the_server_dropped_are_replaced_before_a_request_uses_them(
    postgres_url: str,
) -> None:
    """PostgreSQL restarted or a proxy cut idle connections: the pool's check on checkout
    notices, opens fresh ones, and every request still gets its answer."""
    import asyncpg
    from sqlalchemy import text

    engine = make_engine(postgres_url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as first, sessions() as second:  # two pooled connections
            assert await first.scalar(text("select 1")) == 1
            assert await second.scalar(text("select 1")) == 1
        raw = postgres_url.replace("postgresql+asyncpg://", "postgresql://")
        admin = await asyncpg.connect(raw)
        try:
            killed = await admin.fetchval(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity"
                " where datname = current_database() and pid <> pg_backend_pid()"
            )
        finally:
            await admin.close()
        assert killed >= 2
        for _ in range(3):  # every pooled connection was dead; none reaches a request
            async with sessions() as session:
                assert await session.scalar(text("select 2")) == 2
    finally:
        await engine.dispose()
