"""A small HTTP load generator on loopback: a fixed offered rate, or saturation.

* **Fixed rate** (open loop, like wrk2 or k6's constant-arrival-rate): request *i* is due at
  ``start + i / rate`` whether or not earlier ones have finished, and its latency is measured
  from the moment it was *due*, so a stall shows up in the percentiles instead of silently
  lowering the rate (no coordinated omission).  At most ``rate * duration`` requests.
* **Saturation** (closed loop): ``connections`` workers each send the next request as soon as
  the previous one is answered, for ``duration`` seconds; this measures the maximum throughput.

Every request has a 30 s timeout; a request that times out, fails, gets a non-200 status or
fails the caller's check counts as an error (and not in the latencies).  Only 127.0.0.1.
A request may carry headers (a bearer token) and a label: labelled requests are also counted
in ``LoadResult.parts[label]``, so one run can report several request kinds separately.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp


@dataclass(frozen=True)
class Request:
    """One request: where, the JSON body, extra headers, and the label it is reported under."""

    url: str
    body: bytes
    headers: Mapping[str, str] | None = None
    label: str | None = None


MakeRequest = Callable[[int], tuple[str, bytes] | Request]  # request number -> the request
Check = Callable[[bytes], bool]  # response body -> is it a correct answer?
TIMEOUT = 30.0


@dataclass
class LoadResult:
    mode: str  # "fixed" or "saturation"
    offered_rps: float | None
    connections: int | None
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    parts: dict[str, LoadResult] = field(default_factory=dict)  # by request label

    def part(self, label: str) -> LoadResult:
        if label not in self.parts:
            self.parts[label] = LoadResult(
                self.mode, self.offered_rps, self.connections, self.seconds
            )
        return self.parts[label]

    def finish(self, seconds: float) -> None:
        self.seconds = seconds
        for part in self.parts.values():
            part.seconds = seconds

    @property
    def completed(self) -> int:
        return len(self.latencies_ms)

    @property
    def throughput(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float | None:
        """Nearest-rank percentile of the successful requests, in ms."""
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        rank = max(1, math.ceil(p / 100 * len(ordered)))
        return ordered[rank - 1]

    def summary(self) -> dict[str, object]:
        parts = {"parts": {k: v.summary() for k, v in self.parts.items()}} if self.parts else {}
        return {
            "mode": self.mode,
            "offered_rps": self.offered_rps,
            "connections": self.connections,
            "seconds": round(self.seconds, 2),
            "completed": self.completed,
            "errors": self.errors,
            "first_error": self.first_error,
            "throughput_rps": round(self.throughput, 1),
            "p50_ms": _round(self.percentile(50)),
            "p95_ms": _round(self.percentile(95)),
            "p99_ms": _round(self.percentile(99)),
            **parts,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _loopback_only(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"the load generator only talks to loopback, not {host!r}")


class _Client:
    def __init__(self, make: MakeRequest, check: Check, connections: int) -> None:
        self.make = make
        self.check = check
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections, force_close=False),
            timeout=aiohttp.ClientTimeout(total=TIMEOUT),
            headers={"content-type": "application/json"},
        )

    async def one(self, n: int, result: LoadResult, started: float) -> None:
        made = self.make(n)
        request = made if isinstance(made, Request) else Request(*made)
        _loopback_only(request.url)
        try:
            async with self.session.post(
                request.url, data=request.body, headers=request.headers
            ) as response:
                payload = await response.read()
                ok = response.status == 200 and self.check(payload)
                problem = f"HTTP {response.status}: {payload[:300]!r}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            ok, problem = False, f"{type(exc).__name__}: {exc}"
        latency = (time.perf_counter() - started) * 1000
        for counted in (result, result.part(request.label)) if request.label else (result,):
            if ok:
                counted.latencies_ms.append(latency)
            else:
                counted.errors += 1
                counted.first_error = counted.first_error or problem

    async def close(self) -> None:
        await self.session.close()


async def fixed_rate(
    make: MakeRequest, check: Check, *, rate: float, seconds: float, max_in_flight: int = 512
) -> LoadResult:
    """Open loop at ``rate`` requests/s for ``seconds``; latency counted from the due time."""
    client = _Client(make, check, connections=max_in_flight)
    result = LoadResult("fixed", rate, None, seconds)
    total = int(rate * seconds)
    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter()
    try:
        for n in range(total):
            due = start + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(client.one(n, result, due)))
        _done, pending = await asyncio.wait(tasks, timeout=TIMEOUT + 5) if tasks else (set(), set())
        for task in pending:
            task.cancel()
        result.errors += len(pending)
        result.finish(max(seconds, time.perf_counter() - start) if pending else seconds)
    finally:
        await client.close()
    return result


async def saturation(
    make: MakeRequest, check: Check, *, connections: int, seconds: float
) -> LoadResult:
    """Closed loop: ``connections`` requests always in flight, for ``seconds``."""
    client = _Client(make, check, connections=connections)
    result = LoadResult("saturation", None, connections, seconds)
    counter = iter(range(10**9))
    start = time.perf_counter()
    deadline = start + seconds

    async def worker() -> None:
        while (now := time.perf_counter()) < deadline:
            await client.one(next(counter), result, now)

    try:
        await asyncio.gather(*(worker() for _ in range(connections)))
        result.finish(time.perf_counter() - start)
    finally:
        await client.close()
    return result


async def settle(
    make: MakeRequest, check: Check, *, within: float = 2.0, limit: float = 120.0
) -> float:
    """Wait until the server answers one request within ``within`` seconds again (a backlog
    left by an overload would otherwise leak into the next measurement); returns the wait."""
    client = _Client(make, check, connections=1)
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < limit:
            probe = LoadResult("probe", None, 1, 0)
            sent = time.perf_counter()
            await client.one(0, probe, sent)
            if probe.completed and time.perf_counter() - sent <= within:
                break
            await asyncio.sleep(0.5)
    finally:
        await client.close()
    return time.perf_counter() - start
