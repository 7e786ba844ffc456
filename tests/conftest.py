"""Shared fixtures.

Real services: integration tests read ``KALLIMACHOS_TEST_POSTGRES_URL`` and
``KALLIMACHOS_TEST_OPENSEARCH_URL`` (set by ``scripts/test.sh`` after it starts the
servers).  Without them a test skips locally, but under ``CI=true`` it fails: in CI a
missing service is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from httpx import ASGITransport, AsyncClient
from starlette.applications import Starlette

from kallimachos.api.app import create_app
from kallimachos.api.settings import Settings
from kallimachos.api.tokens import issue_token
from kallimachos.domain.actors import Actor, ActorKind

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
TEST_SECRET = "test-secret-not-for-production-0123456789"


def require_service(variable: str, what: str) -> str:
    """The URL of a real service, or skip (locally) / fail (CI) without it."""
    url = os.environ.get(variable)
    if url:
        return url
    message = f"{what} not running: set {variable} (scripts/test.sh starts it)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def shared_dir() -> Path:
    """``../shared`` beside the repository; tests that need it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside this clone")
    return SHARED


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'kallimachos.sqlite3'}"


@pytest.fixture
def postgres_admin_url() -> str:
    return require_service("KALLIMACHOS_TEST_POSTGRES_URL", "PostgreSQL")


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A throwaway database on the real PostgreSQL, dropped after the test."""
    import asyncio

    import asyncpg

    name = f"k_test_{uuid.uuid4().hex[:12]}"
    base, _, _ = postgres_admin_url.rpartition("/")
    raw = postgres_admin_url.replace("postgresql+asyncpg://", "postgresql://")

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(raw)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def opensearch_url() -> str:
    return require_service("KALLIMACHOS_TEST_OPENSEARCH_URL", "OpenSearch")


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return Settings(database_url=sqlite_url, secret=TEST_SECRET, clock_override=True)


def token_for(kind: str, **scope: str) -> str:
    actor = Actor(kind=ActorKind(kind), **scope)
    return issue_token(actor, TEST_SECRET, now=datetime.now(UTC), ttl=timedelta(hours=1))


@pytest.fixture
def initialised(settings: Settings) -> Settings:
    """A migrated database with the consortium's libraries and the demo patrons."""
    from kallimachos.api import cli

    cli.cmd_init(settings)
    cli.cmd_import_patrons(settings, cli.DEMO_PATRONS)
    return settings


@pytest.fixture
async def client(initialised: Settings) -> AsyncIterator[AsyncClient]:
    app: Starlette = create_app(initialised)
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


async def gql(
    http: AsyncClient,
    query: str,
    variables: dict[str, object] | None = None,
    *,
    token: str | None = None,
    now: str | None = None,
) -> dict[str, object]:
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if now:
        headers["X-Kallimachos-Now"] = now
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    body: dict[str, object] = response.json()
    body["_status"] = response.status_code
    return body


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Print the real services' versions at the top of the test log."""
    lines = []
    pg = os.environ.get("KALLIMACHOS_TEST_POSTGRES_URL")
    if pg:
        lines.append(f"postgresql: {_postgres_version(pg)}")
    else:
        lines.append("postgresql: not configured (KALLIMACHOS_TEST_POSTGRES_URL unset)")
    os_url = os.environ.get("KALLIMACHOS_TEST_OPENSEARCH_URL")
    if os_url:
        lines.append(f"opensearch: {_opensearch_version(os_url)}")
    else:
        lines.append("opensearch: not configured (KALLIMACHOS_TEST_OPENSEARCH_URL unset)")
    return lines


def _postgres_version(url: str) -> str:
    import asyncio

    import asyncpg

    async def run() -> str:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            return str(await conn.fetchval("select version()"))
        finally:
            await conn.close()

    try:
        return asyncio.run(run())
    except Exception as exc:  # the header reports, the fixtures fail
        return f"UNREACHABLE at {url.split('@')[-1]} ({type(exc).__name__})"


def _opensearch_version(url: str) -> str:
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            info = json.load(response)
    except Exception as exc:  # the header reports, the fixtures fail
        return f"UNREACHABLE at {url} ({type(exc).__name__})"
    version = info.get("version", {})
    return f"{version.get('distribution', 'opensearch')} {version.get('number')} at {url}"
