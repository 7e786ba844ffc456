"""Clustering keys, including the known duplicates (and the known non-duplicate) of the test data.

Positions are 0-based record positions in the files of ../shared/data/bib (README "Known
duplicates"). The same records are copied into tests/fixtures/marc so the equivalent tests
always run: koha_pairs.marcxml holds Koha #10, #12, #289, #298, #324 (in that order) and
jazz_pairs.mrc holds jazz_1k #854, #896, #188, #376.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest

from kallimachos.domain.work_keys import edition_number, identifier_keys, title_key
from kallimachos.indexer.extract import ParsedRecord
from tests.unit.indexer.conftest import by_position, fixture, shared_bib


@dataclasses.dataclass(frozen=True)
class Rec:
    title: str | None = "The swing era"
    filing_title: str | None = None
    authors: Sequence[str] = ("Schuller, Gunther",)
    earliest_year: int | None = 1989
    publication_year: int | None = 1989
    isbns: Sequence[str] = ()
    issns: Sequence[str] = ()
    format_guard: str = "book/print"
    edition: str | None = None


def test_identifier_keys() -> None:
    record = Rec(isbns=("9780195043129",), issns=("0028-0836",))
    assert identifier_keys(record) == {"isbn:9780195043129", "issn:0028-0836"}
    assert identifier_keys(Rec()) == set()


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (Rec(title="The swing era"), Rec(title="Swing era")),
        (Rec(title="The swing era", filing_title="swing era"), Rec(title="swing era")),
        (Rec(title="Η Οδύσσεια", authors=("Όμηρος",)), Rec(title="ΟΔΥΣΣΕΙΑ", authors=("ομηρος",))),
        (Rec(title="L'Hôtel des Invalides"), Rec(title="Hotel des invalides")),
        (Rec(title="Der Zauberberg"), Rec(title="Zauberberg")),
        (Rec(edition="2nd ed."), Rec(edition="Second edition")),
        (Rec(edition="2η έκδ."), Rec(edition="δεύτερη έκδοση")),
        (Rec(edition="1st ed."), Rec(edition=None)),
        (Rec(earliest_year=None, publication_year=1989), Rec()),
    ],
)
def test_same_title_key(a: Rec, b: Rec) -> None:
    assert title_key(a) is not None
    assert title_key(a) == title_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (Rec(edition="2nd ed."), Rec(edition="3rd ed.")),
        (Rec(format_guard="book/print"), Rec(format_guard="book/online")),
        (Rec(format_guard="sound_recording/cd"), Rec(format_guard="sound_recording/analog_disc")),
        (Rec(earliest_year=1989), Rec(earliest_year=1990)),
        (Rec(authors=("Schuller, Gunther",)), Rec(authors=("Porter, Lewis",))),
        (Rec(edition="Rev. ed."), Rec(edition=None)),
    ],
)
def test_different_title_key(a: Rec, b: Rec) -> None:
    assert title_key(a) != title_key(b)


def test_no_key_without_title_or_year() -> None:
    assert title_key(Rec(title=None)) is None
    assert title_key(Rec(earliest_year=None, publication_year=None)) is None


@pytest.mark.parametrize(
    ("edition", "expected"),
    [
        ("2nd ed.", "2"),
        ("2. Aufl.", "2"),
        ("8. éd. refondue et augm. ...", "8"),
        ("Third edition", "3"),
        ("Τρίτη έκδοση", "3"),
        ("1st ed.", ""),
        ("Rev. ed.", "rev"),
        (None, ""),
    ],
)
def test_edition_number(edition: str | None, expected: str) -> None:
    assert edition_number(edition) == expected


# --- the known cases ---------------------------------------------------------------------------


def _assert_known_cases(
    koha: dict[int, ParsedRecord],
    camel: dict[int, ParsedRecord],
    jazz: dict[int, ParsedRecord],
    armstrong: ParsedRecord,
    koha_at: dict[int, int],
    jazz_at: dict[int, int],
) -> None:
    # Koha #10 and #12 are the full records of camel.usmarc CIP records #4 and #1: same ISBN.
    assert identifier_keys(koha[koha_at[10]]) & identifier_keys(camel[4]) == {"isbn:9781565924192"}
    assert identifier_keys(koha[koha_at[12]]) & identifier_keys(camel[1]) == {"isbn:9781565926998"}
    # Koha #298 = jazz #854 by ISBN; #289 = #896 and #324 = #188 have no shared ISBN.
    assert identifier_keys(koha[koha_at[298]]) & identifier_keys(jazz[jazz_at[854]])
    for k, j in ((289, 896), (324, 188)):
        assert not identifier_keys(koha[koha_at[k]]) & identifier_keys(jazz[jazz_at[j]])
        assert title_key(koha[koha_at[k]]) is not None
        assert title_key(koha[koha_at[k]]) == title_key(jazz[jazz_at[j]])
    assert title_key(koha[koha_at[298]]) == title_key(jazz[jazz_at[854]])
    # jazz #376 (Columbia 1994, 4 CDs) and traject's Time-Life 1985 LP set: same title and
    # author, different recordings. The guard alone keeps them apart, whatever the years say.
    cd, lp = jazz[jazz_at[376]], armstrong
    assert (
        (cd.title, cd.authors[0])
        == (lp.title, lp.authors[0])
        == ("Louis Armstrong", "Armstrong, Louis")
    )
    assert title_key(cd) != title_key(lp)
    assert (cd.format_guard, lp.format_guard) == (
        "sound_recording/cd",
        "sound_recording/analog_disc",
    )
    same_year = dataclasses.replace(
        lp, earliest_year=cd.earliest_year, publication_year=cd.publication_year
    )
    assert title_key(cd) != title_key(same_year)


def test_known_duplicates_in_shared_data() -> None:
    koha = by_position(shared_bib("koha-misc4dev/koha_sample_biblios.marcxml"))
    camel = by_position(shared_bib("marc-perl/camel.usmarc"))
    jazz = by_position(shared_bib("evergreen/jazz_1k.mrc"))
    (armstrong,) = by_position(shared_bib("traject/louis_armstrong.marc")).values()
    same = {n: n for n in (10, 12, 289, 298, 324, 854, 896, 188, 376)}
    _assert_known_cases(koha, camel, jazz, armstrong, same, same)


def test_known_duplicates_in_the_copied_fixtures() -> None:
    koha = by_position(fixture("koha_pairs.marcxml"))
    camel = by_position(fixture("camel.usmarc"))
    jazz = by_position(fixture("jazz_pairs.mrc"))
    (armstrong,) = by_position(fixture("louis_armstrong.marc")).values()
    koha_at = {10: 0, 12: 1, 289: 2, 298: 3, 324: 4}
    jazz_at = {854: 0, 896: 1, 188: 2, 376: 3}
    _assert_known_cases(koha, camel, jazz, armstrong, koha_at, jazz_at)
