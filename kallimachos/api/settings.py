"""Configuration from the environment (``KALLIMACHOS_*``), with embedded defaults.

The defaults run everything in one SQLite file in the working directory with the
embedded search index inside it: nothing to install.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./kallimachos.sqlite3"


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="KALLIMACHOS_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    opensearch_url: str | None = None
    opensearch_index: str = "kallimachos-works"
    secret: str | None = Field(default=None, repr=False)
    clock_override: bool = False
    policies_dir: Path | None = None
    token_ttl_hours: int = 24 * 30
    sql_echo: bool = False

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        """The database file of the embedded default (None for in-memory or PostgreSQL)."""
        if not self.is_sqlite:
            return None
        _, _, path = self.database_url.partition(":///")
        if not path or path == ":memory:":
            return None
        return Path(path)

    def secret_file(self) -> Path | None:
        """Where the embedded default keeps its generated signing secret."""
        db = self.sqlite_path()
        if db is None:
            return None
        return db.parent / ".kallimachos-secret"
