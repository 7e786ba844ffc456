"""The API with notifications wired in, assembled here until ``kallimachos.api.app`` is.

The real Query and Mutation are extended with the delivery log and ``registerWebhook``
(strawberry ``merge_types``), the schema gains ``Subscription``, and ``/graphql`` also
answers websockets (graphql-transport-ws) through the real :class:`GraphQLEndpoint`
(authentication, business time), with its strawberry view swapped for one on this schema.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import strawberry
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from strawberry import relay
from strawberry.asgi import GraphQL
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from kallimachos.api.graphql_view import GraphQLEndpoint, _StrawberryView
from kallimachos.api.settings import Settings
from kallimachos.db.engine import make_engine, make_sessionmaker
from kallimachos.domain.clock import SystemClock
from kallimachos.notify.broker import Broker
from kallimachos.notify.runtime import register_broker, unregister_broker
from kallimachos.policies import load_policies
from kallimachos.schema import schema as api_schema
from kallimachos.schema.context import Services
from kallimachos.schema.deliveries import DeliveryQuery
from kallimachos.schema.mutations import Mutation
from kallimachos.schema.mutations.webhooks import WebhookMutation
from kallimachos.schema.queries import Query
from kallimachos.schema.subscriptions import Subscription
from kallimachos.search.factory import make_search
from kallimachos.services.loanable import item_loanable
from tests.conftest import TEST_SECRET

WIRED = "type Subscription" in api_schema.as_str()
"""True once ``kallimachos.schema`` itself has Subscription and the notification fields."""


def _extended_schema() -> strawberry.Schema:
    @strawberry.type(name="Query")
    class NotifyQuery(Query, DeliveryQuery):
        # relay.node() fields are bound to the first schema that builds them (the API's),
        # so this schema declares its own copy; wired into the real Query it is not needed.
        node: relay.Node | None = relay.node(
            description="Any object by its global ID; objects you may not see come back null."
        )

    return strawberry.Schema(
        query=NotifyQuery,
        mutation=merge_types("Mutation", (Mutation, WebhookMutation)),
        subscription=Subscription,
        config=StrawberryConfig(relay_max_results=100),
        extensions=list(api_schema.extensions),
    )


notify_schema = api_schema if WIRED else _extended_schema()


class _View(_StrawberryView):
    def __init__(self, services: Services) -> None:
        GraphQL.__init__(self, notify_schema, graphql_ide=None, allow_queries_via_get=False)
        self.services = services


@dataclass
class Running:
    services: Services
    broker: Broker
    engine: AsyncEngine


class _Forward:
    """An ASGI endpoint whose target is built once the lifespan has opened the store."""

    target: GraphQLEndpoint | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.target is not None, "lifespan not started"
        await self.target(scope, receive, send)


class NotifyApp:
    """The ASGI app; ``running`` is set while its lifespan is open."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.running: Running | None = None
        self._endpoint = _Forward()
        self.app = Starlette(
            routes=[
                Route("/graphql", self._endpoint, methods=["POST"]),
                WebSocketRoute("/graphql", self._endpoint),
            ],
            lifespan=self._lifespan,
        )

    @asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        policies = load_policies(self.settings.policies_dir)
        engine = make_engine(self.settings.database_url)
        sessions = make_sessionmaker(engine)
        search = make_search(self.settings)
        services = Services(
            settings=self.settings,
            sessions=sessions,
            search=search,
            clock=SystemClock(),
            policies=policies,
            loanable=item_loanable(policies),
        )
        endpoint = GraphQLEndpoint(services, TEST_SECRET)
        endpoint.view = _View(services)
        self._endpoint.target = endpoint
        broker = Broker(sessions)
        register_broker(sessions, broker)
        self.running = Running(services=services, broker=broker, engine=engine)
        try:
            yield
        finally:
            unregister_broker(sessions)
            self.running = None
            await search.close()
            await engine.dispose()


@asynccontextmanager
async def in_process(settings: Settings) -> AsyncIterator[tuple[NotifyApp, AsyncClient]]:
    """The app with its lifespan open and an httpx client talking to it in-process."""
    notify = NotifyApp(settings)
    async with notify.app.router.lifespan_context(notify.app):
        async with AsyncClient(
            transport=ASGITransport(app=notify.app), base_url="http://t"
        ) as http:
            yield notify, http
