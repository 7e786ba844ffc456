"""The benchmark scenarios, one class each; add one to :func:`all_scenarios`.

A scenario gets the :class:`Env` (URLs, settings, the generated data, options) and returns
table rows.  ``unavailable()`` returning a reason makes the harness print a
"not yet available" row instead of running it.  To add one, subclass :class:`Scenario`,
implement ``run``, and list an instance in :func:`all_scenarios`; the harness runs them in
list order (the import first: it loads the data the others read) and prints them by number.
The circulation scenarios (3, 4) live in :mod:`bench.circulation`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench import loadgen
from kallimachos.api.settings import Settings
from kallimachos.schema.catalogue import WorkFilter
from kallimachos.schema.search_query import build_query
from kallimachos.search.backend import SearchQuery
from kallimachos.search.opensearch import mapping
from kallimachos.search.opensearch.query import build_search_body, document_source

LIBRARIES = ("UOC", "AEG", "TUC", "CUT")
KALLIMACHOS = str(Path(sys.executable).with_name("kallimachos"))  # the venv's command


@dataclass
class Row:
    number: int
    scenario: str
    load: str  # "fixed 100/s", "saturation 16 conn", "end to end", ...
    throughput: str = "—"
    p50: str = "—"
    p95: str = "—"
    p99: str = "—"
    errors: str = "—"
    note: str = ""

    @classmethod
    def from_load(cls, number: int, scenario: str, result: loadgen.LoadResult) -> Row:
        load = (
            f"fixed {result.offered_rps:g}/s"
            if result.mode == "fixed"
            else f"saturation, {result.connections} conn"
        )

        def ms(p: float) -> str:
            value = result.percentile(p)
            return "—" if value is None else f"{value:.1f}"

        return cls(
            number,
            scenario,
            load,
            throughput=f"{result.throughput:.0f} req/s",
            p50=ms(50),
            p95=ms(95),
            p99=ms(99),
            errors=f"{result.errors}/{result.completed + result.errors}",
            note=(result.first_error or "")[:120],
        )


@dataclass
class Env:
    """What every scenario may use."""

    workdir: Path
    manifest: dict[str, Any]
    database_url: str
    opensearch_url: str
    index: str
    secret: str
    seconds: float  # per load measurement
    warmup: float
    rate: float  # the fixed offered rate, requests/s; 0: 60 % of GraphQL's saturation rate
    connections: int  # saturation
    workers: int  # uvicorn workers for the GraphQL server
    small: bool
    measured: dict[str, Any] = field(default_factory=dict)  # raw figures, for results.json

    @property
    def settings(self) -> Settings:
        return Settings(
            database_url=self.database_url,
            opensearch_url=self.opensearch_url,
            opensearch_index=self.index,
            secret=self.secret,
        )

    def kallimachos_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            KALLIMACHOS_DATABASE_URL=self.database_url,
            KALLIMACHOS_OPENSEARCH_URL=self.opensearch_url,
            KALLIMACHOS_OPENSEARCH_INDEX=self.index,
            KALLIMACHOS_SECRET=self.secret,
        )
        return env


class Scenario:
    number: int
    title: str

    def unavailable(self, env: Env) -> str | None:
        """Why this scenario cannot run yet (None: it can)."""
        return None

    def run(self, env: Env) -> list[Row]:
        raise NotImplementedError


# --- the search mix -----------------------------------------------------------------------

SEARCH_GRAPHQL = """
query BenchSearch($q: String, $f: WorkFilter) {
  search(query: $q, filter: $f, first: 20) {
    totalCount
    facets { field values { value count } }
    edges { node { id title publicationYear language materialType
      holdings { library { code } loanableCount availableCount
        items { barcode status loanable dueDate branch { code } } } } }
  }
}"""


def search_mix(words: tuple[str, ...], count: int = 256) -> list[tuple[str, dict[str, Any]]]:
    """Text plus two filters each (libraries and one other), deterministic, varied."""
    mix = []
    for n in range(count):
        word = words[(n * 7) % len(words)]
        text = word if n % 3 else f"{word} {1 + n % 9}"
        libraries = [LIBRARIES[n % 4]] if n % 2 else [LIBRARIES[n % 4], LIBRARIES[(n + 1) % 4]]
        second: dict[str, Any] = [
            {"availableOnly": True},
            {"loanableOnly": True},
            {"yearFrom": 1950 + n % 40, "yearTo": 2000 + n % 24},
            {"materialTypes": ["book"]},
        ][n % 4]
        mix.append((text, {"libraries": libraries, **second}))
    return mix


def search_query(text: str, work_filter: dict[str, Any]) -> SearchQuery:
    """The SearchQuery the GraphQL resolver builds for these arguments (same code path)."""
    names = {
        "libraries": "libraries",
        "availableOnly": "available_only",
        "loanableOnly": "loanable_only",
        "yearFrom": "year_from",
        "yearTo": "year_to",
        "materialTypes": "material_types",
    }
    f = WorkFilter(**{names[k]: v for k, v in work_filter.items()})
    return build_query(text, f, 20, None)


def graphql_data(body: bytes) -> dict[str, Any] | None:
    """The ``data`` of a GraphQL response without errors, else None."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if data.get("errors") or not isinstance(data.get("data"), dict):
        return None
    return dict(data["data"])


def _graphql_ok(body: bytes) -> bool:
    data = graphql_data(body)
    return data is not None and data.get("search") is not None


def _opensearch_ok(body: bytes) -> bool:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return "hits" in data and not data.get("timed_out")


def measure(
    env: Env, number: int, title: str, make: loadgen.MakeRequest, check: loadgen.Check
) -> list[Row]:
    """Warm up, saturation, then the fixed offered rate; the server settles in between.

    With ``env.rate`` 0 the fixed rate is 60 % of the first saturation rate measured (the
    GraphQL one), and the same rate is offered to every later scenario, so that their
    latencies compare at the same load.
    """
    fixed, saturated = measure_results(env, make, check)
    env.measured[f"scenario{number}"] = {
        "fixed": fixed.summary(),
        "saturation": saturated.summary(),
    }
    return [Row.from_load(number, title, saturated), Row.from_load(number, title, fixed)]


def measure_results(
    env: Env,
    make: loadgen.MakeRequest,
    check: loadgen.Check,
    *,
    rate: Callable[[loadgen.LoadResult], float] | None = None,
    fixed_connections: int | None = None,
    phase: Callable[[str], None] | None = None,
) -> tuple[loadgen.LoadResult, loadgen.LoadResult]:
    """:func:`measure`'s runs, as (fixed, saturation) results.

    ``rate``: the fixed rate from the saturation result (default ``env.rate``, as above);
    ``fixed_connections``: offer the fixed rate through this many connections (default 512);
    ``phase``: told "warmup", "saturation", "fixed" or "settle" before each run.
    """
    told = phase or (lambda _name: None)

    async def go() -> tuple[loadgen.LoadResult, loadgen.LoadResult]:
        if env.warmup:
            told("warmup")
            await loadgen.saturation(make, check, connections=env.connections, seconds=env.warmup)
            told("settle")
            await loadgen.settle(make, check)
        told("saturation")
        saturated = await loadgen.saturation(
            make, check, connections=env.connections, seconds=env.seconds
        )
        told("settle")
        await loadgen.settle(make, check)
        if rate is not None:
            offered = rate(saturated)
        else:
            if not env.rate:
                env.rate = max(5.0, 5 * round(0.6 * saturated.throughput / 5))
            offered = env.rate
        told("fixed")
        fixed = await loadgen.fixed_rate(
            make, check, rate=offered, seconds=env.seconds, max_in_flight=fixed_connections or 512
        )
        told("settle")
        await loadgen.settle(make, check)
        return fixed, saturated

    return asyncio.run(go())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GraphQLSearch(Scenario):
    number = 1
    title = "GraphQL search"

    def run(self, env: Env) -> list[Row]:
        from bench.generate import WORDS

        mix = [
            orjson.dumps({"query": SEARCH_GRAPHQL, "variables": {"q": q, "f": f}})
            for q, f in search_mix(WORDS)
        ]
        with serving(env, "search") as url:
            note = f"kallimachos serve --workers {env.workers}"
            rows = measure(
                env, self.number, self.title, lambda n: (url, mix[n % len(mix)]), _graphql_ok
            )
        for row in rows:
            row.note = row.note or note
        return rows


class RawOpenSearch(Scenario):
    number = 2
    title = "raw OpenSearch _search (floor)"

    def run(self, env: Env) -> list[Row]:
        from bench.generate import WORDS

        url = f"{env.opensearch_url.rstrip('/')}/{env.index}/_search"
        mix = [orjson.dumps(build_search_body(search_query(q, f))) for q, f in search_mix(WORDS)]
        rows = measure(
            env, self.number, self.title, lambda n: (url, mix[n % len(mix)]), _opensearch_ok
        )
        for row in rows:
            row.note = row.note or "the body kallimachos builds (search/opensearch/query.py)"
        return rows


@contextlib.contextmanager
def serving(env: Env, name: str) -> Iterator[str]:
    """``kallimachos serve --workers N`` on a free port, logging to ``serve-<name>.log``;
    yields the GraphQL URL and stops the server afterwards."""
    port = _free_port()
    with (env.workdir / f"serve-{name}.log").open("wb") as log:
        server = subprocess.Popen(
            [KALLIMACHOS, "serve", "--port", str(port), "--workers", str(env.workers)],
            env=env.kallimachos_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_healthy(f"http://127.0.0.1:{port}/health", server)
            yield f"http://127.0.0.1:{port}/graphql"
        finally:
            _stop(server)


def _wait_healthy(url: str, server: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    async def poll() -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if server.poll() is not None:
                    raise RuntimeError(f"the server exited with {server.returncode}")
                try:
                    async with session.get(url) as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.5)
        raise RuntimeError(f"the server did not answer {url} within {timeout:.0f} s")

    asyncio.run(poll())


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server we started (its own process group: uvicorn and its workers)."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    # workers left behind by a crashed supervisor share its process group
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


# --- (5) MARC import end to end, and the raw _bulk floor -----------------------------------


def _tree_rss_kb(pid: int) -> tuple[int, int]:
    """Resident memory of ``pid``, and of it with all its descendants, in KiB (/proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                stat = handle.read()
            with open(f"/proc/{entry.name}/statm") as handle:
                pages = int(handle.read().split()[1])
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
        rss[int(entry.name)] = pages * os.sysconf("SC_PAGE_SIZE") // 1024
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += rss.get(current, 0)
        todo.extend(children.get(current, []))
    return rss.get(pid, 0), total


def run_measured(command: list[str], env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run a command; wall time, exit status and peak RSS of its process tree."""
    started = time.perf_counter()
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        peak = peak_tree = 0
        while process.poll() is None:
            own, tree = _tree_rss_kb(process.pid)
            peak, peak_tree = max(peak, own), max(peak_tree, tree)
            time.sleep(0.2)
    return {
        "seconds": time.perf_counter() - started,
        "exit": process.returncode,
        "peak_rss_mib": round(peak / 1024, 1),  # the import process
        "peak_tree_rss_mib": round(peak_tree / 1024, 1),  # with its parser process
    }


class MarcImport(Scenario):
    number = 5
    title = "MARC import end to end"

    def run(self, env: Env) -> list[Row]:
        kallimachos = KALLIMACHOS
        log = env.workdir / "import.log"
        log.write_text("")
        files = []
        for f in env.manifest["files"]:
            command = [kallimachos, "import", "marc", f["path"], "--library", f["library"]]
            if f["branch"]:
                command += ["--branch", f["branch"]]
            outcome = run_measured(command, env.kallimachos_env(), log)
            if outcome["exit"] not in (0, 3):
                raise RuntimeError(f"{' '.join(command)} failed: see {log}")
            files.append({**f, **outcome})
            print(
                f"  imported {Path(f['path']).name}: {f['records']} records in "
                f"{outcome['seconds']:.1f} s, peak RSS {outcome['peak_rss_mib']} MiB "
                f"({outcome['peak_tree_rss_mib']} MiB with the parser process)",
                flush=True,
            )
        seconds = sum(f["seconds"] for f in files)
        counts = asyncio.run(_counts(env))
        records = sum(f["records"] for f in files)
        floor = asyncio.run(_raw_bulk(env))
        works_per_s = counts["works"] / seconds
        env.measured["scenario5"] = {
            "files": files,
            "counts": counts,
            "import_seconds": round(seconds, 1),
            "works_per_s": round(works_per_s, 1),
            "records_per_s": round(records / seconds, 1),
            "raw_bulk": floor,
        }
        small, big = files[0], files[1]  # UOC-part1 and UOC-part2 (10x the records)
        return [
            Row(
                5,
                self.title,
                "kallimachos import marc (5 files)",
                throughput=f"{works_per_s:.0f} works/s",
                errors=f"{counts['skipped']} skipped",
                note=(
                    f"{counts['works']} works, {records} records, {counts['items']} items in "
                    f"{seconds:.0f} s ({records / seconds:.0f} records/s) incl. indexing; "
                    f"{counts['indexed']} docs in the index"
                ),
            ),
            Row(
                5,
                "raw OpenSearch _bulk (floor)",
                "same documents, 8 MiB x 3 in flight",
                throughput=f"{floor['docs_per_s']:.0f} works/s",
                errors="0",
                note=f"{floor['docs']} docs, {floor['mib']:.0f} MiB in {floor['seconds']:.1f} s",
            ),
            Row(
                5,
                "import memory, 10x larger file",
                f"{small['records']} vs {big['records']} records",
                throughput="—",
                note=(
                    f"peak RSS of the import process {small['peak_rss_mib']} vs "
                    f"{big['peak_rss_mib']} MiB (x{big['peak_rss_mib'] / small['peak_rss_mib']:.2f}"
                    f"); with the parser process {small['peak_tree_rss_mib']} vs "
                    f"{big['peak_tree_rss_mib']} MiB"
                ),
            ),
        ]


async def _counts(env: Env) -> dict[str, int]:
    from sqlalchemy import func, select

    from kallimachos.db.engine import make_engine, make_sessionmaker
    from kallimachos.db.models import BibRecord, Event, Item, Work

    engine = make_engine(env.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            counts = {
                "works": await session.scalar(select(func.count()).select_from(Work)),
                "records": await session.scalar(select(func.count()).select_from(BibRecord)),
                "items": await session.scalar(select(func.count()).select_from(Item)),
                "undrained": await session.scalar(
                    select(func.count()).select_from(Event).where(Event.indexed_at.is_(None))
                ),
            }
    finally:
        await engine.dispose()
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{env.opensearch_url}/{env.index}/_count") as response,
    ):
        counts["indexed"] = (await response.json())["count"]
    counts["skipped"] = sum(f["records"] for f in env.manifest["files"]) - int(counts["records"])
    return {k: int(v or 0) for k, v in counts.items()}


async def _raw_bulk(env: Env) -> dict[str, Any]:
    """The floor: the import's documents (built from the database, as the indexer does), sent
    as raw ``_bulk`` requests to a fresh index with the same settings; only the sending and the
    final refresh are timed."""
    from kallimachos.api.cli import load_policy_set
    from kallimachos.db.engine import make_engine, make_sessionmaker
    from kallimachos.services.loanable import item_loanable
    from kallimachos.services.reindex import document_batches

    loanable = item_loanable(load_policy_set(env.settings))
    engine = make_engine(env.database_url)
    target = f"{env.index}-rawbulk"
    bodies: list[bytes] = []
    current: list[bytes] = []
    size = docs = 0
    limit = 8 * 1024 * 1024
    try:
        async for batch in document_batches(make_sessionmaker(engine), loanable, 5000):
            for document in batch:
                action = b'{"index":{"_id":"%d"}}\n' % document.work_id
                line = action + orjson.dumps(document_source(document)) + b"\n"
                if size + len(line) > limit and current:
                    bodies.append(b"".join(current))
                    current, size = [], 0
                current.append(line)
                size += len(line)
                docs += 1
    finally:
        await engine.dispose()
    if current:
        bodies.append(b"".join(current))
    base = env.opensearch_url.rstrip("/")
    headers = {"content-type": "application/x-ndjson"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as http:
        await http.delete(f"{base}/{target}")
        body = mapping.index_body(shards=1, replicas=None, refresh_interval="1s")
        async with http.put(f"{base}/{target}", json=body) as response:
            if response.status != 200:
                raise RuntimeError(f"cannot create {target}: {await response.text()}")
        slots = asyncio.Semaphore(3)
        failures: list[str] = []

        async def send(payload: bytes) -> None:
            async with (
                slots,
                http.post(f"{base}/{target}/_bulk", data=payload, headers=headers) as response,
            ):
                answer = await response.json()
                if response.status != 200 or answer.get("errors"):
                    failures.append(json.dumps(answer)[:300])

        started = time.perf_counter()
        await asyncio.gather(*(send(b) for b in bodies))
        await http.post(f"{base}/{target}/_refresh")
        seconds = time.perf_counter() - started
        async with http.get(f"{base}/{target}/_count") as response:
            counted = (await response.json())["count"]
        await http.delete(f"{base}/{target}")
    if failures:
        raise RuntimeError(f"raw _bulk failed: {failures[0]}")
    return {
        "docs": docs,
        "counted": counted,
        "requests": len(bodies),
        "mib": sum(map(len, bodies)) / 1024 / 1024,
        "seconds": round(seconds, 2),
        "docs_per_s": round(docs / seconds, 1),
    }


def all_scenarios() -> list[Scenario]:
    """Every scenario, in the order they run (printed by number)."""
    from bench.circulation import CheckoutCheckin, RequestItem  # it builds on this module

    return [MarcImport(), GraphQLSearch(), RawOpenSearch(), RequestItem(), CheckoutCheckin()]
