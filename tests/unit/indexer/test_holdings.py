"""Copies from holdings fields: one per field, with the API's collections and status flags."""

from __future__ import annotations

import pymarc
import pytest

from kallimachos.indexer.holdings import COLLECTIONS, extract_holdings, map_collection

from .conftest import fixture, read_all


def _record(*fields: pymarc.Field) -> pymarc.Record:
    return pymarc.Record(fields=list(fields))


def _field(tag: str, *pairs: str) -> pymarc.Field:
    subfields = [pymarc.Subfield(pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2)]
    return pymarc.Field(tag=tag, indicators=pymarc.Indicators(" ", " "), subfields=subfields)


def test_koha_952() -> None:
    record = _record(
        _field(
            "952",
            "a",
            "CPL",
            "b",
            "MPL",
            "c",
            "REF",
            "o",
            "R 030 ENC",
            "p",
            "3999900000018",
            "y",
            "BK",
            "8",
            "NFIC",
            "7",
            "1",
            "1",
            "0",
            "4",
            "1",
            "0",
            "0",
        )
    )
    (item,) = extract_holdings(record, "marc21")
    assert (item.tag, item.branch_code, item.location, item.call_number, item.barcode) == (
        "952",
        "CPL",
        "REF",
        "R 030 ENC",
        "3999900000018",
    )
    assert (item.item_type, item.raw_collection, item.collection) == ("BK", "NFIC", "reference")
    assert (item.not_for_loan, item.lost, item.damaged, item.withdrawn) == (
        True,
        False,
        True,
        False,
    )
    assert item.raw["p"] == ("3999900000018",)


def test_koha_ordered_item_is_unprocessed() -> None:
    (item,) = extract_holdings(_record(_field("952", "a", "FPL", "p", "1", "7", "-1")), "marc21")
    assert item.not_for_loan
    assert item.unprocessed


def test_952_notes_from_other_systems_are_not_copies() -> None:
    record = _record(
        _field("952", "a", "CSUO02B5200", "b", "Hoover Institution, East Asia Collection"),
        _field("952", "a", "Library has 2 copies."),
    )
    assert extract_holdings(record, "marc21") == []


def test_sirsi_949() -> None:
    record = _record(
        _field(
            "949",
            "a",
            "ML3506 S36 1986",
            "w",
            "LC",
            "i",
            "30007002877586",
            "r",
            "Y",
            "t",
            "BOOKS",
            "l",
            "DESM-RARE",
            "m",
            "DESMARAIS",
            "k",
            "INPROCESS",
        ),
        _field(
            "949",
            "a",
            "3683",
            "i",
            "30007006867187",
            "r",
            "N",
            "t",
            "SOUND",
            "l",
            "HUNT-AUDIO",
            "m",
            "HUNTINGTON",
            "k",
            "LOST",
        ),
    )
    rare, sound = extract_holdings(record, "marc21")
    assert (rare.branch_code, rare.location, rare.collection, rare.unprocessed) == (
        "DESMARAIS",
        "DESM-RARE",
        "rare",
        True,
    )
    assert (sound.collection, sound.not_for_loan, sound.lost) == ("audiovisual", True, True)


def test_852_location_style() -> None:
    record = _record(
        _field(
            "852", "a", "MiU", "b", "BUHR", "c", "GRAD", "h", "PL 2127", "i", ".C42", "p", "39015"
        )
    )
    (item,) = extract_holdings(record, "marc21")
    assert (item.branch_code, item.location, item.call_number, item.barcode) == (
        "BUHR",
        "GRAD",
        "PL 2127 .C42",
        "39015",
    )
    assert item.collection == "general"


def test_852_evergreen_flags() -> None:
    record = _record(
        _field("852", "b", "BR1", "c", "Stacks", "j", "G4362", "x", "reference", "z", "In process")
    )
    (item,) = extract_holdings(record, "marc21")
    assert item.collection == "reference"
    assert item.unprocessed


def test_852_beside_item_fields_is_a_note() -> None:
    record = _record(
        _field("852", "a", "British Library", "b", "HMNTS", "j", "YK.2011.b.6476"),
        _field("952", "a", "MPL", "p", "39999000001", "y", "BK"),
    )
    assert [h.tag for h in extract_holdings(record, "marc21")] == ["952"]


def test_852_without_place_or_copy_is_skipped() -> None:
    assert extract_holdings(_record(_field("852", "x", "universal pattern")), "marc21") == []


def test_unimarc_995_and_930() -> None:
    record = _record(
        _field(
            "995",
            "b",
            "751072303",
            "c",
            "BIB01",
            "d",
            "MAG1",
            "f",
            "00000001390392",
            "k",
            "MEL8°071(05)",
            "o",
            "0",
            "r",
            "DI",
        ),
        _field("995", "b", "751072303", "f", "0002", "k", "X.1", "o", "1", "e", "USUELS"),
    )
    first, second = extract_holdings(record, "unimarc")
    assert (
        first.branch_code,
        first.location,
        first.call_number,
        first.barcode,
        first.item_type,
    ) == (
        "BIB01",
        "MAG1",
        "MEL8°071(05)",
        "00000001390392",
        "DI",
    )
    assert not first.not_for_loan
    assert (second.branch_code, second.collection, second.not_for_loan) == (
        "751072303",
        "reference",
        True,
    )
    sudoc = _record(_field("930", "5", "751052119:237716038", "b", "751052119", "a", "S/24.421"))
    (holding,) = extract_holdings(sudoc, "unimarc")
    assert (holding.tag, holding.branch_code, holding.call_number, holding.barcode) == (
        "930",
        "751052119",
        "S/24.421",
        None,
    )


def test_995_in_marc21_is_a_local_field() -> None:
    record = _record(_field("995", "a", "form", "b", "form character life", "c", "761"))
    assert extract_holdings(record, "marc21") == []


@pytest.mark.parametrize(
    ("location", "item_type", "code", "expected"),
    [
        ("GEN", "BK", "REF", "general"),  # the shelf decides before the collection code
        (None, None, "REF", "reference"),
        ("HUNT-AUDIO", "SOUND", "COMPDISCS", "audiovisual"),
        ("HUNT-PER", "PERIODICAL", None, "periodicals"),
        ("DESM-RARE", "BOOK_RARE", "RAREBOOKS", "rare"),
        (None, "THESIS", None, "grey_literature"),
        ("RESERVE", None, None, "restricted_loan"),
        ("MAG1", "DI", None, "general"),
        (None, None, None, "general"),
    ],
)
def test_map_collection(
    location: str | None, item_type: str | None, code: str | None, expected: str
) -> None:
    assert map_collection(location, item_type, code) == expected
    assert expected in COLLECTIONS


def test_fixture_holdings_counts() -> None:
    jazz = read_all(fixture("jazz_pairs.mrc"))[0]
    assert [len(r.holdings) for r in jazz] == [1, 1, 1, 6]
    assert {h.tag for r in jazz for h in r.holdings} == {"949"}
    koha = read_all(fixture("koha_pairs.marcxml"))[0]
    assert [len(r.holdings) for r in koha] == [1, 1, 2, 2, 1]
    cotes = read_all(fixture("cotesT.mrc"))[0]
    assert sum(len(r.holdings) for r in cotes) == 21
