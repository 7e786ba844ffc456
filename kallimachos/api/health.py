"""``GET /health``: is the database reachable, is the search index reachable."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse

from kallimachos.search.backend import SearchBackend


async def database_state(engine: AsyncEngine) -> dict[str, Any]:
    try:
        async with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                version = (await conn.execute(text("select sqlite_version()"))).scalar_one()
                label = f"SQLite {version}"
            else:
                label = str((await conn.execute(text("select version()"))).scalar_one())
    except Exception as exc:  # health reports any failure, it never raises
        return {"ok": False, "engine": engine.dialect.name, "detail": type(exc).__name__}
    return {"ok": True, "engine": engine.dialect.name, "version": label}


async def search_state(search: SearchBackend) -> dict[str, Any]:
    health = await search.ping()
    state: dict[str, Any] = {"ok": health.ok, "engine": health.engine}
    if health.version:
        state["version"] = health.version
    if health.detail:
        state["detail"] = health.detail
    return state


async def health(request: Request) -> JSONResponse:
    parts = request.app.state.parts
    db = await database_state(parts.engine)
    search = await search_state(parts.services.search)
    ok = db["ok"] and search["ok"]
    body = {"status": "ok" if ok else "degraded", "database": db, "search": search}
    return JSONResponse(body, status_code=200 if ok else 503)
