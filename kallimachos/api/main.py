"""ASGI entry for ``uvicorn kallimachos.api.main:app`` (and ``kallimachos serve --workers N``)."""

from __future__ import annotations

from kallimachos.api.app import create_app

app = create_app(server=True)
