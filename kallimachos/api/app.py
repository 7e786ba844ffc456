"""``create_app(settings)``: the Starlette application and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from kallimachos.api.graphql_view import GraphQLEndpoint
from kallimachos.api.health import health
from kallimachos.api.settings import Settings
from kallimachos.api.tokens import resolve_secret
from kallimachos.db.engine import make_engine, make_sessionmaker
from kallimachos.domain.clock import Clock, SystemClock
from kallimachos.schema.context import Services
from kallimachos.search.factory import make_search


class _OpenedInLifespan:
    """An ASGI endpoint whose real target is built once the lifespan has opened the store."""

    target: GraphQLEndpoint | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.target is None:
            raise RuntimeError("the application lifespan has not started")
        await self.target(scope, receive, send)


@dataclass
class AppParts:
    engine: AsyncEngine
    services: Services


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> Starlette:
    """Build the ASGI app; the database and search client open in the lifespan."""
    settings = settings or Settings()
    secret = resolve_secret(settings.secret, settings.secret_file())
    endpoint = _OpenedInLifespan()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, echo=settings.sql_echo)
        search = make_search(settings)
        services = Services(
            settings=settings,
            sessions=make_sessionmaker(engine),
            search=search,
            clock=clock or SystemClock(),
        )
        app.state.parts = AppParts(engine=engine, services=services)
        endpoint.target = GraphQLEndpoint(services, secret)
        try:
            yield
        finally:
            await search.close()
            await engine.dispose()

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/graphql", endpoint, methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
    )
