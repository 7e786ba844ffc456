"""Background work that one process of a deployment does at a time.

``kallimachos serve --workers N`` starts N processes, each with the application's
background tasks.  The outbox drain and the notification worker are safe to run in all of
them, but then every process reads the same events and indexes the same works or collides
on the same marks: the work is done N times over and each copy competes with the requests
of its process (docs/performance.md, scenarios 3 and 4).
On PostgreSQL a session-level advisory lock elects one process; the others wait and take
over within ``retry_seconds`` if it stops.  SQLite deployments run one process and need
no election.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

OUTBOX_DRAIN_LOCK = 0x4B_414C_4C31  # "KALL1": the advisory lock id of the outbox drainer
NOTIFICATION_WORKER_LOCK = 0x4B_414C_4C32  # "KALL2": the notification worker's


async def one_at_a_time(
    engine: AsyncEngine,
    lock_id: int,
    work: Callable[[], Awaitable[None]],
    *,
    retry_seconds: float = 5.0,
) -> None:
    """Run ``work`` (which runs until cancelled) in one process at a time."""
    if engine.dialect.name != "postgresql":
        await work()
        return
    while True:
        try:
            # autocommit: holding the lock must not hold a transaction (and its snapshot) open
            async with engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                if await connection.scalar(select(func.pg_try_advisory_lock(lock_id))):
                    log.info("this process runs the background work behind lock %s", lock_id)
                    try:
                        await work()  # until cancelled
                    finally:  # the connection goes back to the pool: free the lock first
                        with contextlib.suppress(SQLAlchemyError, OSError):
                            await connection.scalar(select(func.pg_advisory_unlock(lock_id)))
        except SQLAlchemyError:
            log.warning("could not hold lock %s; will try again", lock_id, exc_info=True)
        await asyncio.sleep(retry_seconds)
