"""Production search: an OpenSearch cluster through opensearch-py's async client."""

from __future__ import annotations

from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import OpenSearchException

from kallimachos.search.backend import SearchHealth


class OpenSearchBackend:
    """Catalogue search on OpenSearch; one index (behind an alias) of works."""

    engine = "opensearch"

    def __init__(self, url: str, index: str) -> None:
        self.url = url
        self.index = index
        self.client: Any = AsyncOpenSearch(hosts=[url], timeout=10, max_retries=1)

    async def ping(self) -> SearchHealth:
        try:
            info = await self.client.info()
        except (OpenSearchException, OSError) as exc:
            return SearchHealth(ok=False, engine=self.engine, detail=type(exc).__name__)
        version = info.get("version", {}).get("number")
        return SearchHealth(ok=True, engine=self.engine, version=f"OpenSearch {version}")

    async def close(self) -> None:
        await self.client.close()
