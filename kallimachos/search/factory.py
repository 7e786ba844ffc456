"""Pick the search engine from the settings."""

from __future__ import annotations

from pathlib import Path

from kallimachos.api.settings import Settings
from kallimachos.search.backend import SearchBackend
from kallimachos.search.embedded.backend import EmbeddedSearch
from kallimachos.search.opensearch.backend import OpenSearchBackend


def make_search(settings: Settings) -> SearchBackend:
    """OpenSearch when a URL is configured, else the embedded FTS5 index."""
    if settings.opensearch_url:
        return OpenSearchBackend(settings.opensearch_url, settings.opensearch_index)
    path = settings.sqlite_path()
    if path is None and not settings.is_sqlite:
        path = Path("kallimachos-search.sqlite3")
    return EmbeddedSearch(path)
