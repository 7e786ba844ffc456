"""``create_app(settings)``: the Starlette application and its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from kallimachos.api.graphql_view import GraphQLEndpoint
from kallimachos.api.health import health
from kallimachos.api.settings import Settings
from kallimachos.api.tokens import resolve_secret
from kallimachos.db.engine import make_engine, make_sessionmaker
from kallimachos.db.models import Library
from kallimachos.domain.clock import Clock, SystemClock
from kallimachos.indexer.outbox import drain_forever
from kallimachos.notify.runtime import run_notifications
from kallimachos.policies import load_policies
from kallimachos.schema.context import Services
from kallimachos.search.backend import SearchBackend
from kallimachos.search.factory import make_search
from kallimachos.services.loanable import item_loanable
from kallimachos.services.one_at_a_time import OUTBOX_DRAIN_LOCK, one_at_a_time

log = logging.getLogger(__name__)


class _OpenedInLifespan:
    """An ASGI endpoint whose real target is built once the lifespan has opened the store."""

    target: GraphQLEndpoint | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.target is None:
            raise RuntimeError("the application lifespan has not started")
        await self.target(scope, receive, send)


async def _library_codes(sessions: async_sessionmaker[AsyncSession]) -> dict[int, str]:
    try:
        async with sessions() as session:
            return {row.id: row.code for row in await session.scalars(select(Library))}
    except SQLAlchemyError:  # not initialised yet: /health will say so
        return {}


async def _ensure_index(search: SearchBackend) -> None:
    try:
        await search.ensure_index()
    except Exception:  # search down at start: /health says so, the outbox catches up later
        log.warning("search index could not be prepared at start-up", exc_info=True)


@dataclass
class AppParts:
    engine: AsyncEngine
    services: Services


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    drain_outbox: bool = True,
    server: bool = False,
) -> Starlette:
    """Build the ASGI app; the database and search client open in the lifespan.

    With ``drain_outbox`` the app runs the background task that carries committed changes
    (imports, checkouts, returns) from the outbox into the search index within seconds.
    ``server`` is for a process that runs only this app (``kallimachos serve``): once the
    lifespan has opened everything, the objects built so far are moved out of the garbage
    collector's reach (``gc.freeze``), so that its full passes no longer walk the schema,
    the policies and the libraries on every run (passes of ~120 ms, measured, that landed
    on whichever request was running).
    """
    settings = settings or Settings()
    policies = load_policies(settings.policies_dir)
    secret = resolve_secret(settings.secret, settings.secret_file())
    endpoint = _OpenedInLifespan()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, echo=settings.sql_echo)
        sessions = make_sessionmaker(engine)
        search = make_search(settings)
        services = Services(
            settings=settings,
            sessions=sessions,
            search=search,
            clock=clock or SystemClock(),
            policies=policies,
            loanable=item_loanable(policies),
            library_codes=await _library_codes(sessions),
        )
        await _ensure_index(search)
        app.state.parts = AppParts(engine=engine, services=services)
        endpoint.target = GraphQLEndpoint(services, secret)
        if server:
            gc.collect()
            gc.freeze()
        drainer = None
        if drain_outbox:
            drainer = asyncio.create_task(
                one_at_a_time(
                    engine,
                    OUTBOX_DRAIN_LOCK,
                    lambda: drain_forever(sessions, search, services.loanable, services.clock),
                )
            )
        try:
            async with run_notifications(sessions, policies, services.clock, send=drain_outbox):
                yield
        finally:
            if drainer is not None:
                drainer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await drainer
            await search.close()
            await engine.dispose()

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/graphql", endpoint, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", endpoint),
        ],
        lifespan=lifespan,
    )
