"""What the catalogue needs from a bibliographic record, read the same way from MARC21 and UNIMARC.

``extract`` turns a decoded ``pymarc.Record`` into a ``ParsedRecord``: plain strings and numbers,
cleaned of the ISBD punctuation that separates the parts of a description (``" /"``, ``" :"``,
``" ;"``, a final full stop).

Where each value comes from:

=================  ==========================================  ================================
value              MARC21                                      UNIMARC
=================  ==========================================  ================================
title              245 $a $n $p                                200 $a $h $i
subtitle           245 $b                                      200 $e
responsibility     245 $c                                      200 $f $g
title_vernacular   880 linked to 245 (original script)         -
authors            100 110 111 700 710 711                     700 701 702 710 711 712
publication_year   008/07-10, else 264 (2nd ind. 1), else 260  100 $a/09-12, else 210/214 $d
earliest_year      earliest year in 264/260 $c, else 008       earliest year in 210/214 $d
publisher          264 (2nd ind. 1) $b, else 260 $b            210 $c, else 214 $c
isbns              020 $a (valid ones, as ISBN-13)             010 $a
invalid_isbns      020 $a that fail the check digit, 020 $z    010 $a failing, 010 $z
issns              022 $a                                      011 $a
language           008/35-37, else 041 $a                      101 $a
edition            250 $a $b                                   205 $a $b
subjects           6XX                                         600-617 (not 675/676/680/686)
=================  ==========================================  ================================

``material_type`` is one word of ``MATERIAL_TYPES``, from the leader (type of record, position 6;
bibliographic level, position 7), a dissertation note (MARC21 502, UNIMARC 328) and, for
projected media, the fixed fields. ``carrier`` says how the content is carried (print, CD,
online ...) and ``format_guard`` joins the two: clustering never merges records whose guards
differ.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from pymarc import Field, Record

from kallimachos.domain.identifiers import normalise_isbn, normalise_issn
from kallimachos.indexer.holdings import HoldingData, extract_holdings

__all__ = ["CARRIERS", "MATERIAL_TYPES", "ParsedRecord", "SourceFormat", "extract"]

SourceFormat = Literal["marc21", "unimarc"]

MATERIAL_TYPES: Mapping[str, str] = {
    "book": "printed or electronic text, monograph (also the default for a blank leader)",
    "article": "a component part: an article or chapter catalogued on its own",
    "serial": "journal, newspaper, series or integrating resource",
    "thesis": "dissertation or thesis (MARC21 502 / 008 nature of contents m; UNIMARC 328 / 105)",
    "manuscript": "manuscript text",
    "score": "printed or manuscript music",
    "map": "cartographic material",
    "sound_recording": "musical or spoken sound recording",
    "video": "videorecording or motion picture",
    "visual": "other visual material: pictures, slides, 3-D objects",
    "computer_file": "software, data or multimedia on a computer carrier",
    "mixed": "mixed materials or kit",
}

CARRIERS = (
    "print",
    "large_print",
    "braille",
    "microform",
    "online",
    "cd",
    "analog_disc",
    "cassette",
    "dvd",
    "bluray",
    "videocassette",
    "film",
    "disc",
    "unknown",
)


@dataclass(frozen=True, slots=True)
class ParsedRecord:
    """One bibliographic record, as the catalogue reads it."""

    position: int
    source_format: SourceFormat
    control_number: str | None
    title: str | None
    filing_title: str | None
    subtitle: str | None
    responsibility: str | None
    title_vernacular: str | None
    authors: tuple[str, ...]
    publication_year: int | None
    earliest_year: int | None
    publisher: str | None
    isbns: tuple[str, ...]
    invalid_isbns: tuple[str, ...]
    issns: tuple[str, ...]
    language: str | None
    material_type: str
    carrier: str
    format_guard: str
    edition: str | None
    subjects: tuple[str, ...]
    encoding: str
    raw: bytes | str = field(repr=False)
    holdings: tuple[HoldingData, ...] = ()

    def __reduce__(self) -> tuple[type[ParsedRecord], tuple[Any, ...]]:
        """Pickle as the constructor's arguments (the parser process sends many)."""
        return (ParsedRecord, tuple(getattr(self, name) for name in _RECORD_FIELDS))


_RECORD_FIELDS = tuple(f.name for f in fields(ParsedRecord))


class _Indexed:
    """A record's fields grouped by tag once: ``pymarc.Record.get_fields`` scans every field on
    each call, and ``extract`` asks for twenty-odd tags per record."""

    __slots__ = ("_by_tag", "fields", "leader", "record")

    def __init__(self, record: Record) -> None:
        self.record = record
        self.leader = record.leader
        self.fields: list[Field] = list(record.fields)
        by_tag: dict[str, list[Field]] = {}
        for fld in self.fields:
            by_tag.setdefault(fld.tag, []).append(fld)
        self._by_tag = by_tag

    def get_fields(self, *tags: str) -> list[Field]:
        """The fields with these tags, in record order (as ``pymarc.Record.get_fields``)."""
        if len(tags) == 1:
            return self._by_tag.get(tags[0], [])
        wanted = set(tags)
        return [fld for fld in self.fields if fld.tag in wanted]


# --- text cleaning -------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_NONFILING = re.compile(r"[\x88\x98].*?[\x89\x9c]", re.DOTALL)
_ENDS = " ,;:/=+"  # ISBD punctuation (and spaces) stripped from both ends of a value
_YEAR = re.compile(r"(?<!\d)(1\d{3}|20\d{2})(?!\d)")
_LANGUAGE = re.compile(r"^[a-z]{3}$")


def clean(value: str | None, *, keep_full_stop: bool = False) -> str | None:
    """A value without ISBD punctuation at its ends, control characters or doubled spaces (NFC)."""
    if value is None:
        return None
    if not value.isprintable():  # printable text has no control characters
        value = _CONTROL.sub("", value)
    if not value.isascii():  # ASCII is already NFC
        value = unicodedata.normalize("NFC", value)
    text = " ".join(value.split())
    while True:
        before = text
        # After the join the only whitespace is single spaces between words, so this removes
        # exactly what ``[\s,;:/=+]+`` at either end would.
        text = text.rstrip(_ENDS).lstrip(_ENDS)
        if not keep_full_stop and text.endswith(".") and not text.endswith(".."):
            word = re.search(r"(\w+)\.$", text)
            if word is None or len(word.group(1)) >= 3 or word.group(1).isdigit():
                text = text[:-1].rstrip()
        if text == before:
            break
    return text or None


def _nonfiling_removed(value: str) -> str:
    """UNIMARC marks words that do not file (``L'``, ``The``) between NSB and NSE."""
    return _NONFILING.sub("", value)


def _values(fields: Iterable[Field], *codes: str) -> Iterator[str]:
    for fld in fields:
        for sub in fld.subfields:
            if sub.code in codes:
                yield sub.value


def _first(record: _Indexed, tag: str, *codes: str) -> str | None:
    for value in _values(record.get_fields(tag), *codes):
        text = clean(value)
        if text:
            return text
    return None


def _control(record: _Indexed, tag: str) -> str:
    for fld in record.get_fields(tag):
        if fld.is_control_field() and fld.data:
            return str(fld.data)
    return ""


def _dedupe(values: Iterable[str | None]) -> tuple[str, ...]:
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        if value and value.casefold() not in seen:
            seen.add(value.casefold())
            out.append(value)
    return tuple(out)


def _years(text: str | None) -> list[int]:
    return [int(y) for y in _YEAR.findall(text or "")]


def _year_of(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) == 4 and 1000 <= int(text) <= 2099 else None


# --- title and statement of responsibility ------------------------------------------------


def _title_parts(fld: Field, main: str, parts: str, skip: int = 0) -> tuple[str | None, str]:
    """The title proper (main subfield plus part number/name) and its filing form."""
    pieces: list[str] = []
    for sub in fld.subfields:
        if sub.code in (parts if pieces else main):
            pieces.append(sub.value)
    if not pieces:
        return None, ""
    title = ". ".join(c for c in map(clean, pieces) if c) or None
    filing_pieces = [_nonfiling_removed(pieces[0])[skip:], *pieces[1:]]
    filing = ". ".join(c for c in map(clean, filing_pieces) if c)
    return title, filing


def _nonfiling_count(fld: Field) -> int:
    indicator = fld.indicator2 if fld.indicators else " "
    return int(indicator) if indicator and indicator.isdigit() else 0


def _vernacular_title(record: _Indexed) -> str | None:
    for fld in record.get_fields("880"):
        link = fld.get("6") or ""
        if link.startswith("245"):
            title, _ = _title_parts(fld, "a", "np")
            return title
    return None


# --- people and organisations ---------------------------------------------------------------


def _marc21_name(fld: Field) -> str | None:
    if fld.tag in ("111", "711"):
        return _first_value(fld, "a")
    if fld.tag in ("110", "710"):
        return clean(". ".join(c for c in map(clean, _values([fld], "a", "b")) if c))
    return clean(" ".join(_values([fld], "a", "b", "c")))


def _marc21_authors(record: _Indexed) -> tuple[str, ...]:
    fields = record.get_fields("100", "110", "111", "700", "710", "711")
    return _dedupe(_marc21_name(f) for f in fields)


def _first_value(fld: Field, code: str) -> str | None:
    for value in _values([fld], code):
        return clean(value)
    return None


def _unimarc_authors(record: _Indexed) -> tuple[str, ...]:
    names: list[str | None] = []
    for fld in record.get_fields("700", "701", "702", "710", "711", "712"):
        entry = _first_value(fld, "a")
        rest = _first_value(fld, "b")
        if entry and rest:
            separator = ". " if fld.tag.startswith("71") else ", "
            names.append(clean(f"{entry}{separator}{rest.lstrip(', ')}"))
        else:
            names.append(entry)
    return _dedupe(names)


# --- dates, publisher, identifiers ----------------------------------------------------------


def _marc21_imprints(record: _Indexed) -> list[Field]:
    """Publication statements in order of trust: 264 publication, 260, 264 copyright."""
    fields264 = record.get_fields("264")
    return (
        [f for f in fields264 if f.indicator2 == "1"]
        + record.get_fields("260")
        + [f for f in fields264 if f.indicator2 == "4"]
    )


def _marc21_years(record: _Indexed) -> tuple[int | None, int | None]:
    fixed = _control(record, "008")
    date1 = _year_of(fixed[7:11]) if len(fixed) >= 11 and fixed[6] not in "bn|" else None
    imprint = [y for v in _values(_marc21_imprints(record), "c") for y in _years(v)]
    publication = date1 or (imprint[0] if imprint else None)
    earliest = min(imprint) if imprint else date1
    return publication, earliest


def _unimarc_years(record: _Indexed) -> tuple[int | None, int | None]:
    coded = _first_value_raw(record, "100", "a")
    date1 = _year_of(coded[9:13]) if len(coded) >= 13 else None
    imprint = [y for v in _values(record.get_fields("210", "214"), "d") for y in _years(v)]
    publication = date1 or (imprint[0] if imprint else None)
    earliest = min(imprint) if imprint else date1
    return publication, earliest


def _first_value_raw(record: _Indexed, tag: str, code: str) -> str:
    for value in _values(record.get_fields(tag), code):
        return value
    return ""


def _isbns(record: _Indexed, tag: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    valid: list[str | None] = []
    invalid: list[str | None] = []
    for fld in record.get_fields(tag):
        for sub in fld.subfields:
            text = sub.value.strip()
            if not text or sub.code not in "az":
                continue
            isbn = normalise_isbn(text) if sub.code == "a" else None
            if isbn is None:
                invalid.append(text)
            else:
                valid.append(isbn)
    return _dedupe(valid), _dedupe(invalid)


def _issns(record: _Indexed, tag: str) -> tuple[str, ...]:
    return _dedupe(normalise_issn(v) for v in _values(record.get_fields(tag), "a"))


def _language(*candidates: str | None) -> str | None:
    for candidate in candidates:
        code = (candidate or "").strip().lower()[:3]
        if _LANGUAGE.match(code):
            return code
    return None


# --- subjects -------------------------------------------------------------------------------

_SUBDIVISIONS = frozenset("vxyzj")
_NOT_TEXT = frozenset("0123456789e4")


def _heading(fld: Field) -> str | None:
    main: list[str] = []
    subdivisions: list[str] = []
    for sub in fld.subfields:
        if sub.code in _NOT_TEXT:
            continue
        text = clean(sub.value)
        if not text:
            continue
        (subdivisions if sub.code in _SUBDIVISIONS and main else main).append(text)
    if not main:
        return None
    return " -- ".join([" ".join(main), *subdivisions])


_UNIMARC_SUBJECTS = (
    "600",
    "601",
    "602",
    "604",
    "605",
    "606",
    "607",
    "608",
    "610",
    "615",
    "616",
    "617",
)


def _subjects(record: _Indexed, source_format: SourceFormat) -> tuple[str, ...]:
    if source_format == "unimarc":
        fields = record.get_fields(*_UNIMARC_SUBJECTS)
    else:
        fields = [f for f in record.fields if f.tag.startswith("6") and not f.is_control_field()]
    return _dedupe(_heading(f) for f in fields)


# --- material type and carrier ---------------------------------------------------------------

_MARC21_TYPES = {
    "c": "score",
    "d": "score",
    "e": "map",
    "f": "map",
    "i": "sound_recording",
    "j": "sound_recording",
    "k": "visual",
    "r": "visual",
    "m": "computer_file",
    "o": "mixed",
    "p": "mixed",
}
_UNIMARC_TYPES = {
    "c": "score",
    "d": "score",
    "e": "map",
    "f": "map",
    "i": "sound_recording",
    "j": "sound_recording",
    "k": "visual",
    "r": "visual",
    "l": "computer_file",
    "m": "mixed",
}


def _text_material(leader: str, thesis: bool, manuscript_code: str) -> str:
    level = leader[7] if len(leader) > 7 else " "
    if level in "ab":
        return "article"
    if level in "si":
        return "serial"
    if thesis:
        return "thesis"
    if leader[6:7] == manuscript_code:
        return "manuscript"
    return "book"


def _marc21_material(record: _Indexed) -> str:
    leader = str(record.leader)
    kind = leader[6:7]
    fixed = _control(record, "008")
    if kind in ("a", "t", " ", ""):
        thesis = bool(record.get_fields("502")) or "m" in fixed[24:28]
        return _text_material(leader, thesis, "t")
    if kind == "g":
        physical = _control(record, "007")
        moving = fixed[33:34] in ("v", "m") or physical[:1] in ("v", "m")
        return "video" if moving else "visual"
    return _MARC21_TYPES.get(kind, "book")


def _unimarc_material(record: _Indexed) -> str:
    leader = str(record.leader)
    kind = leader[6:7]
    if kind in ("a", "b", " ", ""):
        coded = _first_value_raw(record, "105", "a")
        thesis = bool(record.get_fields("328")) or "m" in coded[4:8]
        return _text_material(leader, thesis, "b")
    if kind == "g":
        coded = _first_value_raw(record, "115", "a")
        return "visual" if coded[:1] == "b" else "video"
    return _UNIMARC_TYPES.get(kind, "book")


_CARRIER_WORDS: tuple[tuple[str, str], ...] = (
    ("blu-ray", "bluray"),
    ("bluray", "bluray"),
    ("dvd", "dvd"),
    ("videocassette", "videocassette"),
    ("vhs", "videocassette"),
    ("compact disc", "cd"),
    ("disque compact", "cd"),
    ("cd-rom", "disc"),
    ("digital", "cd"),
    ("numérique", "cd"),
    ("analog", "analog_disc"),
    ("rpm", "analog_disc"),
    ("tours", "analog_disc"),
    ("microfiche", "microform"),
    ("microfilm", "microform"),
    ("microform", "microform"),
    ("online", "online"),
    ("en ligne", "online"),
    ("electronic resource", "online"),
    ("ressource électronique", "online"),
    ("cassette", "cassette"),
    ("film", "film"),
)
_FORM_OF_ITEM = {
    "a": "microform",
    "b": "microform",
    "c": "microform",
    "d": "large_print",
    "f": "braille",
    "o": "online",
    "q": "disc",
    "s": "online",
}
_SOUND_007 = {"s": "cassette", "r": "online"}
_VIDEO_007 = {"f": "videocassette", "r": "online"}
_MEDIA = ("sound_recording", "video", "computer_file")


def _carrier_from_text(texts: Iterable[str], material_type: str) -> str | None:
    joined = " ".join(texts).lower()
    for word, carrier in _CARRIER_WORDS:
        if word in joined:
            if carrier == "cd" and material_type == "sound_recording" and "disc" not in joined:
                continue
            if carrier in ("cd", "analog_disc") and material_type != "sound_recording":
                continue
            return carrier
    return None


def _carrier_from_007(physical: str, material_type: str) -> str | None:
    category, designation = physical[:1], physical[1:2]
    if category == "s":
        if designation == "d":
            speed = physical[3:4]
            if speed == "f":
                return "cd"
            if speed in ("a", "b", "c", "d", "e"):
                return "analog_disc"
            return None
        return _SOUND_007.get(designation)
    if category == "v":
        if designation == "d":
            return {"v": "dvd", "s": "bluray"}.get(physical[4:5], "disc")
        return _VIDEO_007.get(designation)
    if category == "m":
        return "film"
    if category == "h":
        return "microform"
    if category == "c":
        return "online" if designation == "r" else "disc" if designation == "o" else None
    return None


def _marc21_carrier(record: _Indexed, material_type: str) -> str:
    for fld in record.get_fields("007"):
        found = _carrier_from_007(str(fld.data or ""), material_type)
        if found:
            return found
    texts = list(_values(record.get_fields("300", "338", "340", "344"), "a", "b"))
    texts += list(_values(record.get_fields("245"), "h"))
    found = _carrier_from_text(texts, material_type)
    if found:
        return found
    fixed = _control(record, "008")
    kind = str(record.leader)[6:7]
    form = fixed[29:30] if kind in ("e", "f", "g", "k", "o", "r") else fixed[23:24]
    if form in _FORM_OF_ITEM:
        return _FORM_OF_ITEM[form]
    return "unknown" if material_type in _MEDIA else "print"


def _unimarc_carrier(record: _Indexed, material_type: str) -> str:
    texts = list(_values(record.get_fields("200"), "b"))
    texts += list(_values(record.get_fields("215"), "a", "c"))
    found = _carrier_from_text(texts, material_type)
    if found:
        return found
    if record.get_fields("135") and material_type not in ("sound_recording", "video"):
        return "online"
    physical = _first_value_raw(record, "106", "a")[:1]
    form = {"d": "large_print", "f": "braille", "g": "microform"}.get(physical)
    if form:
        return form
    return "unknown" if material_type in _MEDIA else "print"


def _edition(record: _Indexed, tag: str) -> str | None:
    """The edition statement; its final full stop usually ends an abbreviation (``2. Aufl.``)."""
    text = " ".join(_values(record.get_fields(tag)[:1], "a", "b"))
    return clean(text, keep_full_stop=True)


# --- the record -----------------------------------------------------------------------------


def extract(
    record: Record,
    *,
    position: int,
    source_format: SourceFormat,
    raw: bytes | str,
    encoding: str,
) -> ParsedRecord:
    """Read the catalogue's view of ``record``; never raises on odd or missing fields."""
    indexed = _Indexed(record)
    if source_format == "unimarc":
        return _extract_unimarc(indexed, position=position, raw=raw, encoding=encoding)
    return _extract_marc21(indexed, position=position, raw=raw, encoding=encoding)


def _extract_marc21(
    record: _Indexed, *, position: int, raw: bytes | str, encoding: str
) -> ParsedRecord:
    title_field = next(iter(record.get_fields("245")), None)
    title, filing = (None, "")
    if title_field is not None:
        skip = _nonfiling_count(title_field)
        title, filing = _title_parts(title_field, "a", "np", skip)
        if title is None:
            title, filing = _title_parts(title_field, "k", "np")
    isbns, invalid = _isbns(record, "020")
    publication, earliest = _marc21_years(record)
    material = _marc21_material(record)
    carrier = _marc21_carrier(record, material)
    publishers = (clean(v) for v in _values(_marc21_imprints(record), "b"))
    publisher = next((p for p in publishers if p), None)
    fixed = _control(record, "008")
    return ParsedRecord(
        position=position,
        source_format="marc21",
        control_number=_control(record, "001").strip() or None,
        title=title,
        filing_title=filing or title,
        subtitle=_first(record, "245", "b"),
        responsibility=_first(record, "245", "c"),
        title_vernacular=_vernacular_title(record),
        authors=_marc21_authors(record),
        publication_year=publication,
        earliest_year=earliest,
        publisher=publisher,
        isbns=isbns,
        invalid_isbns=invalid,
        issns=_issns(record, "022"),
        language=_language(fixed[35:38] if len(fixed) >= 38 else None, _first(record, "041", "a")),
        material_type=material,
        carrier=carrier,
        format_guard=f"{material}/{carrier}",
        edition=_edition(record, "250"),
        subjects=_subjects(record, "marc21"),
        encoding=encoding,
        raw=raw,
        holdings=tuple(extract_holdings(record.record, "marc21")),
    )


def _extract_unimarc(
    record: _Indexed, *, position: int, raw: bytes | str, encoding: str
) -> ParsedRecord:
    title_field = next(iter(record.get_fields("200")), None)
    title, filing = (None, "")
    responsibility = None
    if title_field is not None:
        title, filing = _title_parts(title_field, "a", "hi")
        responsibility = clean(
            " ; ".join(c for c in map(clean, _values([title_field], "f", "g")) if c)
        )
    isbns, invalid = _isbns(record, "010")
    publication, earliest = _unimarc_years(record)
    material = _unimarc_material(record)
    carrier = _unimarc_carrier(record, material)
    return ParsedRecord(
        position=position,
        source_format="unimarc",
        control_number=_control(record, "001").strip() or None,
        title=title,
        filing_title=filing or title,
        subtitle=_first(record, "200", "e"),
        responsibility=responsibility,
        title_vernacular=None,
        authors=_unimarc_authors(record),
        publication_year=publication,
        earliest_year=earliest,
        publisher=_first(record, "210", "c") or _first(record, "214", "c"),
        isbns=isbns,
        invalid_isbns=invalid,
        issns=_issns(record, "011"),
        language=_language(_first(record, "101", "a")),
        material_type=material,
        carrier=carrier,
        format_guard=f"{material}/{carrier}",
        edition=_edition(record, "205"),
        subjects=_subjects(record, "unimarc"),
        encoding=encoding,
        raw=raw,
        holdings=tuple(extract_holdings(record.record, "unimarc")),
    )
