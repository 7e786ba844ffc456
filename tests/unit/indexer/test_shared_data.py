"""Every file of ../shared/data/bib is read without an exception escaping ``iter_records``.

Counts are (records read, records reported as errors). Where they differ from the SOURCE.md
notes (which count what pymarc's permissive reader managed), the comment says why.
"""

from __future__ import annotations

import csv
import os
from collections import Counter

import pytest

from kallimachos.indexer.reader import (
    NotMarc,
    UnreadableFile,
    UnsupportedSerialisation,
    iter_records,
)

from .conftest import SHARED_BIB, by_position, read_all, shared_bib

# fmt: off
EXPECTED: dict[str, tuple[int, int] | type[UnreadableFile]] = {
    "abes-marcxml2tei/088884074.xml": (1, 0),
    "abes-marcxml2tei/24276858X.xml": (1, 0),
    "abes-marcxml2tei/252383524.xml": (1, 0),
    "abes-marcxml2tei/252394976.xml": (1, 0),
    "abes-marcxml2tei/257133615.xml": (1, 0),
    "blacklight-marc/test_data.utf8.mrc": (30, 0),
    "evergreen/FSL.marc": (52, 0),
    "evergreen/badisbns.xml": (10, 0),
    "evergreen/hebrew.marc": (20, 0),
    "evergreen/jazz_1k.mrc": (1000, 0),
    "evergreen/lul_fre_100.mrc": (100, 0),
    "evergreen/map_data.mrc": (3, 0),
    "evergreen/nepali.marc": (96, 0),
    "evergreen/oss.marc": (41, 1),  # SOURCE: 41 + 1 pymarc error (non-ASCII byte in a directory)
    "evergreen/sample_acq_order.mrc": (10, 0),
    "evergreen/serials_marc21.xml": (7, 0),  # SOURCE: 0; no <collection>
    "evergreen/serials_mfhd.xml": (0, 7),  # MFHD holdings records: reported, not bibliographic
    "evergreen/RDA/RDA_record_CD_Claudia.mrc": (1, 0),
    "evergreen/RDA/RDA_record_DVD-BLUE-RAY-MOVIE_Pineapple_express.mrc": (1, 0),
    "evergreen/RDA/RDA_record_DVD_Jorge_Mautner.mrc": (1, 0),
    "evergreen/RDA/RDA_record_MAP_2012_Enchanted_Circle.mrc": (1, 0),
    "evergreen/RDA/RDA_record_PHOTO_Srid_pa_ho.mrc": (1, 0),
    "evergreen/RDA/RDA_record_SCORE-CD_Arias_for_soprano.mrc": (1, 0),
    "evergreen/RDA/RDA_record_SCORE_Arias_for_bass.mrc": (1, 0),
    "evergreen/RDA/RDA_record_SCORE_Intermediate_studies.mrc": (1, 0),
    "evergreen/RDA/RDA_record_SCORE_Wiegenlied.mrc": (1, 0),
    "evergreen/RDA/RDA_record_SERIAL_IEEE_International_conference.mrc": (1, 0),
    "evergreen/concerto/concerto_booking.marcxml": (2, 0),
    "evergreen/concerto/concerto_concerto.marcxml": (100, 0),
    "evergreen/concerto/concerto_cze.marcxml": (7, 0),
    "evergreen/concerto/concerto_ebook_api.marcxml": (4, 0),
    "evergreen/concerto/concerto_etextbooks.marcxml": (7, 0),
    "evergreen/concerto/concerto_fic.marcxml": (17, 0),
    "evergreen/concerto/concerto_fre.marcxml": (100, 0),
    "evergreen/concerto/concerto_graphic_880.marcxml": (7, 0),
    "evergreen/concerto/concerto_maps.marcxml": (3, 0),
    "evergreen/concerto/concerto_mr.marcxml": (7, 0),
    "evergreen/concerto/concerto_rda.marcxml": (10, 0),
    "koha-misc4dev/DERIVED_koha_sample_biblios_with_952.marcxml": (435, 0),
    "koha-misc4dev/QUIRK_biblio_369_raw_control_char.xml": (0, 1),  # raw U+001F: not XML
    "koha-misc4dev/koha_sample_biblios.marcxml": (435, 0),
    "marc-perl/badldr.usmarc": (6, 0),  # SOURCE: 2 + 1; doubled 0x1D
    "marc-perl/batch-ns.xml": (10, 0),
    "marc-perl/batch.xml": (10, 0),
    "marc-perl/camel.usmarc": (10, 0),
    "marc-perl/cjk1.marc": (1, 0),
    "marc-perl/cjk2.marc": (1, 0),
    "marc-perl/cjk3.marc": (1, 0),
    "marc-perl/cjk4.marc": (1, 0),
    "marc-perl/cyrillic.marc": (1, 0),
    "marc-perl/farsi.marc": NotMarc,  # MARC-8 text lines, no leader
    "marc-perl/filler.usmarc": (3, 0),  # SOURCE: 0; NUL padding between records is skipped
    "marc-perl/hebrew1.marc": (1, 0),
    "marc-perl/hebrew2.marc": (1, 0),
    "marc-perl/namespace.xml": (1, 0),
    "marc-perl/sample1.usmarc": (1, 0),
    "marc-perl/sample100.lif": NotMarc,
    "marc-perl/sample20.lif": NotMarc,
    "marc-perl/test.mrc": (9, 0),
    "marc-perl/test.ndj": UnsupportedSerialisation,
    "marc-perl/title_proper.usmarc": (5, 0),
    "marc4j/008008027.mrc": (18, 1),
    "marc4j/065001035.mrc": (40, 0),
    "marc4j/1474920681_KOHA_LFL_5.xml": (1, 0),
    "marc4j/1474920681_KOHA_LFL_6_with_comment.xml": (1, 0),
    "marc4j/185258.mrc": (0, 1),
    "marc4j/54-56-008008027.mrc": (5, 0),
    "marc4j/OCLC_814388508.xml": (1, 0),
    "marc4j/azdoud.xml": (1, 0),
    "marc4j/bad-characters-in-various-fields.mrc": (1, 0),
    "marc4j/bad_hathi_records.mrc": (4, 1),  # SOURCE: 3 + 1; we resynchronise on 0x1D
    "marc4j/bad_leaders_10_11.mrc": (1, 0),
    "marc4j/bad_oversize_field_bad_directory.mrc": (4, 1),
    "marc4j/bad_too_long_plus_2.mrc": (3, 0),  # SOURCE: 0; leader length wrong, directory sound
    "marc4j/brkrtest.mrc": (8, 0),
    "marc4j/brkrtest_UTF8.mrc": (8, 0),
    "marc4j/chabon-bad-subfields-element.xml": (1, 0),
    "marc4j/chabon-loc.mrc": (2, 0),
    "marc4j/chabon-missing-controlfield-tag.xml": (0, 1),
    "marc4j/chabon-missing-datafield-tag.xml": (0, 1),
    "marc4j/chabon-missing-subfield-code.xml": (0, 1),
    "marc4j/chabon-record-type-bad.xml": (2, 0),
    "marc4j/chabon-record-type.xml": (2, 0),
    "marc4j/chabon.mrc": (2, 0),
    "marc4j/chabon.xml": (2, 0),
    "marc4j/chinese_mangled_multibyte.mrc": (4, 0),
    "marc4j/cruel-cruel-indicatorless-summerland.xml": (1, 0),
    "marc4j/cyrillic_capital_e.mrc": (2, 0),
    "marc4j/datos-20161010-slice.mrc": (0, 1),
    "marc4j/dp_004015001.mrc": (3, 0),
    "marc4j/field700_4_test.mrc": (2, 0),
    "marc4j/getty_test_1.mrc": (1, 0),
    "marc4j/getty_test_output.mrc": (1, 0),
    "marc4j/greekmissingcharsetchange.mrc": (3, 0),
    "marc4j/illegal-marc-in-json.json": UnsupportedSerialisation,
    "marc4j/incomplete_esc_seq.mrc": (1, 0),
    "marc4j/kan1222221.mrc": (1, 0),
    "marc4j/legal-json-marc-in-json.json": UnsupportedSerialisation,
    "marc4j/loongboonmee.mrc": (2, 0),
    "marc4j/marc-in-json.json": UnsupportedSerialisation,
    "marc4j/marc-json.json": UnsupportedSerialisation,
    "marc4j/not_unimarc_errors_3.mrc": (3, 0),
    "marc4j/oclc_63111280_export_as_UTF8_from_connexion.mrc": (1, 0),
    "marc4j/rec1.mrc": (1, 0),
    "marc4j/rec2.mrc": (1, 0),
    "marc4j/rec3.mrc": (1, 0),
    "marc4j/sample1.mrc": (4, 4),  # 4 MARC21 holdings records interleaved: reported
    "marc4j/sample1a.xml": (4, 5),  # idem (5 holdings records)
    "marc4j/selectedRecs.mrc": (11, 0),
    "marc4j/summerland-indented-marc-json.json": UnsupportedSerialisation,
    "marc4j/summerland-marc-in-json-indented.json": UnsupportedSerialisation,
    "marc4j/summerland-marc-in-json.json": UnsupportedSerialisation,
    "marc4j/summerland-marc-json.json": UnsupportedSerialisation,
    "marc4j/summerland-record-with-type.xml": (1, 0),
    "marc4j/summerland-record.xml": (1, 0),
    "marc4j/summerland.mrc": (1, 0),
    "marc4j/summerland.xml": (1, 0),
    "marc4j/summerlandwith710.xml": (1, 0),
    "marc4j/u17_utf8.mrc": (1, 0),
    "marc4j/u335.mrc": (1, 0),
    "marc4j/unordered-directory-entries.mrc": (1, 0),
    "medialab-reference_manager/cotes8.mrc": (35, 0),
    "medialab-reference_manager/cotesBR.mrc": (4, 0),
    "medialab-reference_manager/cotesD.mrc": (20, 0),
    "medialab-reference_manager/cotesMEL.mrc": (109, 0),
    "medialab-reference_manager/cotesT.mrc": (19, 0),
    "medialab-reference_manager/cotesX.mrc": (18, 0),
    "medialab-reference_manager/marcxml_bsg_estampenumerisation192.xml": (1, 0),
    "medialab-reference_manager/marcxml_bsg_nordiquenumerisation.xml": (4, 0),
    "pymarc/1251.dat": (6, 0),
    "pymarc/alphatag.dat": (1, 0),
    "pymarc/bad_eacc_encoding.dat": (1, 0),
    "pymarc/bad_indicator.dat": (1, 0),
    "pymarc/bad_marc8_escape.dat": (1, 0),
    "pymarc/bad_records.mrc": (2, 6),  # deliberately broken: 6 reported
    "pymarc/bad_subfield_code.dat": (1, 0),  # SOURCE: 0; the bad code is normalised by pymarc
    "pymarc/bad_tag.xml": (1, 0),  # SOURCE: 0; a 17-character leader is padded
    "pymarc/batch.json": UnsupportedSerialisation,
    "pymarc/batch.xml": (2, 0),
    "pymarc/diacritic.dat": (1, 0),
    "pymarc/marc.dat": (20, 0),
    "pymarc/marc8.dat": (1, 0),
    "pymarc/multi_isbn.dat": (1, 0),
    "pymarc/one.dat": (1, 0),
    "pymarc/one.json": UnsupportedSerialisation,
    "pymarc/regression45.dat": (12, 0),
    "pymarc/test.dat": (10, 0),
    "pymarc/test.json": UnsupportedSerialisation,
    "pymarc/testunimarc.dat": (1, 0),
    "pymarc/utf8.xml": (1, 0),
    "pymarc/utf8_errors.dat": (1, 0),
    "pymarc/utf8_invalid.mrc": (1, 0),
    "pymarc/utf8_with_leader_flag.dat": (1, 0),
    "pymarc/utf8_without_leader_flag.dat": (1, 0),
    "ruby-marc/bad_eacc_encoding.marc8.marc": (1, 0),
    "ruby-marc/batch.dat": (10, 0),
    "ruby-marc/batch.xml": (2, 0),
    "ruby-marc/cp866_multirecord.marc": (0, 2),  # fields without indicators or subfields
    "ruby-marc/cp866_unimarc.marc": (0, 1),
    "ruby-marc/escaped_character_reference.marc8.marc": (1, 0),
    "ruby-marc/marc8_accented_chars.marc": (1, 0),
    "ruby-marc/marc_with_bad_utf8.utf8.marc": (0, 1),
    "ruby-marc/messed_up_leader.xml": (1, 0),
    "ruby-marc/no-leading-zero.xml": (1, 0),
    "ruby-marc/non-numeric.dat": (1, 0),
    "ruby-marc/non-numeric.xml": (1, 0),
    "ruby-marc/one.dat": (1, 0),
    "ruby-marc/one.xml": (1, 0),
    "ruby-marc/random_tag_order.dat": (1, 0),
    "ruby-marc/random_tag_order2.dat": (1, 0),
    "ruby-marc/three-records-second-bad.xml": (2, 1),  # SOURCE: 0; third read
    "ruby-marc/utf8.marc": (1, 0),
    "ruby-marc/utf8_multirecord.marc": (2, 0),
    "ruby-marc/utf8_with_bad_bytes.marc": (1, 0),
    "traject/245_no_ab.marc": (1, 0),
    "traject/880_with_no_6.utf8.marc": (1, 0),
    "traject/bad_subfield_code.marc": (1, 0),
    "traject/bad_utf_byte.utf8.marc": (1, 0),
    "traject/batch.dat": (31, 0),
    "traject/date_resort_to_260.marc": (1, 0),
    "traject/date_resort_to_264.marc": (1, 0),
    "traject/date_type_r_missing_date2.marc": (1, 0),
    "traject/date_with_u.marc": (1, 0),
    "traject/emptyish_record.marc": (1, 0),
    "traject/escaped_character_reference.marc8.marc": (1, 0),
    "traject/george_eliot.marc": (1, 0),
    "traject/hebrew880s.marc": (1, 0),
    "traject/iso639-3_lang.marc": (1, 0),
    "traject/louis_armstrong.marc": (1, 0),
    "traject/manufacturing_consent.marc": (1, 0),
    "traject/manuscript_online_thesis.marc": (1, 0),
    "traject/microform_online_conference.marc": (1, 0),
    "traject/missing-second-date.marc": (1, 0),
    "traject/multi_era.marc": (1, 0),
    "traject/multi_geo.marc": (1, 0),
    "traject/musical_cage.marc": (1, 0),
    "traject/nature.marc": (1, 0),
    "traject/one-marc8.mrc": (1, 0),
    "traject/online_only.marc": (1, 0),
    "traject/packed_041a_lang.marc": (1, 0),
    "traject/sample-oai-pmh.xml": NotMarc,  # Dublin Core, no MARC
    "traject/test_data.utf8.marc.xml": (30, 0),
    "traject/the_business_ren.marc": (1, 0),
}
# fmt: on

NOT_MARC = [
    "SOURCE.md",
    "evergreen/COPYING",
    "koha-misc4dev/koha_sample_items.csv",
    "pymarc/LICENSE",
]


def _marc_files() -> list[str]:
    found = []
    for root, _dirs, files in os.walk(SHARED_BIB):
        for name in files:
            relative = os.path.relpath(os.path.join(root, name), SHARED_BIB)
            if relative in EXPECTED:
                found.append(relative)
    return sorted(found)


@pytest.mark.parametrize("relative", sorted(EXPECTED))
def test_every_file_reads_without_an_exception_escaping(relative: str) -> None:
    path = shared_bib(relative)
    expected = EXPECTED[relative]
    if isinstance(expected, tuple):
        good, bad = read_all(path)
        assert (len(good), len(bad)) == expected
        assert [r.position for r in bad] == sorted(r.position for r in bad)
    else:
        with pytest.raises(expected):
            list(iter_records(path))


def test_every_folder_is_covered(shared_data: object) -> None:
    folders = {p.name for p in SHARED_BIB.iterdir() if p.is_dir()}
    covered = {relative.split("/", 1)[0] for relative in EXPECTED}
    assert folders == covered
    for root, _dirs, files in os.walk(SHARED_BIB):
        for name in files:
            if name.endswith((".mrc", ".marc", ".dat", ".usmarc", ".xml", ".marcxml")):
                relative = os.path.relpath(os.path.join(root, name), SHARED_BIB)
                assert relative in EXPECTED, f"{relative} has no expected count"


@pytest.mark.parametrize("relative", NOT_MARC)
def test_documents_and_tables_are_not_marc(relative: str) -> None:
    with pytest.raises(NotMarc):
        iter_records(shared_bib(relative))


def test_folder_totals() -> None:
    shared_bib()
    totals: Counter[str] = Counter()
    for relative, expected in EXPECTED.items():
        if isinstance(expected, tuple):
            folder = relative.split("/", 1)[0]
            totals[f"{folder} records"] += expected[0]
            totals[f"{folder} errors"] += expected[1]
    assert totals["koha-misc4dev records"] == 870  # 435 + the same 435 with items
    assert totals["evergreen records"] == 1613  # SOURCE: 2,113 bib incl. the absent music_5k
    assert totals["medialab-reference_manager records"] == 210  # SOURCE says 3,274; files hold 210
    assert totals["abes-marcxml2tei records"] == 5


# --- specific values -------------------------------------------------------------------------


def test_koha_items_are_the_952_fields() -> None:
    records, errors = read_all(
        shared_bib("koha-misc4dev/DERIVED_koha_sample_biblios_with_952.marcxml")
    )
    assert errors == []
    items = [h for r in records for h in r.holdings]
    assert len(items) == 958  # 961 items in the CSV, less the 3 of biblio 369 (the QUIRK file)
    assert {h.tag for h in items} == {"952"}
    assert Counter(h.branch_code for h in items) == {"MPL": 323, "CPL": 320, "FPL": 315}
    assert Counter(h.item_type for h in items) == {"BK": 845, "MU": 67, "VM": 46}
    assert Counter(h.collection for h in items) == {
        "general": 843,
        "audiovisual": 113,
        "reference": 2,
    }
    assert not any(h.not_for_loan or h.lost or h.damaged or h.withdrawn for h in items)
    with open(shared_bib("koha-misc4dev/koha_sample_items.csv"), newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["biblionumber"] != "369"]
    assert sorted(h.barcode or "" for h in items) == sorted(row["barcode"] for row in rows)


def test_koha_record_values() -> None:
    koha = by_position(shared_bib("koha-misc4dev/koha_sample_biblios.marcxml"))
    assert koha[298].title == "The swing era"
    assert koha[298].subtitle == "the development of jazz, 1930-1945"
    assert koha[298].isbns == ("9780195043129", "9780195071405")
    assert koha[289].publication_year == 1986
    assert koha[289].earliest_year == 1968  # "1986, c1968"
    assert koha[10].edition == "2nd ed."


def test_jazz_949_items() -> None:
    records, errors = read_all(shared_bib("evergreen/jazz_1k.mrc"))
    assert (len(records), len(errors)) == (1000, 0)
    assert {r.encoding for r in records} == {"marc-8"}
    items = [h for r in records for h in r.holdings]
    assert len(items) == 1238
    assert sum(1 for r in records if r.holdings) == 983
    first = records[0].holdings[0]
    assert (first.tag, first.branch_code, first.location, first.call_number, first.barcode) == (
        "949",
        "HUNTINGTON",
        "HUNT-AUDIO",
        "5490",
        "30007007467409",
    )
    assert (first.item_type, first.raw_collection, first.collection) == (
        "SOUND",
        "COMPDISCS",
        "audiovisual",
    )
    collections = Counter(h.collection for h in items)
    assert collections == {"audiovisual": 777, "general": 436, "periodicals": 17, "reference": 8}


def test_unimarc_995_items() -> None:
    records, errors = read_all(shared_bib("medialab-reference_manager/cotesMEL.mrc"))
    assert (len(records), len(errors)) == (109, 0)
    assert {r.source_format for r in records} == {"unimarc"}
    items = [h for r in records for h in r.holdings]
    assert len(items) == 132
    assert {h.tag for h in items} == {"995"}
    first = items[0]
    assert (first.branch_code, first.location, first.barcode, first.item_type) == (
        "BIB01",
        "MAG1",
        "00000001390392",
        "DI",
    )
    assert first.call_number == "MEL8°071(05)"  # double-encoded "MEL8Â°071(05)" repaired


def test_sudoc_930_holdings() -> None:
    (record,) = read_all(shared_bib("abes-marcxml2tei/088884074.xml"))[0]
    assert record.source_format == "unimarc"
    (holding,) = record.holdings
    assert (holding.tag, holding.branch_code, holding.call_number, holding.barcode) == (
        "930",
        "751052119",
        "S/24.421 2004-551",
        None,
    )


def test_the_greek_script_record() -> None:
    (record,) = read_all(shared_bib("marc4j/OCLC_814388508.xml"))[0]
    assert record.language == "gre"
    assert record.title == "Hē agora stē Mesogeio"
    assert record.title_vernacular == "Η αγορά στη Μεσόγειο"
    assert record.isbns == ("9789608838765",)


def test_the_same_records_in_marc8_binary_and_utf8_xml() -> None:
    binary = read_all(shared_bib("evergreen/lul_fre_100.mrc"))[0]
    xml = read_all(shared_bib("evergreen/concerto/concerto_fre.marcxml"))[0]
    assert [r.control_number for r in binary] == [r.control_number for r in xml]
    different = [(a.title, b.title) for a, b in zip(binary, xml, strict=True) if a.title != b.title]
    assert different == []
    assert [len(r.holdings) for r in binary] == [len(r.holdings) for r in xml]


def test_leader_that_lies_about_utf8() -> None:
    records = read_all(shared_bib("evergreen/FSL.marc"))[0]
    assert len(records) == 52
    assert {r.encoding for r in records} == {"utf-8"}
    with_flag = read_all(shared_bib("pymarc/utf8_with_leader_flag.dat"))[0]
    without_flag = read_all(shared_bib("pymarc/utf8_without_leader_flag.dat"))[0]
    assert [r.title for r in with_flag] == [r.title for r in without_flag]


def test_marc_files_found_match_the_table() -> None:
    shared_bib()
    assert _marc_files() == sorted(EXPECTED)
