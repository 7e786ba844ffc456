"""Background work runs in one server process at a time, and another takes over when it stops.

Two engines stand for two ``serve`` worker processes on the real PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from kallimachos.db.engine import make_engine
from kallimachos.services.one_at_a_time import one_at_a_time

LOCK = 0x7E57


async def test_only_one_process_drains_and_the_other_takes_over_when_it_stops(
    postgres_url: str,
) -> None:
    engines = [make_engine(postgres_url), make_engine(postgres_url)]
    running: list[int] = []
    started = [asyncio.Event(), asyncio.Event()]

    def worker(n: int) -> asyncio.Task[None]:
        async def work() -> None:
            running.append(n)
            started[n].set()
            await asyncio.Event().wait()  # the drain runs until its process stops

        return asyncio.create_task(one_at_a_time(engines[n], LOCK, work, retry_seconds=0.05))

    try:
        first = worker(0)
        await asyncio.wait_for(started[0].wait(), 10)
        second = worker(1)
        with pytest.raises(TimeoutError):  # it keeps asking, and keeps being told no
            await asyncio.wait_for(asyncio.shield(started[1].wait()), 0.5)
        assert running == [0]

        first.cancel()  # the process that held the lock stops
        with contextlib.suppress(asyncio.CancelledError):
            await first
        await asyncio.wait_for(started[1].wait(), 10)
        assert running == [0, 1]
        second.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await second
    finally:
        for engine in engines:
            await engine.dispose()


async def test_on_sqlite_the_work_simply_runs(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    ran = asyncio.Event()

    async def work() -> None:
        ran.set()

    try:
        await asyncio.wait_for(one_at_a_time(engine, LOCK, work), 10)
        assert ran.is_set()
    finally:
        await engine.dispose()
