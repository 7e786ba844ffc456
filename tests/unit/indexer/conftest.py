"""Where the MARC test data lives, for the indexer tests (and the clustering tests that reuse it).

``../shared/data/bib`` beside the repository holds real records from other projects; tests that
read it skip, saying why, when it is absent. ``tests/fixtures/marc`` holds the few records copied
from it (see its PROVENANCE.md), so equivalent tests always run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kallimachos.indexer.extract import ParsedRecord
from kallimachos.indexer.reader import RecordError, iter_records

REPO = Path(__file__).resolve().parents[3]
SHARED_BIB = REPO.parent / "shared" / "data" / "bib"
FIXTURES = REPO / "tests" / "fixtures" / "marc"


def shared_bib(relative: str = "") -> Path:
    """A path under ``../shared/data/bib``; skips the calling test when it is not there."""
    if not SHARED_BIB.is_dir():
        pytest.skip(
            f"shared MARC test data not found at {SHARED_BIB} (../shared is not beside this clone)"
        )
    path = SHARED_BIB / relative
    if not path.exists():
        pytest.skip(f"{relative} is missing from {SHARED_BIB}")
    return path


def fixture(name: str) -> Path:
    """A file copied into ``tests/fixtures/marc``."""
    return FIXTURES / name


def read_all(path: Path) -> tuple[list[ParsedRecord], list[RecordError]]:
    """Every record of a file, split into the good ones and the reported ones."""
    good: list[ParsedRecord] = []
    bad: list[RecordError] = []
    for item in iter_records(path):
        if isinstance(item, RecordError):
            bad.append(item)
        else:
            good.append(item)
    return good, bad


def by_position(path: Path) -> dict[int, ParsedRecord]:
    """The good records of a file, by their position in it."""
    return {r.position: r for r in read_all(path)[0]}


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data/bib``, or a skip with the reason."""
    return shared_bib()
