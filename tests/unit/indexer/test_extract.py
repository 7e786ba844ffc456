"""The catalogue's view of a record: cleaned titles, names, dates, numbers, types and carriers."""

from __future__ import annotations

import pymarc
import pytest

from kallimachos.indexer.extract import MATERIAL_TYPES, ParsedRecord, clean, extract

from .conftest import by_position, fixture, read_all


def _record(leader: str, *fields: pymarc.Field) -> pymarc.Record:
    record = pymarc.Record(fields=list(fields))
    record.leader = pymarc.Leader(leader)
    return record


def _field(tag: str, *pairs: str, ind: str = "  ") -> pymarc.Field:
    subfields = [pymarc.Subfield(pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2)]
    return pymarc.Field(tag=tag, indicators=pymarc.Indicators(ind[0], ind[1]), subfields=subfields)


def _parsed(record: pymarc.Record, source_format: str = "marc21") -> ParsedRecord:
    return extract(record, position=0, source_format=source_format, raw=b"", encoding="utf-8")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("CGI programming with Perl /", "CGI programming with Perl"),
        ("The swing era :", "The swing era"),
        ("Schuller, Gunther,", "Schuller, Gunther"),
        ("Jazz.", "Jazz"),
        ("2nd ed.", "2nd ed."),
        ("Brown, Martin C.", "Brown, Martin C."),
        ("c1998.", "c1998"),
        ("New York ;", "New York"),
        ("  doubled   spaces  ", "doubled spaces"),
        ("Spoudo\u0304n.", "Spoudōn"),
        ("", None),
    ],
)
def test_clean(raw: str, expected: str | None) -> None:
    assert clean(raw) == expected


def test_camel_values() -> None:
    camel = by_position(fixture("camel.usmarc"))
    first = camel[0]
    assert first.control_number == "fol05731351"
    assert first.authors == ("Martinsson, Tobias",)
    assert (first.publication_year, first.publisher, first.language) == (
        2000,
        "John Wiley & Sons",
        "eng",
    )
    assert first.subjects[:2] == ("Perl (Computer program language)", "Active server pages")
    assert first.material_type == "book"
    assert first.format_guard == "book/print"
    assert camel[2].isbns == ()
    assert camel[8].isbns == ("9780130208682",)


def test_nonfiling_characters() -> None:
    koha = by_position(fixture("koha_pairs.marcxml"))
    swing = koha[3]
    assert (swing.title, swing.filing_title) == ("The swing era", "swing era")


def test_title_parts_and_subtitle() -> None:
    record = _record(
        "00000nam a2200000 a 4500",
        _field(
            "245",
            "a",
            "History of jazz.",
            "n",
            "Volume 2,",
            "p",
            "The swing era :",
            "b",
            "1930-1945 /",
            "c",
            "G. Schuller.",
        ),
    )
    parsed = _parsed(record)
    assert parsed.title == "History of jazz. Volume 2. The swing era"
    assert parsed.subtitle == "1930-1945"
    assert parsed.responsibility == "G. Schuller"


def test_isbns_valid_invalid_and_cancelled() -> None:
    record = _record(
        "00000nam a2200000 a 4500",
        _field("020", "a", "019504312X (alk. paper) : $30.00"),
        _field("020", "a", "978-0-19-504312-9"),
        _field("020", "a", "0195043121 (misprint)"),
        _field("020", "z", "0195071409"),
        _field("022", "a", "0028-0836"),
    )
    parsed = _parsed(record)
    assert parsed.isbns == ("9780195043129",)
    assert parsed.invalid_isbns == ("0195043121 (misprint)", "0195071409")
    assert parsed.issns == ("0028-0836",)


@pytest.mark.parametrize(
    ("leader", "extra", "expected"),
    [
        ("00000nam a2200000 a 4500", [], "book"),
        ("00000nas a2200000 a 4500", [], "serial"),
        ("00000naa a2200000 a 4500", [], "article"),
        ("00000nam a2200000 a 4500", [_field("502", "a", "Thesis (Ph.D.)")], "thesis"),
        ("00000ntm a2200000 a 4500", [], "manuscript"),
        ("00000ncm a2200000 a 4500", [], "score"),
        ("00000nem a2200000 a 4500", [], "map"),
        ("00000njm a2200000 a 4500", [], "sound_recording"),
        ("00000nim a2200000 a 4500", [], "sound_recording"),
        ("00000ngm a2200000 a 4500", [pymarc.Field(tag="007", data="vd cvaizq")], "video"),
        ("00000ngm a2200000 a 4500", [], "visual"),
        ("00000nkm a2200000 a 4500", [], "visual"),
        ("00000nmm a2200000 a 4500", [], "computer_file"),
        ("00000npc a2200000 a 4500", [], "mixed"),
        ("00000    a2200000   4500", [], "book"),
    ],
)
def test_material_types(leader: str, extra: list[pymarc.Field], expected: str) -> None:
    parsed = _parsed(_record(leader, _field("245", "a", "T"), *extra))
    assert parsed.material_type == expected
    assert parsed.material_type in MATERIAL_TYPES


@pytest.mark.parametrize(
    ("leader", "fields", "carrier"),
    [
        ("00000njm a2200000 a 4500", [pymarc.Field(tag="007", data="sd fsngnnmmned")], "cd"),
        (
            "00000njm a2200000 a 4500",
            [pymarc.Field(tag="007", data="sdubmmennmplu-")],
            "analog_disc",
        ),
        ("00000njm a2200000 a 4500", [_field("300", "a", "1 sound cassette")], "cassette"),
        ("00000njm a2200000 a 4500", [_field("300", "a", "2 sound discs :", "b", "digital")], "cd"),
        ("00000njm a2200000 a 4500", [_field("300", "a", "1 sound disc")], "unknown"),
        ("00000ngm a2200000 a 4500", [pymarc.Field(tag="007", data="vd cvaizq")], "dvd"),
        (
            "00000ngm a2200000 a 4500",
            [_field("300", "a", "1 videocassette (VHS)")],
            "videocassette",
        ),
        ("00000nam a2200000 a 4500", [_field("300", "a", "1 online resource")], "online"),
        (
            "00000nam a2200000 a 4500",
            [pymarc.Field(tag="008", data="990101s1999    xx a    o     000 0 eng d")],
            "online",
        ),
        ("00000nam a2200000 a 4500", [pymarc.Field(tag="007", data="he bmb024baca")], "microform"),
        ("00000nam a2200000 a 4500", [], "print"),
    ],
)
def test_carriers(leader: str, fields: list[pymarc.Field], carrier: str) -> None:
    parsed = _parsed(_record(leader, _field("245", "a", "T"), *fields))
    assert parsed.carrier == carrier
    assert parsed.format_guard == f"{parsed.material_type}/{carrier}"


def test_years_prefer_the_fixed_field_and_keep_the_earliest_imprint_date() -> None:
    record = _record(
        "00000nam a2200000 a 4500",
        pymarc.Field(tag="008", data="860129t19861968nyua          001 0 eng  "),
        _field("260", "a", "New York :", "b", "Oxford University Press,", "c", "1986, c1968."),
    )
    parsed = _parsed(record)
    assert (parsed.publication_year, parsed.earliest_year) == (1986, 1968)


def test_year_from_264_when_008_has_none() -> None:
    record = _record(
        "00000nam a2200000 a 4500",
        pymarc.Field(tag="008", data="20120305nuuuu    xx      "),
        _field("264", "a", "Athens :", "b", "Kastaniotis,", "c", "[2012]", ind=" 1"),
    )
    parsed = _parsed(record)
    assert (parsed.publication_year, parsed.publisher) == (2012, "Kastaniotis")


def test_language_from_041_when_008_is_blank() -> None:
    record = _record("00000nam a2200000 a 4500", _field("041", "a", "gregrc"))
    assert _parsed(record).language == "gre"


def test_unimarc_values() -> None:
    records = read_all(fixture("cotesT.mrc"))[0]
    invalides = records[8]
    assert invalides.source_format == "unimarc"
    assert invalides.title == "L'Hôtel des Invalides"
    assert invalides.responsibility == "Général Niox"
    assert invalides.authors == ("Niox, Gustave-Léon",)
    assert (invalides.publication_year, invalides.publisher, invalides.language) == (
        1909,
        "Delagrave",
        "fre",
    )
    assert invalides.subjects == (
        "Musée de l'armée (Paris) -- Histoire",
        "Paris (France) -- Hôtel des Invalides -- Histoire",
    )
    assert invalides.format_guard == "book/print"


def test_unimarc_nonfiling_marks_and_thesis() -> None:
    record = _record(
        "00000nam0 2200000   450 ",
        _field("100", "a", "20050825d2004    u  y0frey0103    ba"),
        _field("101", "a", "gre"),
        _field("200", "a", "\x88Η \x89βιβλιοθήκη", "e", "ιστορία", "f", "Νίκος Κ."),
        _field("205", "a", "2η έκδ."),
        _field("210", "a", "Αθήνα", "c", "Gutenberg", "d", "2004"),
        _field("328", "a", "Thèse"),
        _field("700", "a", "Παπαδόπουλος", "b", "Νίκος", ind=" 1"),
        _field("676", "a", "027"),
        _field("606", "a", "Βιβλιοθήκες", "x", "Ιστορία"),
    )
    parsed = _parsed(record, "unimarc")
    assert (parsed.title, parsed.filing_title) == ("Η βιβλιοθήκη", "βιβλιοθήκη")
    assert parsed.authors == ("Παπαδόπουλος, Νίκος",)
    assert parsed.material_type == "thesis"
    assert parsed.edition == "2η έκδ."
    assert parsed.subjects == ("Βιβλιοθήκες -- Ιστορία",)  # 676 (Dewey) is not a subject
    assert (parsed.publication_year, parsed.language) == (2004, "gre")


def test_empty_record_does_not_raise() -> None:
    parsed = _parsed(_record(" " * 24))
    assert parsed.title is None
    assert parsed.authors == ()
    assert parsed.material_type == "book"
