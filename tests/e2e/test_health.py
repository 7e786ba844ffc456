"""``/health`` tells operators which part is down, with 503 when one is."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

from httpx import ASGITransport, AsyncClient

from kallimachos.api.app import create_app
from kallimachos.api.settings import Settings
from tests.conftest import gql


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_health_is_503_when_search_is_unreachable(initialised: Settings) -> None:
    settings = initialised.model_copy(
        update={"opensearch_url": f"http://127.0.0.1:{_closed_port()}"}
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as http:
            response = await http.get("/health")
            libraries = await gql(http, "{ libraries { code } }")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"]["ok"] is True
    assert body["search"]["ok"] is False
    assert body["search"]["engine"] == "opensearch"
    # the store keeps serving while search is down
    assert len(libraries["data"]["libraries"]) == 4  # type: ignore[index]


async def test_health_is_503_when_the_database_is_unreachable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing_dir = tmp_path / "no" / "such" / "dir"
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{missing_dir / 'db.sqlite3'}", secret="s" * 32
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as http:
            response = await http.get("/health")
    assert response.status_code == 503
    assert response.json()["database"]["ok"] is False


async def test_business_time_header_is_ignored_outside_sandbox_mode(initialised: Settings) -> None:
    settings = initialised.model_copy(update={"clock_override": False})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as http:
            body = await gql(http, "{ businessTime }", now="2001-01-01T00:00:00+00:00")
    served = datetime.fromisoformat(body["data"]["businessTime"])  # type: ignore[index]
    assert abs((served - datetime.now(UTC)).total_seconds()) < 60


async def test_a_server_process_keeps_its_start_up_objects_out_of_the_collectors_passes(
    initialised: Settings,
) -> None:
    import gc

    app = create_app(initialised, drain_outbox=False, server=True)
    gc.unfreeze()
    try:
        async with app.router.lifespan_context(app):
            assert gc.get_freeze_count() > 0  # schema, policies, engine: frozen once opened
            async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as http:
                body = await gql(http, "{ libraries { code } }")
            assert "errors" not in body
    finally:
        gc.unfreeze()  # this test process goes on to build other apps
