"""The search contract: one set of cases, run against every engine.

``backend`` is parametrised over the engines: ``embedded`` (an SQLite file in tmp_path) and
``opensearch`` (a unique index on the real server from ``opensearch_url``; marked
``integration`` + ``opensearch``, so it skips locally without the server and fails in CI).
``loaded`` is ``backend`` with :data:`CATALOGUE` indexed and refreshed.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kallimachos.search.backend import SearchBackend, WorkDocument
from kallimachos.search.embedded.backend import EmbeddedSearch
from kallimachos.search.opensearch.backend import OpenSearchBackend

OPENSEARCH = pytest.param(
    "opensearch", marks=[pytest.mark.integration, pytest.mark.opensearch], id="opensearch"
)
ENGINES = [pytest.param("embedded", id="embedded"), OPENSEARCH]

# Libraries: TUC (Technical University of Crete), UOC (University of Crete),
# CUT (Cyprus University of Technology), AEG (University of the Aegean).
CATALOGUE: tuple[WorkDocument, ...] = (
    WorkDocument(
        work_id=1,
        title="Η Βιβλιοθήκη της Αλεξάνδρειας",
        authors=("Canfora, Luciano",),
        subjects=("Βιβλιοθήκες -- Αίγυπτος -- Αλεξάνδρεια",),
        publisher="Εκδόσεις Αλεξάνδρεια",
        isbns=("9602211032", "9789602211038"),
        language="gre",
        material_type="book",
        year=1989,
        holding_libraries=("TUC", "UOC"),
        loanable_at=("TUC", "UOC"),
        available_at=("TUC",),
    ),
    WorkDocument(
        work_id=2,
        title="Ιστορία της Κρήτης",
        authors=("Δετοράκης, Θεοχάρης",),
        subjects=("Κρήτη -- Ιστορία",),
        publisher="Πανεπιστημιακές Εκδόσεις Κρήτης",
        language="gre",
        material_type="book",
        year=1986,
        holding_libraries=("UOC", "TUC"),
        loanable_at=("UOC",),
        available_at=(),
    ),
    WorkDocument(
        work_id=3,
        title="Βιβλιοθήκη",
        authors=("Ἀπολλόδωρος",),  # polytonic
        subjects=("Ελληνική μυθολογία",),
        publisher="Ζήτρος",
        isbns=("9605240157", "9789605240158"),
        language="grc",
        material_type="book",
        year=2004,
        holding_libraries=("AEG",),
        loanable_at=("AEG",),
        available_at=("AEG",),
    ),
    WorkDocument(
        work_id=4,
        title="Οδηγός χρήσης της βιβλιοθήκης",
        subjects=("Πανεπιστημιακές βιβλιοθήκες -- Κύπρος",),
        publisher="Τεχνολογικό Πανεπιστήμιο Κύπρου",
        language="gre",
        material_type="ebook",
        year=2015,
        holding_libraries=("CUT",),
    ),
    WorkDocument(
        work_id=5,
        title="Café society in Paris",
        authors=("Dupont, Zoé",),
        subjects=("Coffeehouses -- France -- Paris",),
        publisher="Harvill",
        language="eng",
        material_type="book",
        year=2001,
        holding_libraries=("CUT", "UOC"),
        loanable_at=("CUT",),
        available_at=("CUT",),
    ),
    WorkDocument(
        work_id=6,
        title="Les cafés littéraires de Paris",
        authors=("Lefèvre, Hélène",),
        subjects=("Cafés -- France -- Paris",),
        publisher="Éditions Parigramme",
        language="fre",
        material_type="book",
        year=1998,
        holding_libraries=("TUC",),
        loanable_at=("TUC",),
    ),
    WorkDocument(
        work_id=7,
        title="Programming Perl",
        authors=("Wall, Larry", "Christiansen, Tom", "Orwant, Jon"),
        subjects=("Perl (Computer program language)",),
        publisher="O'Reilly",
        isbns=("0596000278", "9780596000271"),
        language="eng",
        material_type="book",
        year=2000,
        holding_libraries=("TUC", "CUT", "UOC", "AEG"),
        loanable_at=("TUC", "CUT"),
        available_at=("CUT",),
    ),
    WorkDocument(
        work_id=8,
        title="Study notes on 0596000278",
        authors=("Papadopoulou, Maria",),
        subjects=("Perl (Computer program language) -- Problems, exercises, etc.",),
        language=None,
        material_type="thesis",
        year=2010,
        holding_libraries=("TUC",),
    ),
    WorkDocument(
        work_id=9,
        title="Κρητικά Χρονικά",
        subjects=("Κρήτη -- Περιοδικά",),
        publisher="Εταιρία Κρητικών Ιστορικών Μελετών",
        issns=("1105-7939",),
        language="gre",
        material_type="serial",
        year=1947,
        holding_libraries=("UOC", "CUT"),
    ),
    WorkDocument(
        work_id=10,
        title="Κρήτη: ταξιδιωτικός οδηγός",
        authors=("Σφακιανάκης, Γιώργος",),
        subjects=("Ταξιδιωτικοί οδηγοί",),
        publisher="Road",
        language="gre",
        material_type="map",
        year=2019,
        holding_libraries=("UOC", "AEG"),
        loanable_at=("UOC", "AEG"),
        available_at=("AEG",),
    ),
    WorkDocument(
        work_id=11,
        title="The Library of Alexandria: centre of learning in the ancient world",
        authors=("MacLeod, Roy",),
        subjects=("Alexandrian Library",),
        publisher="I.B. Tauris",
        language="eng",
        material_type="book",
        year=2000,
        holding_libraries=("UOC", "AEG"),
        loanable_at=("UOC",),
        available_at=("UOC",),
    ),
    WorkDocument(
        work_id=12,
        title="Ποιήματα",
        authors=("Καβάφης, Κ. Π.",),
        subjects=("Ελληνική ποίηση",),
        publisher="Ίκαρος",
        language="gre",
        material_type="book",
        year=None,
        holding_libraries=("TUC", "UOC", "CUT", "AEG"),
        loanable_at=("TUC", "UOC", "CUT", "AEG"),
        available_at=("UOC", "AEG"),
    ),
)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def drop_opensearch(backend: OpenSearchBackend) -> None:
    """Delete every physical index of a test alias family."""
    found = await backend.client.indices.get(
        index=f"{backend.index}*",
        params={"allow_no_indices": "true", "ignore_unavailable": "true"},
    )
    for name in found:
        await backend.client.indices.delete(index=name)


def make_backend(kind: str, tmp_path: Path, opensearch_url: str | None) -> SearchBackend:
    """A new backend of this kind on fresh storage; its index is not created."""
    if kind == "embedded":
        return EmbeddedSearch(tmp_path / f"search-{uuid.uuid4().hex[:8]}.sqlite3")
    assert opensearch_url is not None
    return OpenSearchBackend(opensearch_url, f"k-test-{uuid.uuid4().hex[:12]}", replicas=0)


@pytest.fixture(params=ENGINES)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SearchBackend]:
    """An engine with an empty index (ensure_index done)."""
    url = request.getfixturevalue("opensearch_url") if request.param == "opensearch" else None
    engine = make_backend(request.param, tmp_path, url)
    try:
        await engine.ensure_index()
        yield engine
    finally:
        if isinstance(engine, OpenSearchBackend):
            await drop_opensearch(engine)
        await engine.close()


@pytest.fixture
async def unindexed(backend: SearchBackend, tmp_path: Path) -> AsyncIterator[SearchBackend]:
    """A second engine of the same kind whose index was never created."""
    url = backend.url if isinstance(backend, OpenSearchBackend) else None
    kind = "opensearch" if url else "embedded"
    engine = make_backend(kind, tmp_path, url)
    try:
        yield engine
    finally:
        if isinstance(engine, OpenSearchBackend):
            await drop_opensearch(engine)
        await engine.close()


@pytest.fixture
async def loaded(backend: SearchBackend) -> SearchBackend:
    """``backend`` with the test catalogue indexed and visible."""
    await backend.index_works(CATALOGUE)
    await backend.refresh()
    return backend


@pytest.fixture(params=["embedded", "opensearch"])
async def unreachable(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[SearchBackend]:
    """An engine that cannot be reached (no server needed for either)."""
    engine: SearchBackend
    if request.param == "embedded":
        engine = EmbeddedSearch(tmp_path / "no-such-dir" / "search.sqlite3")
    else:
        engine = OpenSearchBackend(f"http://127.0.0.1:{closed_port()}", "kallimachos-works")
    try:
        yield engine
    finally:
        await engine.close()
