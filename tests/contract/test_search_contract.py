"""Both search engines answer the same catalogue questions the same way.

Every test here runs on the embedded FTS5 engine and on a real OpenSearch (see conftest.py).
Expected values are what a librarian checking the result page would notice: which works,
in which order (where a rule fixes the order), how many, and the facet counts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from kallimachos.search.backend import (
    Availability,
    FacetValue,
    SearchBackend,
    SearchQuery,
    SearchUnavailable,
    WorkDocument,
)
from kallimachos.search.opensearch.backend import OpenSearchBackend

from .conftest import CATALOGUE, drop_opensearch

ALL_IDS = [doc.work_id for doc in CATALOGUE]


async def ids(backend: SearchBackend, text: str | None = None, **filters: Any) -> list[int]:
    result = await backend.search(SearchQuery(text=text, with_facets=False, **filters))
    assert result.total == len(result.work_ids), "a test page should hold every hit"
    return result.work_ids


def facets(values: Sequence[FacetValue]) -> list[tuple[str, int]]:
    return [(v.value, v.count) for v in values]


# ---------------------------------------------------------------- folding and full text
@pytest.mark.parametrize(
    "text",
    [
        "Βιβλιοθήκη",
        "ΒΙΒΛΙΟΘΗΚΗ",
        "βιβλιοθηκη",
        "βιβλιοθήκη",
        "Βιβλιοθη\u0301κη",  # decomposed tonos (combining U+0301)
        "  βιβλιοθηκη  ",
    ],
)
async def test_greek_case_and_accents_fold(loaded: SearchBackend, text: str) -> None:
    # 3 is titled exactly "Βιβλιοθήκη"; 1 has the word in its title; nothing else has it.
    assert await ids(loaded, text) == [3, 1]


async def test_no_stemming_inflected_form_is_another_word(loaded: SearchBackend) -> None:
    # Genitive "βιβλιοθήκης" finds only the work that uses that form, not "βιβλιοθήκη".
    assert await ids(loaded, "βιβλιοθήκης") == [4]
    assert sorted(await ids(loaded, "Βιβλιοθήκες")) == [1, 4]  # in the subjects of both


@pytest.mark.parametrize("text", ["Κρήτης", "ΚΡΗΤΗΣ", "κρητης", "κρητησ"])
async def test_final_sigma_folds(loaded: SearchBackend, text: str) -> None:
    assert await ids(loaded, text) == [2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cafe", [5]),
        ("Café", [5]),
        ("CAFÉS", [6]),
        ("helene", [6]),
        ("Zoe", [5]),
        ("editions parigramme", [6]),
    ],
)
async def test_latin_diacritics_fold(loaded: SearchBackend, text: str, expected: list[int]) -> None:
    assert await ids(loaded, text) == expected


async def test_polytonic_author_found_by_monotonic_query(loaded: SearchBackend) -> None:
    assert await ids(loaded, "Απολλόδωρος") == [3]
    assert await ids(loaded, "απολλοδωρος") == [3]


async def test_all_terms_must_match_across_fields(loaded: SearchBackend) -> None:
    assert await ids(loaded, "Canfora Αλεξάνδρεια") == [1]  # author + title/subject/publisher
    assert await ids(loaded, "Canfora Κρήτη") == []
    assert await ids(loaded, "larry wall perl") == [7]
    assert await ids(loaded, "O'Reilly") == [7]  # publisher
    assert await ids(loaded, "library alexandria") == [11]


async def test_title_match_beats_subject_only_match(loaded: SearchBackend) -> None:
    # "Κρήτη" (not the genitive): title of 10; subject only of 2 and 9.
    found = await ids(loaded, "Κρήτη")
    assert found[0] == 10
    assert sorted(found[1:]) == [2, 9]
    # "perl": title + subject of 7, subject only of 8.
    assert await ids(loaded, "perl") == [7, 8]


async def test_exact_title_ranks_first(loaded: SearchBackend) -> None:
    # The index to the journal repeats its name in title and subjects (a better BM25 score on
    # FTS5, which sums the columns), but the journal itself is titled exactly so.
    index = WorkDocument(
        work_id=20,
        title="Κρητικά Χρονικά: ευρετήριο τόμων",
        subjects=("Κρητικά Χρονικά -- Ευρετήρια", "Κρητικά Χρονικά"),
        publisher="Κρητικά Χρονικά",
        language="gre",
        material_type="book",
    )
    await loaded.index_works([index])
    await loaded.refresh()
    assert await ids(loaded, "Κρητικά Χρονικά") == [9, 20]
    assert await ids(loaded, "ΚΡΗΤΙΚΑ ΧΡΟΝΙΚΑ") == [9, 20]
    # Punctuation and case do not matter for the exact-title rule.
    assert await ids(loaded, "κρητικα χρονικα ευρετηριο τομων") == [20]
    assert await ids(loaded, "Ιστορία της Κρήτης") == [2]


async def test_alternate_titles_are_searched_like_the_title(loaded: SearchBackend) -> None:
    # A romanised 245 with the vernacular (880) title alongside, and a work that merely has
    # every word of that vernacular title in its own title.
    agora = WorkDocument(
        work_id=30,
        title="Hē agora stē Mesogeio",
        alternate_titles=("Η αγορά στη Μεσόγειο", "Agora in the Mediterranean"),
        language="gre",
    )
    market = WorkDocument(
        work_id=31, title="Η πόλη και η αγορά στη Μεσόγειο: πρακτικά", language="gre"
    )
    await loaded.index_works([market, agora])
    await loaded.refresh()
    assert sorted(await ids(loaded, "αγορα μεσογειο")) == [30, 31]
    assert sorted(await ids(loaded, "ΑΓΟΡΆ ΜΕΣΌΓΕΙΟ")) == [30, 31]
    # The exact alternate title ranks first.
    assert await ids(loaded, "Η αγορά στη Μεσόγειο") == [30, 31]
    assert await ids(loaded, "agora mediterranean") == [30]


async def test_text_without_words_matches_everything(loaded: SearchBackend) -> None:
    assert await ids(loaded, "  ") == ALL_IDS
    assert await ids(loaded, "--") == ALL_IDS


# ---------------------------------------------------------------- identifiers
@pytest.mark.parametrize(
    "text", ["978-0-596-00027-1", "9780596000271", "0-596-00027-8", "ISBN 0596000278"]
)
async def test_isbn_text_is_an_identifier_query(loaded: SearchBackend, text: str) -> None:
    assert await ids(loaded, text) == [7]


async def test_identifier_match_ranks_before_text_match(loaded: SearchBackend) -> None:
    # 8 has the number in its title (a text match); 7 carries the ISBN.
    assert await ids(loaded, "0596000278") == [7, 8]


async def test_issn_text_is_an_identifier_query(loaded: SearchBackend) -> None:
    assert await ids(loaded, "1105-7939") == [9]
    assert await ids(loaded, "11057939") == [9]


@pytest.mark.parametrize(
    ("isbn", "expected"),
    [
        ("0-596-00027-8", [7]),
        ("9780596000271", [7]),
        ("978-960-221-103-8", [1]),
        ("960-221-103-2", [1]),
        ("9789607180261", []),  # valid, not held
    ],
)
async def test_isbn_filter_any_form(loaded: SearchBackend, isbn: str, expected: list[int]) -> None:
    assert await ids(loaded, isbn=isbn) == expected


async def test_isbn_filter_combines_with_text(loaded: SearchBackend) -> None:
    assert await ids(loaded, "perl", isbn="0596000278") == [7]
    assert await ids(loaded, "Κρήτη", isbn="0596000278") == []


# ---------------------------------------------------------------- filters
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"libraries": ("AEG",)}, [3, 7, 10, 11, 12]),
        ({"libraries": ("AEG", "CUT")}, [3, 4, 5, 7, 9, 10, 11, 12]),
        ({"loanable_only": True}, [1, 2, 3, 5, 6, 7, 10, 11, 12]),
        # 7 is held at UOC but lent only by TUC and CUT.
        ({"loanable_only": True, "libraries": ("UOC",)}, [1, 2, 10, 11, 12]),
        ({"available_only": True}, [1, 3, 5, 7, 10, 11, 12]),
        ({"available_only": True, "libraries": ("UOC",)}, [11, 12]),
        ({"available_only": True, "libraries": ("TUC",)}, [1]),
        ({"material_types": ("serial", "map")}, [9, 10]),
        ({"languages": ("eng", "fre")}, [5, 6, 7, 11]),
        ({"year_from": 1998, "year_to": 2001}, [5, 6, 7, 11]),  # inclusive; 12 has no year
        ({"year_from": 2010}, [4, 8, 10]),
        ({"year_to": 1986}, [2, 9]),
        ({"languages": ("gre",), "libraries": ("CUT",), "loanable_only": True}, [12]),
    ],
)
async def test_filters_without_text(
    loaded: SearchBackend, filters: dict[str, Any], expected: list[int]
) -> None:
    assert await ids(loaded, **filters) == expected


async def test_filters_with_text(loaded: SearchBackend) -> None:
    assert sorted(await ids(loaded, "paris")) == [5, 6]
    assert await ids(loaded, "paris", languages=("fre",)) == [6]
    assert await ids(loaded, "Κρήτη", available_only=True) == [10]
    assert await ids(loaded, "Βιβλιοθήκη", libraries=("TUC",)) == [1]


# ---------------------------------------------------------------- facets
async def test_facets_over_the_whole_catalogue(loaded: SearchBackend) -> None:
    result = await loaded.search(SearchQuery(limit=2))
    assert result.total == 12
    assert result.work_ids == [1, 2]
    assert set(result.facets) == {"library", "language", "materialType", "year"}
    assert facets(result.facets["library"]) == [("UOC", 8), ("TUC", 6), ("AEG", 5), ("CUT", 5)]
    # 8 has no language and 12 no year: they are simply not counted.
    assert facets(result.facets["language"]) == [("gre", 6), ("eng", 3), ("fre", 1), ("grc", 1)]
    assert facets(result.facets["materialType"]) == [
        ("book", 8),
        ("ebook", 1),
        ("map", 1),
        ("serial", 1),
        ("thesis", 1),
    ]
    assert facets(result.facets["year"]) == [
        ("2000", 2),
        ("1947", 1),
        ("1986", 1),
        ("1989", 1),
        ("1998", 1),
        ("2001", 1),
        ("2004", 1),
        ("2010", 1),
        ("2015", 1),
        ("2019", 1),
    ]


async def test_facets_count_the_matching_set_after_filters(loaded: SearchBackend) -> None:
    result = await loaded.search(SearchQuery(text="Κρήτη", limit=1))
    assert result.total == 3
    assert result.work_ids == [10]
    assert facets(result.facets["library"]) == [("UOC", 3), ("AEG", 1), ("CUT", 1), ("TUC", 1)]
    assert facets(result.facets["language"]) == [("gre", 3)]
    assert facets(result.facets["materialType"]) == [("book", 1), ("map", 1), ("serial", 1)]
    assert facets(result.facets["year"]) == [("1947", 1), ("1986", 1), ("2019", 1)]

    filtered = await loaded.search(SearchQuery(libraries=("AEG",), loanable_only=True))
    assert filtered.work_ids == [3, 10, 12]
    assert facets(filtered.facets["library"]) == [("AEG", 3), ("UOC", 2), ("CUT", 1), ("TUC", 1)]


async def test_no_facets_when_not_asked(loaded: SearchBackend) -> None:
    result = await loaded.search(SearchQuery(text="perl", with_facets=False))
    assert result.facets == {}


async def test_no_match_gives_empty_facets(loaded: SearchBackend) -> None:
    result = await loaded.search(SearchQuery(text="zzzz"))
    assert (result.total, result.work_ids) == (0, [])
    assert all(values == [] for values in result.facets.values())


# ---------------------------------------------------------------- pagination
async def test_pages_without_text_follow_work_id(loaded: SearchBackend) -> None:
    pages = []
    for offset in (0, 5, 10, 12):
        result = await loaded.search(SearchQuery(offset=offset, limit=5, with_facets=False))
        assert result.total == 12
        pages.append(result.work_ids)
    assert pages == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12], []]


async def test_pages_with_text_are_stable(loaded: SearchBackend) -> None:
    whole = await ids(loaded, "Κρήτη")
    paged = []
    for offset in range(3):
        result = await loaded.search(SearchQuery(text="Κρήτη", offset=offset, limit=1))
        assert result.total == 3
        paged += result.work_ids
    assert paged == whole


async def test_limit_zero_gives_total_and_facets(loaded: SearchBackend) -> None:
    result = await loaded.search(SearchQuery(limit=0))
    assert (result.total, result.work_ids) == (12, [])
    assert facets(result.facets["language"])[0] == ("gre", 6)


async def test_pages_beyond_the_result_window_are_refused(loaded: SearchBackend) -> None:
    with pytest.raises(ValueError, match="10000"):
        await loaded.search(SearchQuery(offset=9_990, limit=20))


# ---------------------------------------------------------------- writes
async def test_update_availability_changes_filters_and_facets(loaded: SearchBackend) -> None:
    assert await ids(loaded, available_only=True, libraries=("UOC",)) == [11, 12]
    await loaded.update_availability(
        [
            Availability(2, ("UOC", "TUC"), loanable_at=("UOC",), available_at=("UOC",)),
            Availability(12, ("TUC",), loanable_at=("TUC",), available_at=()),
            Availability(999, ("UOC",), loanable_at=(), available_at=()),  # not indexed
        ]
    )
    await loaded.refresh()
    assert await ids(loaded, available_only=True, libraries=("UOC",)) == [2, 11]
    assert await ids(loaded, libraries=("AEG",)) == [3, 7, 10, 11]
    result = await loaded.search(SearchQuery())
    assert result.total == 12  # the unknown work did not appear
    assert facets(result.facets["library"]) == [("UOC", 7), ("TUC", 6), ("AEG", 4), ("CUT", 4)]
    # The text of an updated work is untouched.
    assert await ids(loaded, "Ιστορία της Κρήτης") == [2]


async def test_index_works_upserts(loaded: SearchBackend) -> None:
    renamed = dataclasses.replace(CATALOGUE[4], title="Coffee houses of Montmartre")
    new = WorkDocument(work_id=13, title="Café Müller", language="ger", year=1978)
    await loaded.index_works([renamed, new])
    await loaded.refresh()
    assert await ids(loaded, "cafe") == [13]
    assert await ids(loaded, "montmartre") == [5]
    assert await ids(loaded, "muller") == [13]
    assert (await loaded.search(SearchQuery(limit=0))).total == 13


async def test_delete_works(loaded: SearchBackend) -> None:
    await loaded.delete_works([7, 999])
    await loaded.refresh()
    assert await ids(loaded, "0596000278") == [8]
    assert await ids(loaded, isbn="9780596000271") == []
    result = await loaded.search(SearchQuery(limit=0))
    assert result.total == 11
    assert facets(result.facets["library"])[0] == ("UOC", 7)


async def test_writes_with_nothing_to_do(loaded: SearchBackend) -> None:
    await loaded.index_works([])
    await loaded.update_availability([])
    await loaded.delete_works([])
    await loaded.refresh()
    assert (await loaded.search(SearchQuery(limit=0))).total == 12


async def test_ensure_index_is_idempotent(loaded: SearchBackend) -> None:
    await loaded.ensure_index()
    await loaded.ensure_index()
    assert (await loaded.search(SearchQuery(limit=0))).total == 12


async def test_search_before_the_index_exists_is_unavailable(unindexed: SearchBackend) -> None:
    with pytest.raises(SearchUnavailable, match="rebuild"):
        await unindexed.search(SearchQuery(text="perl"))
    await unindexed.ensure_index()
    assert (await unindexed.search(SearchQuery())).total == 0


# ---------------------------------------------------------------- rebuild
NEW_EDITION = (
    WorkDocument(
        work_id=101, title="Νέα Βιβλιοθήκη", language="gre", year=2024, holding_libraries=("TUC",)
    ),
    WorkDocument(work_id=102, title="Δεύτερη συλλογή", language="gre", year=2024),
    WorkDocument(work_id=103, title="Third collection", language="eng", year=2025),
)


async def test_rebuild_swaps_without_downtime(loaded: SearchBackend) -> None:
    first_batch_written = asyncio.Event()  # no sleeps: the batches drive the test
    go_on = asyncio.Event()

    async def batches() -> AsyncIterator[Sequence[WorkDocument]]:
        yield NEW_EDITION[:2]
        first_batch_written.set()  # the rebuild has taken batch one and asks for more
        await go_on.wait()
        yield NEW_EDITION[2:]

    task = asyncio.create_task(loaded.rebuild(batches()))
    await first_batch_written.wait()
    # Mid-rebuild: still the old index, fully answering.
    assert await ids(loaded, "Βιβλιοθήκη") == [3, 1]
    assert await ids(loaded, "συλλογή") == []
    assert (await loaded.search(SearchQuery(limit=0))).total == 12
    go_on.set()
    assert await task == 3
    await loaded.refresh()
    assert await ids(loaded) == [101, 102, 103]
    assert await ids(loaded, "Βιβλιοθήκη") == [101]
    assert await ids(loaded, "perl") == []
    # The rebuilt index takes ordinary writes.
    await loaded.index_works([CATALOGUE[6]])
    await loaded.refresh()
    assert await ids(loaded, "0596000278") == [7]


async def test_rebuild_failure_keeps_the_old_index(loaded: SearchBackend) -> None:
    async def broken() -> AsyncIterator[Sequence[WorkDocument]]:
        yield NEW_EDITION[:1]
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError, match="went away"):
        await loaded.rebuild(broken())
    assert (await loaded.search(SearchQuery(limit=0))).total == 12
    assert await ids(loaded, "Νέα") == []

    # A later rebuild still works.
    async def good() -> AsyncIterator[Sequence[WorkDocument]]:
        yield NEW_EDITION

    assert await loaded.rebuild(good()) == 3
    await loaded.refresh()
    assert await ids(loaded) == [101, 102, 103]


async def test_rebuild_into_a_never_created_index(unindexed: SearchBackend) -> None:
    async def once() -> AsyncIterator[Sequence[WorkDocument]]:
        yield CATALOGUE

    assert await unindexed.rebuild(once()) == 12
    await unindexed.refresh()
    assert await ids(unindexed, "Βιβλιοθήκη") == [3, 1]


# ---------------------------------------------------------------- engine down
async def test_unreachable_engine(unreachable: SearchBackend) -> None:
    health = await unreachable.ping()
    assert health.ok is False
    assert health.engine == unreachable.engine
    assert health.detail
    with pytest.raises(SearchUnavailable):
        await unreachable.search(SearchQuery(text="perl"))


async def test_ping_reports_version(backend: SearchBackend) -> None:
    health = await backend.ping()
    assert health.ok is True
    assert health.version


# ---------------------------------------------------------------- OpenSearch specifics
@pytest.mark.integration
@pytest.mark.opensearch
async def test_opensearch_alias_swap_leaves_one_physical_index(opensearch_url: str) -> None:
    engine = OpenSearchBackend(opensearch_url, f"k-test-{uuid.uuid4().hex[:12]}", replicas=0)
    try:
        await engine.ensure_index()
        first = await engine.client.indices.get_alias(name=engine.index)
        assert list(first) == [f"{engine.index}-000001"]

        async def once() -> AsyncIterator[Sequence[WorkDocument]]:
            yield CATALOGUE

        await engine.rebuild(once())
        second = await engine.client.indices.get_alias(name=engine.index)
        assert list(second) == [f"{engine.index}-000002"]
        assert not await engine.client.indices.exists(index=f"{engine.index}-000001")
        settings = await engine.client.indices.get_settings(index=f"{engine.index}-000002")
        index_settings = settings[f"{engine.index}-000002"]["settings"]["index"]
        assert index_settings["refresh_interval"] == "1s"  # restored after the load
        assert index_settings["number_of_replicas"] == "0"
    finally:
        await drop_opensearch(engine)
        await engine.close()


async def test_concurrent_searches_agree(loaded: SearchBackend) -> None:
    queries = ["Βιβλιοθήκη", "Κρήτη", "perl", "0596000278", None] * 4
    results = await asyncio.gather(*(ids(loaded, text) for text in queries))
    expected = {text: await ids(loaded, text) for text in set(queries)}
    assert results == [expected[text] for text in queries]


# ---------------------------------------------------------------- embedded specifics
async def test_embedded_in_memory_lives_as_long_as_the_object() -> None:
    from kallimachos.search.embedded.backend import EmbeddedSearch

    engine = EmbeddedSearch(None)
    try:
        assert (await engine.ping()).ok
        await engine.ensure_index()
        await engine.index_works(CATALOGUE)
        await engine.refresh()
        assert await ids(engine, "βιβλιοθηκη") == [3, 1]

        async def once() -> AsyncIterator[Sequence[WorkDocument]]:
            yield NEW_EDITION

        assert await engine.rebuild(once()) == 3
        assert await ids(engine) == [101, 102, 103]
    finally:
        await engine.close()


async def test_embedded_index_of_an_old_layout_is_recreated(tmp_path: Path) -> None:
    import sqlite3

    from kallimachos.search.embedded.backend import EmbeddedSearch

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE VIRTUAL TABLE search_works USING fts5(title, authors)")
        conn.execute("CREATE TABLE search_meta (work_id INTEGER PRIMARY KEY)")
        conn.execute("CREATE TABLE app_table (x)")  # the application's own tables stay
    conn.close()
    engine = EmbeddedSearch(path)
    try:
        await engine.ensure_index()
        await engine.index_works(CATALOGUE)
        assert await ids(engine, "βιβλιοθηκη") == [3, 1]
    finally:
        await engine.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM app_table").fetchone() == (0,)
    conn.close()
