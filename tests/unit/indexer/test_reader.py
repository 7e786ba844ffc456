"""Reading files: recognition, resynchronising after broken records, character sets, XML."""

from __future__ import annotations

import tracemalloc
import xml.etree.ElementTree as ET
from pathlib import Path

import pymarc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kallimachos.indexer.extract import ParsedRecord
from kallimachos.indexer.reader import (
    NotMarc,
    RecordError,
    UnreadableFile,
    UnsupportedSerialisation,
    detect_format,
    iter_records,
)

from .conftest import fixture, read_all

FIXTURE_REUSED = HealthCheck.function_scoped_fixture
SLIM = "http://www.loc.gov/MARC21/slim"
OAI = "http://www.openarchives.org/OAI/2.0/"
CAMEL = fixture("camel.usmarc").read_bytes()
FIRST_CAMEL = CAMEL[: int(CAMEL[:5])]


def _write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _xml_record(title: str, prefix: str = "", leader: str = "00000nam a2200000 a 4500") -> str:
    p = f"{prefix}:" if prefix else ""
    return (
        f"<{p}record><{p}leader>{leader}</{p}leader>"
        f'<{p}controlfield tag="001">{title[:8]}</{p}controlfield>'
        f'<{p}datafield tag="245" ind1="1" ind2="0"><{p}subfield code="a">{title} /</{p}subfield>'
        f"</{p}datafield></{p}record>"
    )


# --- recognising the file ----------------------------------------------------------------------


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="No such file"):
        iter_records(tmp_path / "nowhere.mrc")


def test_a_directory_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile):
        iter_records(tmp_path)


@pytest.mark.parametrize(
    ("content", "error"),
    [
        pytest.param(b"", NotMarc, id="empty"),
        pytest.param(b"Title,Author\nOdyssey,Homer\n", NotMarc, id="csv"),
        pytest.param(
            b'{"leader": "00000nam a2200000 a 4500"}', UnsupportedSerialisation, id="json"
        ),
        pytest.param(b"\xff\xfe<\x00c\x00", UnsupportedSerialisation, id="utf16-xml"),
        pytest.param(b"<html><body>hello</body></html>", NotMarc, id="html"),
    ],
)
def test_files_that_are_not_marc(tmp_path: Path, content: bytes, error: type[Exception]) -> None:
    path = _write(tmp_path, "file", content)
    with pytest.raises(error):
        list(iter_records(path))


def test_marcxml_format_insists_on_xml(tmp_path: Path) -> None:
    with pytest.raises(NotMarc, match="expected MARCXML"):
        iter_records(_write(tmp_path, "camel.mrc", CAMEL), "marcxml")


def test_unknown_format_name() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        iter_records(fixture("camel.usmarc"), "json")  # type: ignore[arg-type]


# --- ISO 2709 --------------------------------------------------------------------------------


def test_camel_records() -> None:
    records, errors = read_all(fixture("camel.usmarc"))
    assert errors == []
    assert [r.position for r in records] == list(range(10))
    assert records[0].title == "ActivePerl with ASP and ADO"
    assert records[0].responsibility == "Tobias Martinsson"
    assert records[0].isbns == ("9780471383147",)
    assert records[0].raw == FIRST_CAMEL
    assert records[4].edition == "2nd ed., expanded & updated"


def test_broken_records_are_reported_and_reading_goes_on() -> None:
    records, errors = read_all(fixture("bad_records.mrc"))
    assert [r.position for r in records] == [0, 7]
    assert [e.position for e in errors] == [1, 2, 3, 4, 5, 6]
    assert "truncated" in errors[0].reason
    assert "base address" in errors[1].reason.lower()
    assert all(r.title == "The pragmatic programmer" for r in records)


def test_resynchronises_on_the_record_terminator(tmp_path: Path) -> None:
    garbage = b"this is not a record\x1d"
    wrong_length = b"99999" + FIRST_CAMEL[5:]
    data = FIRST_CAMEL + garbage + wrong_length + b"\x00\x00\n" + FIRST_CAMEL + b"7"
    items = list(iter_records(_write(tmp_path, "mixed.mrc", data)))
    assert [type(i).__name__ for i in items] == [
        "ParsedRecord",
        "RecordError",
        "ParsedRecord",
        "ParsedRecord",
    ]
    assert [i.position for i in items] == [0, 1, 2, 3]


def test_a_record_cut_short_at_the_end_is_reported(tmp_path: Path) -> None:
    items = list(iter_records(_write(tmp_path, "cut.mrc", FIRST_CAMEL + FIRST_CAMEL[:300])))
    assert isinstance(items[0], ParsedRecord)
    assert isinstance(items[1], RecordError)
    assert "truncated" in items[1].reason


def test_a_file_whose_first_record_lost_its_leader(tmp_path: Path) -> None:
    damaged = b"XXXXX" + FIRST_CAMEL[5:] + FIRST_CAMEL
    items = list(iter_records(_write(tmp_path, "damaged.mrc", damaged)))
    assert isinstance(items[-1], ParsedRecord)


def _big_record(number: int) -> bytes:
    fields = [
        pymarc.Field(tag="001", data=f"big{number}"),
        pymarc.Field(
            tag="245",
            indicators=pymarc.Indicators("0", "0"),
            subfields=[pymarc.Subfield("a", f"Volume {number}")],
        ),
    ]
    for _ in range(6):
        note = [pymarc.Subfield("a", "κείμενο " * 600)]  # 9,000 bytes
        fields.append(
            pymarc.Field(tag="500", indicators=pymarc.Indicators(" ", " "), subfields=note)
        )
    record = pymarc.Record(fields=fields, leader="00000nam a2200000 a 4500")
    data: bytes = record.as_marc()
    return data


def test_reading_is_streamed_in_constant_memory(tmp_path: Path) -> None:
    path = _write(tmp_path, "big.mrc", b"".join(_big_record(n) for n in range(60)))
    assert path.stat().st_size > 3_000_000
    tracemalloc.start()
    titles = [item.title for item in iter_records(path) if isinstance(item, ParsedRecord)]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert titles == [f"Volume {n}" for n in range(60)]
    assert peak < 1_500_000  # a few records' worth: the file was never read whole


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.integers(0, len(CAMEL) - 1), st.integers(0, 255), st.sampled_from("rid")),
        min_size=1,
        max_size=8,
    )
)
def test_mutated_bytes_never_raise(tmp_path: Path, mutations: list[tuple[int, int, str]]) -> None:
    data = bytearray(CAMEL)
    for offset, value, kind in mutations:
        offset = min(offset, len(data) - 1)
        if kind == "r":
            data[offset] = value
        elif kind == "i":
            data.insert(offset, value)
        elif len(data) > 1:
            del data[offset]
    path = tmp_path / "mutated.mrc"
    path.write_bytes(bytes(data))
    items = list(iter_records(path))
    assert items
    assert all(isinstance(i, ParsedRecord | RecordError) for i in items)
    assert [i.position for i in items] == list(range(len(items)))


# --- character sets --------------------------------------------------------------------------


def test_utf8_without_the_leader_flag() -> None:
    (record,) = read_all(fixture("utf8_without_leader_flag.dat"))[0]
    assert record.encoding == "utf-8"
    assert record.title == "Escape from loneliness"


def test_marc8_despite_a_utf8_leader() -> None:
    (record,) = read_all(fixture("marc8_accented_chars.marc"))[0]
    assert record.encoding == "marc-8"
    assert record.title == 'Histoire du "nouveau théâtre."'
    assert record.authors == ("Serreau, Geneviève",)


def test_windows_1251_records() -> None:
    records = read_all(fixture("1251.dat"))[0]
    assert {r.encoding for r in records} == {"cp1251"}
    assert records[3].title == "Экономика строительства"


def test_marc8_greek_and_numeric_character_references() -> None:
    records = read_all(fixture("greekmissingcharsetchange.mrc"))[0]
    assert [r.encoding for r in records] == ["marc-8", "marc-8", "utf-8"]
    # The first record escapes to MARC-8 Greek; the second writes &#x0397; references.
    assert records[1].title_vernacular == "Η αγορά στη Μεσόγειο"
    assert records[2].title_vernacular == "Η αγορά στη Μεσόγειο"
    assert records[0].title_vernacular is not None
    assert records[0].title_vernacular.startswith("Η αγορά στη Μεσόγειο")


def test_marc8_references_in_a_plain_field() -> None:
    (record,) = read_all(fixture("escaped_character_reference.marc8.marc"))[0]
    assert record.encoding == "marc-8"
    text = repr(record)
    assert "&#x" not in text


# --- MARCXML ---------------------------------------------------------------------------------


def test_collection_with_namespace_prefix(tmp_path: Path) -> None:
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?><marc:collection xmlns:marc="{SLIM}">'
        + _xml_record("Odysseia", "marc")
        + _xml_record("Ilias", "marc")
        + "</marc:collection>"
    )
    records, errors = read_all(_write(tmp_path, "prefixed.xml", xml))
    assert errors == []
    assert [r.title for r in records] == ["Odysseia", "Ilias"]
    raw = records[1].raw
    assert isinstance(raw, str)
    standalone = ET.fromstring(raw)  # the namespace was declared on the collection only
    assert standalone.tag == f"{{{SLIM}}}record"


def test_single_record_without_namespace(tmp_path: Path) -> None:
    records, _ = read_all(_write(tmp_path, "one.xml", _xml_record("Theogonia")))
    assert [r.title for r in records] == ["Theogonia"]


def test_records_concatenated_without_a_collection(tmp_path: Path) -> None:
    xml = "\n".join(_xml_record(t) for t in ("Alpha", "Beta", "Gamma"))
    records, errors = read_all(_write(tmp_path, "loose.xml", xml))
    assert [r.title for r in records] == ["Alpha", "Beta", "Gamma"]
    assert errors == []


def test_a_malformed_record_in_the_middle() -> None:
    records, errors = read_all(fixture("three-records-second-bad.xml"))
    assert [r.position for r in records] == [0, 2]
    assert [e.position for e in errors] == [1]
    assert "not well-formed" in errors[0].reason


def test_marc_inside_oai_pmh(tmp_path: Path) -> None:
    wrap = (
        "<record><header><identifier>x:{0}</identifier></header><metadata>{1}</metadata></record>"
    )
    body = "".join(
        wrap.format(
            i, _xml_record(t, "marc").replace("<marc:record>", f'<marc:record xmlns:marc="{SLIM}">')
        )
        for i, t in enumerate(["Erga", "Hemerai", "Aspis"])
    )
    xml = f'<OAI-PMH xmlns="{OAI}"><ListRecords>{body}</ListRecords></OAI-PMH>'
    records, errors = read_all(_write(tmp_path, "oai.xml", xml))
    assert [r.title for r in records] == ["Erga", "Hemerai", "Aspis"]
    assert errors == []


def test_bad_record_inside_oai_pmh_then_reading_goes_on(tmp_path: Path) -> None:
    good = (
        f'<marc:record xmlns:marc="{SLIM}"><marc:leader>00000nam a2200000 a 4500</marc:leader>'
        '<marc:datafield tag="245" ind1="0" ind2="0"><marc:subfield code="a">{}</marc:subfield>'
        "</marc:datafield></marc:record>"
    )
    bad = good.format("Broken <b> tag")
    body = "".join(
        f"<record><metadata>{r}</metadata></record>"
        for r in (good.format("One"), bad, good.format("Three"))
    )
    xml = f'<OAI-PMH xmlns="{OAI}"><ListRecords>{body}</ListRecords></OAI-PMH>'
    items = list(iter_records(_write(tmp_path, "oai.xml", xml)))
    assert [type(i).__name__ for i in items] == ["ParsedRecord", "RecordError", "ParsedRecord"]
    assert isinstance(items[2], ParsedRecord)
    assert items[2].title == "Three"


def test_xml_holdings_records_are_not_catalogue_records(tmp_path: Path) -> None:
    xml = (
        f'<collection xmlns="{SLIM}">'
        + _xml_record("Holdings", leader="00000ny  a2200000 a 4500")
        + "</collection>"
    )
    (error,) = list(iter_records(_write(tmp_path, "mfhd.xml", xml)))
    assert isinstance(error, RecordError)
    assert "holdings record" in error.reason


def test_xml_without_marc_records(tmp_path: Path) -> None:
    path = _write(tmp_path, "dc.xml", f'<OAI-PMH xmlns="{OAI}"><x/></OAI-PMH>')
    with pytest.raises(NotMarc, match="root element: OAI-PMH"):
        list(iter_records(path))


def test_latin1_declared_xml(tmp_path: Path) -> None:
    xml = '<?xml version="1.0" encoding="ISO-8859-1"?>' + _xml_record("Théâtre")
    records, _ = read_all(_write(tmp_path, "latin.xml", xml.encode("latin-1")))
    assert records[0].title == "Théâtre"


# --- format recognition ----------------------------------------------------------------------


def test_unimarc_binary_is_recognised() -> None:
    records, errors = read_all(fixture("cotesT.mrc"))
    assert errors == []
    assert len(records) == 19
    assert {r.source_format for r in records} == {"unimarc"}


def test_unimarc_in_marcxml_is_recognised() -> None:
    (record,) = read_all(fixture("abes_088884074.xml"))[0]
    assert record.source_format == "unimarc"


def test_format_can_be_forced() -> None:
    items = list(iter_records(fixture("cotesT.mrc"), "marc21"))
    assert {i.source_format for i in items if isinstance(i, ParsedRecord)} == {"marc21"}


@pytest.mark.parametrize(
    ("leader", "tags", "coded", "expected"),
    [
        ("00000nam a2200000 a 4500", ["001", "008", "245"], "", "marc21"),
        ("00000nam0 2200000   450 ", ["001", "100", "200"], "20050825d1918", "unimarc"),
        ("00000nam  2200000   4500", ["001", "100"], "19961119d1996", "unimarc"),
        ("00000nam  2200000   450 ", ["001"], "", "unimarc"),
        ("00000nam  2200000   4500", ["001", "100"], "Smith, John", "marc21"),
    ],
)
def test_detect_format(leader: str, tags: list[str], coded: str, expected: str) -> None:
    assert detect_format(leader, tags, coded) == expected


KOHA_XML = fixture("koha_pairs.marcxml").read_bytes()[:6000] + b"</collection>"


@settings(max_examples=150, deadline=None, suppress_health_check=[FIXTURE_REUSED])
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(KOHA_XML) - 1),
            st.sampled_from([b"<", b">", b"/", b'"', b"&", b"\x00", b"\xff", b"x", b"</record>"]),
            st.sampled_from("rid"),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_mutated_xml_never_raises_past_the_documented_errors(
    tmp_path: Path, mutations: list[tuple[int, bytes, str]]
) -> None:
    data = bytearray(KOHA_XML)
    for offset, value, kind in mutations:
        offset = min(offset, len(data) - 1)
        if kind == "r":
            data[offset : offset + len(value)] = value
        elif kind == "i":
            data[offset:offset] = value
        else:
            del data[offset]
    path = tmp_path / "mutated.xml"
    path.write_bytes(bytes(data))
    try:
        items = list(iter_records(path))
    except UnreadableFile:
        return
    assert all(isinstance(i, ParsedRecord | RecordError) for i in items)
    assert [i.position for i in items] == list(range(len(items)))
