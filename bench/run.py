"""Run every benchmark scenario and print one table (see docs/performance.md).

    .venv/bin/python -m bench.run            # 200,000 works (about 12 minutes on 2 cores)
    .venv/bin/python -m bench.run --small    # 20,000 works (about 3 minutes)

Steps: start a private PostgreSQL and OpenSearch (``scripts/postgres.sh`` and
``scripts/opensearch.sh`` with their own directory and ports, stopped at the end), generate
the consortium (``bench/generate.py``, cached in the work directory), create an empty
database and index, then run the scenarios of ``bench/scenarios.py``: (5) the MARC import end
to end through ``kallimachos import marc`` plus the raw ``_bulk`` floor and the memory check,
(1) GraphQL search on ``kallimachos serve --workers 2``, (2) the same searches as raw
OpenSearch requests, and the rows of scenarios not available yet.  The table, the machine and
the versions are printed and written to ``<workdir>/results.md`` and ``results.json``.

``--postgres-url``/``--opensearch-url`` use servers you already run instead (the database
named in the URL's path is dropped and recreated as ``kbench``: use a scratch server).
Nothing is sent anywhere but 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench import generate
from bench.scenarios import KALLIMACHOS, Env, Row, all_scenarios

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "strawberry-graphql",
    "graphql-core",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "asyncpg",
    "opensearch-py",
    "aiohttp",
    "pymarc",
)


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


@contextlib.contextmanager
def services(args: argparse.Namespace, workdir: Path) -> Iterator[tuple[str, str]]:
    """PostgreSQL and OpenSearch URLs: the given ones, or private servers started here."""
    env = dict(os.environ)
    env.update(
        KALLIMACHOS_SERVICES_DIR=str(workdir / "services"),
        KALLIMACHOS_PG_PORT=str(args.pg_port),
        KALLIMACHOS_OS_PORT=str(args.os_port),
        KALLIMACHOS_OS_HEAP=args.os_heap,
    )
    started: list[str] = []

    def start(script: str) -> str:
        log(f"starting {script} (logs in {workdir / 'services'})")
        out = subprocess.run(
            [str(ROOT / "scripts" / script), "start"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        started.append(script)
        return out.strip().splitlines()[-1]

    try:
        pg = args.postgres_url or start("postgres.sh")
        os_url = args.opensearch_url or start("opensearch.sh")
        yield pg, os_url
    finally:
        for script in reversed(started):
            log(f"stopping {script}")
            subprocess.run(
                [str(ROOT / "scripts" / script), "stop"], env=env, check=False, capture_output=True
            )


async def fresh_database(admin_url: str, index: str, opensearch_url: str) -> str:
    """Drop and create the ``kbench`` database and the index; returns the database URL."""
    base = admin_url.rsplit("/", 1)[0]
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text("drop database if exists kbench with (force)"))
            await conn.execute(text("create database kbench"))
    finally:
        await engine.dispose()
    async with aiohttp.ClientSession() as http:
        await http.delete(f"{opensearch_url.rstrip('/')}/{index}*")
    return f"{base}/kbench"


async def server_versions(database_url: str, opensearch_url: str) -> dict[str, str]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            pg = str(await conn.scalar(text("select version()")))
    finally:
        await engine.dispose()
    async with aiohttp.ClientSession() as http, http.get(opensearch_url) as response:
        info = await response.json()
    return {"postgresql": pg.split(" on ")[0], "opensearch": info["version"]["number"]}


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": {name: metadata.version(name) for name in PACKAGES},
        "load_average_at_start": os.getloadavg(),
    }


def table(rows: list[Row]) -> str:
    header = (
        "#",
        "scenario",
        "load",
        "throughput",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "errors",
        "notes",
    )
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for r in sorted(rows, key=lambda r: r.number):
        cells = (
            str(r.number),
            r.scenario,
            r.load,
            r.throughput,
            r.p50,
            r.p95,
            r.p99,
            r.errors,
            r.note,
        )
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def targets(env: Env) -> list[str]:
    """The issue's targets, met or missed, from the measured figures."""
    out = []
    s1, s2, s5 = (env.measured.get(f"scenario{n}") for n in (1, 2, 5))
    if s1 and s2:
        g, r = s1["fixed"], s2["fixed"]
        if g["p50_ms"] and r["p50_ms"]:
            ratio50 = g["p50_ms"] / r["p50_ms"]
            ratio99 = g["p99_ms"] / r["p99_ms"]
            out.append(
                f"GraphQL p50 <= 1.5x raw p50 at {g['offered_rps']:g}/s: {ratio50:.1f}x "
                f"({g['p50_ms']} vs {r['p50_ms']} ms): {'met' if ratio50 <= 1.5 else 'MISSED'}"
            )
            out.append(
                f"GraphQL p99 <= 2x raw p99 at {g['offered_rps']:g}/s: {ratio99:.1f}x "
                f"({g['p99_ms']} vs {r['p99_ms']} ms): {'met' if ratio99 <= 2 else 'MISSED'}"
            )
        rate = s1["saturation"]["throughput_rps"]
        out.append(
            f">= 300 searches/s with {env.workers} workers: {rate:.0f}/s: "
            f"{'met' if rate >= 300 else 'MISSED'}"
        )
    if s5:
        share = s5["works_per_s"] / s5["raw_bulk"]["docs_per_s"]
        out.append(
            f"import >= 50 % of raw _bulk: {100 * share:.0f} % ({s5['works_per_s']:.0f} vs "
            f"{s5['raw_bulk']['docs_per_s']:.0f} works/s): {'met' if share >= 0.5 else 'MISSED'}"
        )
        small, big = s5["files"][0], s5["files"][1]
        growth = big["peak_rss_mib"] / small["peak_rss_mib"]
        out.append(
            f"memory flat on a 10x larger file: peak RSS x{growth:.2f} "
            f"({small['peak_rss_mib']} -> {big['peak_rss_mib']} MiB): "
            f"{'met' if growth <= 1.5 else 'MISSED'}"
        )
    from bench import circulation  # after bench.scenarios, which it builds on

    out += circulation.targets(env)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="20,000 works, shorter runs")
    parser.add_argument("--works", type=int, help="works to generate (200,000; --small 20,000)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/kallimachos-bench"))
    parser.add_argument("--postgres-url", help="use this PostgreSQL (admin URL) instead")
    parser.add_argument("--opensearch-url", help="use this OpenSearch instead")
    parser.add_argument("--pg-port", type=int, default=55610)
    parser.add_argument("--os-port", type=int, default=59610)
    parser.add_argument("--os-heap", default="1g")
    parser.add_argument("--seconds", type=float, help="per load measurement (20; --small 10)")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="the fixed offered rate, req/s (default: 60 %% of GraphQL's saturation rate)",
    )
    parser.add_argument("--connections", type=int, default=16, help="for saturation")
    parser.add_argument("--workers", type=int, default=2, help="kallimachos serve --workers")
    parser.add_argument(
        "--scenarios",
        default="5,1,2,3,4",
        help="which to run, in order; without 5 the data of the last run is searched again",
    )
    args = parser.parse_args()
    os.chdir(ROOT)
    works = args.works or (20_000 if args.small else 200_000)
    seconds = args.seconds or (10.0 if args.small else 20.0)
    workdir: Path = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    info = machine()
    log(f"{info['cpu']}, {info['cores']} cores, {info['memory']}; Python {info['python']}")

    data = workdir / f"data-{works}"
    manifest_file = data / "manifest.json"
    if manifest_file.is_file() and json.loads(manifest_file.read_text())["works_planned"] == works:
        manifest = json.loads(manifest_file.read_text())
        log(f"using the generated data in {data}")
    else:
        log(f"generating {works} works into {data}")
        manifest = generate.generate(data, works)
    log(
        f"{manifest['records']} records, {manifest['items']} items in {len(manifest['files'])} "
        f"files (from {manifest['pool']} real records)"
    )

    index = "kbench-works"
    chosen = [int(n) for n in args.scenarios.split(",")]
    with services(args, workdir) as (pg_admin, os_url):
        if 5 in chosen:
            database = asyncio.run(fresh_database(pg_admin, index, os_url))
        else:
            database = f"{pg_admin.rsplit('/', 1)[0]}/kbench"
        info["servers"] = asyncio.run(server_versions(database, os_url))
        servers = info["servers"]
        log(f"PostgreSQL {servers['postgresql']}, OpenSearch {servers['opensearch']}")
        env = Env(
            workdir=workdir,
            manifest=manifest,
            database_url=database,
            opensearch_url=os_url,
            index=index,
            secret="kallimachos-bench-secret-not-for-production",
            seconds=seconds,
            warmup=args.warmup,
            rate=args.rate,
            connections=args.connections,
            workers=args.workers,
            small=args.small,
        )
        subprocess.run(
            [KALLIMACHOS, "init"], env=env.kallimachos_env(), check=True, capture_output=True
        )
        rows: list[Row] = []
        by_number = {scenario.number: scenario for scenario in all_scenarios()}
        for scenario in (by_number[n] for n in chosen):
            reason = scenario.unavailable(env)
            if reason:
                rows.append(Row(scenario.number, scenario.title, "—", note=reason))
                continue
            log(f"scenario {scenario.number}: {scenario.title}")
            rows.extend(scenario.run(env))
    info["load_average_at_end"] = os.getloadavg()
    elapsed = time.perf_counter() - started
    lines = [
        f"Kallimachos benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{works} works ({manifest['records']} records, {manifest['items']} items), "
        f"{elapsed / 60:.1f} min",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory']}, Linux "
        f"{info['kernel']}; load average {info['load_average_at_start'][0]:.2f} at start.",
        f"Servers: {info['servers']['postgresql']}; OpenSearch {info['servers']['opensearch']} "
        f"(single node, heap {args.os_heap}); all on this machine with the load generator.",
        "Versions: Python "
        + info["python"]
        + ", "
        + ", ".join(f"{k} {v}" for k, v in info["packages"].items()),
        f"Load: {seconds:g} s per measurement after {args.warmup:g} s of warm-up; saturation "
        f"{args.connections} connections (closed loop), then a fixed rate of {env.rate:g} req/s "
        f"({'given' if args.rate else '60 % of the GraphQL saturation rate'}; open loop, "
        "latency from the due time, so queueing counts).",
        "",
        table(rows),
        "",
        "Targets:",
        *(f"- {line}" for line in targets(env)),
    ]
    report = "\n".join(lines)
    print("\n" + report)
    (workdir / "results.md").write_text(report + "\n")
    (workdir / "results.json").write_text(
        json.dumps({"machine": info, "rows": [r.__dict__ for r in rows], **env.measured}, indent=2)
    )
    log(f"written {workdir / 'results.md'} and results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
