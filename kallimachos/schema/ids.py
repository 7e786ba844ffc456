"""Database ids inside global IDs: ASCII digits within 64 bits, nothing else."""

from __future__ import annotations

from collections.abc import Iterable

MAX_DB_ID = 2**63 - 1
NO_ROW = 0  # no table has a row with id 0: an unusable id simply finds nothing


def db_id(raw: str) -> int | None:
    """The id, or None when ``raw`` is not one (letters, signs, overflow, Unicode digits)."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        return None
    number = int(raw)
    return number if 0 < number <= MAX_DB_ID else None


def node_db_ids(node_ids: Iterable[str]) -> list[int]:
    """Ids for a node lookup; unusable ones become ``NO_ROW`` and resolve to null."""
    return [db_id(str(i)) or NO_ROW for i in node_ids]
