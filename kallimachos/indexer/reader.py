"""Reading a file of catalogue records, one record at a time, whatever the library sent us.

``iter_records(path)`` recognises the file by its first bytes (``<`` for MARCXML, five digits
for an ISO 2709 record) and each record's format by its content (a MARC21 record has a 245
title; a UNIMARC record has a 200 title, 100 coded data and often a ``450 `` leader end). It
yields a ``ParsedRecord`` for every good record and a ``RecordError`` for every broken one, and
goes on to the next record: one bad record never stops an import. Memory stays constant: binary
files are cut at the record terminator (0x1D), XML is parsed incrementally and each record is
dropped once read.

Character sets are taken from the record and checked against its bytes, because leaders lie:

- leader/09 ``a`` (UTF-8): UTF-8; if the bytes are not UTF-8 but are valid MARC-8, MARC-8;
  otherwise UTF-8 with the bad bytes replaced.
- leader/09 blank (MARC-8): MARC-8 when escape sequences are present or every 8-bit byte is a
  MARC-8 character; UTF-8 when the bytes are valid UTF-8 with multi-byte characters (a mis-flagged
  UTF-8 record); otherwise a legacy 8-bit code page (Windows-1251 or DOS 866 for runs of 8-bit
  letters, Latin-1 for isolated accented letters).
- UNIMARC: UTF-8 when valid, else the legacy code page guess (never MARC-8).

MARC-8 numeric character references (``&#x03B1;``) are decoded, and double-encoded UTF-8
(``Â°`` for ``°``) is repaired. ``ParsedRecord.encoding`` says which decoding was used.

Records that are not bibliographic (holdings, authority, classification or community records,
by leader/06) are reported as ``RecordError``: they cannot become catalogue entries.

Errors raised (nothing is yielded after them)::

    UnreadableFile        the file cannot be opened or read
    └── NotMarc           the bytes are not a MARC serialisation, or the XML holds no MARC record
        └── UnsupportedSerialisation   MARC in a form we do not read (MARC-in-JSON, UTF-16 XML)
"""

from __future__ import annotations

import codecs
import contextlib
import io
import logging
import os
import re
import unicodedata
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Literal, cast

import pymarc
from pymarc import marc8_mapping
from pymarc.marc8 import MARC8ToUnicode

from kallimachos.indexer.extract import ParsedRecord, SourceFormat, extract

__all__ = [
    "FileFormat",
    "NotMarc",
    "RecordError",
    "UnreadableFile",
    "UnsupportedSerialisation",
    "detect_format",
    "iter_records",
]

FileFormat = Literal["auto", "marc21", "marcxml", "unimarc"]

# pymarc logs each odd indicator; without a handler Python would print them all on stderr.
logging.getLogger("pymarc").addHandler(logging.NullHandler())

_BLOCK = 64 * 1024
_MAX_RECORD = 1024 * 1024
_TERMINATOR = 0x1D
_FILLER = b"\x00\x1a\x1d\x1e\r\n\t "
_MARC_NAMESPACES = frozenset(
    {
        "http://www.loc.gov/MARC21/slim",
        "info:lc/xmlns/marcxchange-v1",
        "info:lc/xmlns/marcxchange-v2",
    }
)
_NOT_BIBLIOGRAPHIC = {
    "marc21": {
        "u": "holdings",
        "v": "holdings",
        "x": "holdings",
        "y": "holdings",
        "z": "authority",
        "w": "classification",
        "q": "community information",
    },
    "unimarc": {"x": "authority", "y": "authority", "z": "authority"},
}


class UnreadableFile(Exception):
    """The file cannot be read as a file of MARC records; nothing from it was imported."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class NotMarc(UnreadableFile):
    """The file's bytes are not MARC (ISO 2709 or MARCXML), or its XML holds no MARC record."""


class UnsupportedSerialisation(NotMarc):
    """MARC in a form this reader does not read, such as MARC-in-JSON or UTF-16 XML."""


@dataclass(frozen=True, slots=True)
class RecordError:
    """A record that could not be read: its 0-based position in the file and why."""

    position: int
    reason: str


# --- the entry point ---------------------------------------------------------------------------


def iter_records(
    path: str | os.PathLike[str], fmt: FileFormat = "auto"
) -> Iterator[ParsedRecord | RecordError]:
    """Each record of the file at ``path``, in order, read or reported.

    ``fmt``: ``auto`` recognises everything; ``marcxml`` insists on XML; ``marc21`` and
    ``unimarc`` read either serialisation but treat every record as that format.
    Raises ``UnreadableFile`` (or a subclass) at once when the file cannot be read as MARC.
    """
    if fmt not in ("auto", "marc21", "marcxml", "unimarc"):
        raise ValueError(f"unknown format {fmt!r}: use auto, marc21, marcxml or unimarc")
    name = os.fspath(path)
    try:
        stream: BinaryIO = open(name, "rb")  # noqa: SIM115 - closed by the generator
    except OSError as exc:
        raise UnreadableFile(name, exc.strerror or str(exc)) from exc
    try:
        head = stream.read(_BLOCK)
    except OSError as exc:
        stream.close()
        raise UnreadableFile(name, exc.strerror or str(exc)) from exc
    try:
        kind = _sniff(name, head, fmt)
    except UnreadableFile:
        stream.close()
        raise
    forced: SourceFormat | None = None
    if fmt == "marc21":
        forced = "marc21"
    elif fmt == "unimarc":
        forced = "unimarc"
    if kind == "xml":
        return _closing(stream, _xml_records(name, head, stream, forced))
    return _closing(stream, _binary_records(head, stream, forced))


def _closing(
    stream: BinaryIO, records: Iterator[ParsedRecord | RecordError]
) -> Iterator[ParsedRecord | RecordError]:
    with stream:
        yield from records


def _sniff(name: str, head: bytes, fmt: FileFormat) -> Literal["xml", "iso2709"]:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UnsupportedSerialisation(name, "UTF-16 text; MARCXML must be UTF-8 or 8-bit")
    body = head.removeprefix(codecs.BOM_UTF8).lstrip(_FILLER)
    if not body:
        raise NotMarc(name, "the file is empty")
    # ISO 2709: field separators after a leader's length, or all three separators (never found
    # in text or XML) when the first record is damaged.
    fields = b"\x1e" in body
    binary = fields and (body[:5].isdigit() or (b"\x1f" in body and b"\x1d" in body))
    if body[:1] == b"<" and not binary:
        return "xml"
    if fmt == "marcxml":
        raise NotMarc(name, "expected MARCXML, but the file does not start with '<'")
    if binary:
        return "iso2709"
    if body[:1] in (b"{", b"["):
        raise UnsupportedSerialisation(name, "MARC-in-JSON is not supported; send MARCXML")
    raise NotMarc(name, f"does not start like a MARC record: {body[:24]!r}")


# --- format recognition ------------------------------------------------------------------------

_UNIMARC_DATE = re.compile(r"^\d{8}[a-kuj]")


def detect_format(leader: str, tags: Iterable[str], coded_data: str = "") -> SourceFormat:
    """MARC21 or UNIMARC, judged by content: the title field decides, then 100 and the leader.

    ``coded_data`` is the first 100 $a; in UNIMARC it starts with the entry date (``20050825d``).
    """
    present = set(tags)
    if "245" in present:
        return "marc21"
    if "200" in present:
        return "unimarc"
    if _UNIMARC_DATE.match(coded_data) or leader[20:24] == "450 ":
        return "unimarc"
    return "marc21"


def _format_of(record: pymarc.Record, forced: SourceFormat | None) -> SourceFormat:
    if forced is not None:
        return forced
    coded = ""
    for fld in record.get_fields("100"):
        for sub in fld.subfields:
            if sub.code == "a":
                value = sub.value
                coded = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                break
        break
    return detect_format(str(record.leader), (f.tag for f in record.fields), coded)


def _not_bibliographic(leader: str, source_format: SourceFormat) -> str | None:
    kind = _NOT_BIBLIOGRAPHIC[source_format].get(leader[6:7])
    if kind is None:
        return None
    return f"a {kind} record (leader/06 {leader[6:7]!r}), not a bibliographic record"


# --- character sets ----------------------------------------------------------------------------

_ANSEL = frozenset(marc8_mapping.CODESETS[0x45])
_NCR = re.compile(rb"&#x([0-9A-Fa-f]{1,6});")
_MOJIBAKE = re.compile("[\u00c2-\u00df][\u0080-\u00bf]|[\u00e0-\u00ef][\u0080-\u00bf]{2}")
_CYRILLIC = re.compile("[\u0400-\u04ff]")


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 that was decoded as Latin-1 and encoded again (``Â°`` -> ``°``)."""
    if text.isascii():  # mojibake needs Latin-1 letters; most values are plain ASCII
        return text

    def fix(match: re.Match[str]) -> str:
        try:
            return match.group().encode("latin-1").decode("utf-8")
        except UnicodeError:
            return match.group()

    return _MOJIBAKE.sub(fix, text) if _MOJIBAKE.search(text) else text


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _marc8_plausible(data: bytes) -> bool:
    return b"\x1b" in data or all(b < 0x80 or b in _ANSEL for b in data)


def _legacy_codec(data: bytes) -> str:
    """Guess an 8-bit code page: Cyrillic when 8-bit letters come in runs, else Latin-1."""
    runs = re.findall(rb"[\x80-\xff]+", data)
    in_runs = sum(len(r) for r in runs if len(r) >= 2)
    total = sum(len(r) for r in runs)
    if total == 0 or in_runs * 10 < total * 6:
        return "latin-1"
    scores = {c: len(_CYRILLIC.findall(data.decode(c, "replace"))) for c in ("cp1251", "cp866")}
    return max(scores, key=lambda c: scores[c])


def _codecs_for(chunk: bytes, leader9: str, source_format: SourceFormat) -> list[str]:
    data = chunk[24:]
    high = any(b >= 0x80 for b in data)
    utf8 = _utf8(data)
    if source_format == "unimarc":
        return ["utf-8"] if utf8 else [_legacy_codec(data), "utf-8/replace"]
    if leader9 == "a":
        if utf8:
            return ["utf-8"]
        return ["marc-8", "utf-8/replace"] if _marc8_plausible(data) else ["utf-8/replace"]
    if b"\x1b" in data:
        return ["marc-8", "utf-8/replace"]
    if utf8 and high:
        return ["utf-8"]
    if _marc8_plausible(data):
        return ["marc-8", "latin-1"]
    return [_legacy_codec(data), "utf-8/replace"]


_ANSEL_TABLE = marc8_mapping.CODESETS[0x45]
_COMBINING_BYTES = bytes(range(0xE0, 0xFF))


def _marc8(value: bytes) -> str:
    if b"\x1b" not in value:
        return _marc8_text(value)
    # pymarc prints a line on stderr for each broken multi-byte (CJK) character; keep it quiet.
    with contextlib.redirect_stderr(io.StringIO()):
        return _marc8_text(value)


def _marc8_text(value: bytes) -> str:
    """MARC-8 to Unicode, honouring numeric character references (``&#x03B1;``).

    A combining mark written just before a reference belongs to the referenced character.
    """
    converter = MARC8ToUnicode(quiet=True)
    translate: Callable[[bytes], str] = converter.translate
    pieces = _NCR.split(value)
    out: list[str] = []
    marks = ""
    for index, piece in enumerate(pieces):
        if index % 2:
            out.append(chr(int(piece, 16)) + marks)
            marks = ""
            continue
        body = piece
        followed_by_reference = index + 1 < len(pieces)
        if followed_by_reference and converter.g1 == MARC8ToUnicode.ansel:
            body = piece.rstrip(_COMBINING_BYTES)
            tail = piece[len(body) :]
            marks = "".join(chr(_ANSEL_TABLE[b][0]) for b in tail if b in _ANSEL_TABLE)
        out.append(translate(body) if body else "")
    return unicodedata.normalize("NFC", "".join(out))


def _decode(value: bytes, codec: str) -> str:
    if codec == "marc-8":
        return _marc8(value)
    if codec == "utf-8/replace":
        return repair_mojibake(value.decode("utf-8", "replace"))
    text = value.decode(codec)
    return repair_mojibake(text) if codec == "utf-8" else text


def _with_fields(leader: str, fields: list[pymarc.Field]) -> pymarc.Record:
    """A record with exactly this leader (pymarc's constructor rewrites positions 10-11, 20-23)."""
    record = pymarc.Record(fields=fields)
    record.leader = pymarc.Leader(leader)
    return record


def _decoded_record(raw: pymarc.Record, codec: str) -> pymarc.Record:
    fields: list[pymarc.Field] = []
    for fld in raw.fields:
        if fld.is_control_field():
            data = fld.data if isinstance(fld.data, bytes) else str(fld.data).encode("latin-1")
            control = data.decode("latin-1") if codec == "marc-8" else _decode(data, codec)
            fields.append(pymarc.Field(tag=fld.tag, data=control))
            continue
        subfields = [
            pymarc.Subfield(code=sub.code, value=_decode(_bytes(sub.value), codec))
            for sub in fld.subfields
        ]
        fields.append(pymarc.Field(tag=fld.tag, indicators=fld.indicators, subfields=subfields))
    return _with_fields(str(raw.leader), fields)


def _bytes(value: str | bytes) -> bytes:
    """A raw subfield value (pymarc keeps bytes when asked not to decode)."""
    return value if isinstance(value, bytes) else value.encode("latin-1")


# --- ISO 2709 --------------------------------------------------------------------------------


def _record_end(buffer: bytearray, start: int, eof: bool) -> int | None:
    """Where the record starting at ``start`` ends, or ``None`` when more bytes are needed.

    The leader length is trusted when it ends on a record terminator; otherwise the record runs
    to the next terminator, so a wrong length or a stray byte costs one record, not the file.
    """
    declared = bytes(buffer[start : start + 5])
    if declared.isdigit() and int(declared) >= 24:
        end = start + int(declared)
        if end <= len(buffer) and buffer[end - 1] == _TERMINATOR:
            return end
        if end > len(buffer) and not eof and int(declared) <= _MAX_RECORD:
            return None
    found = buffer.find(_TERMINATOR, start)
    return found + 1 if found >= 0 else None


def _chunks(head: bytes, stream: BinaryIO) -> Iterator[bytes | None]:
    """The stream cut into records; ``None`` stands for an over-long piece that was dropped."""
    buffer = bytearray(head)
    start = 0
    eof = False
    skipping = False
    while True:
        if skipping:
            found = buffer.find(_TERMINATOR, start)
            skipping = found < 0
            start = len(buffer) if skipping else found + 1
        while start < len(buffer) and buffer[start] in _FILLER:
            start += 1
        end = None if skipping or start >= len(buffer) else _record_end(buffer, start, eof)
        if end is not None:
            yield bytes(buffer[start:end])
            start = end
            continue
        if eof:
            # A cut-off record at the end is reported; other trailing bytes are junk.
            length = bytes(buffer[start : start + 5])
            if not skipping and len(length) == 5 and length.isdigit():
                yield bytes(buffer[start:])
            return
        if not skipping and len(buffer) - start > _MAX_RECORD:
            yield None
            skipping = True
            start = len(buffer)
        del buffer[:start]
        start = 0
        block = stream.read(_BLOCK)
        buffer += block
        eof = not block


def _directory_problem(chunk: bytes) -> str | None:
    """Why the directory points outside the record (it was cut short), if it does.

    The leader's length is not trusted (some systems write it off by one); the directory is.
    """
    base = chunk[12:17]
    if not base.isdigit():
        return None
    directory = chunk[24 : int(base) - 1]
    for start in range(0, len(directory) - 11, 12):
        entry = directory[start : start + 12]
        length, offset = entry[3:7], entry[7:12]
        if length.isdigit() and offset.isdigit():
            end = int(base) + int(offset) + int(length)
            if end > len(chunk):
                return (
                    f"truncated: field {entry[:3].decode('ascii', 'replace')} ends at byte {end},"
                    f" the record has {len(chunk)}"
                )
    return None


def _reason(exc: BaseException) -> str:
    message = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


def _binary_records(
    head: bytes, stream: BinaryIO, forced: SourceFormat | None
) -> Iterator[ParsedRecord | RecordError]:
    for position, chunk in enumerate(_chunks(head, stream)):
        if chunk is None:
            yield RecordError(position, f"no record terminator within {_MAX_RECORD} bytes")
            continue
        yield _binary_record(position, chunk, forced)


def _binary_record(
    position: int, chunk: bytes, forced: SourceFormat | None
) -> ParsedRecord | RecordError:
    if len(chunk) < 25:
        return RecordError(position, f"only {len(chunk)} bytes: too short for a MARC record")
    problem = _directory_problem(chunk)
    if problem:
        return RecordError(position, problem)
    patched = f"{min(len(chunk), 99999):05d}".encode() + chunk[5:]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = pymarc.Record(data=patched, to_unicode=False, hide_utf8_warnings=True)
    except Exception as exc:  # pymarc raises many kinds on broken structure
        return RecordError(position, f"broken record structure ({_reason(exc)})")
    source_format = _format_of(raw, forced)
    leader = str(raw.leader)
    refusal = _not_bibliographic(leader, source_format)
    if refusal:
        return RecordError(position, refusal)
    last_error: BaseException | None = None
    for codec in _codecs_for(chunk, leader[9:10], source_format):
        try:
            record = _decoded_record(raw, codec)
        except (UnicodeError, ValueError, IndexError, TypeError, KeyError) as exc:
            last_error = exc
            continue
        return _extracted(record, position, source_format, chunk, codec.replace("/", " "))
    return RecordError(position, f"undecodable characters ({_reason(last_error or ValueError())})")


def _extracted(
    record: pymarc.Record,
    position: int,
    source_format: SourceFormat,
    raw: bytes | str,
    encoding: str,
) -> ParsedRecord | RecordError:
    try:
        return extract(
            record, position=position, source_format=source_format, raw=raw, encoding=encoding
        )
    except Exception as exc:  # a record must never stop the import
        return RecordError(position, f"could not read the fields ({_reason(exc)})")


# --- MARCXML ---------------------------------------------------------------------------------

_DECLARATION = re.compile(rb"<\?xml[^>]*\?>")
_DOCTYPE = re.compile(rb"<!DOCTYPE[^>\[]*>")
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_RECORD_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?record\s*>")
_RECORD_START = re.compile(rb"<(?:([A-Za-z_][\w.-]*):)?record(?=[\s/>])[^>]*>")
_WRAPPER = "kallimachos-stream"


def _local(tag: str) -> tuple[str, str]:
    known = _LOCAL_NAMES.get(tag)
    if known is not None:
        return known
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        found = (uri, local)
    else:
        found = ("", tag)
    if len(_LOCAL_NAMES) < 1024:  # a file uses a handful of element names
        _LOCAL_NAMES[tag] = found
    return found


_LOCAL_NAMES: dict[str, tuple[str, str]] = {}


_Payload = ET.Element | tuple[str, str]


class _XmlState:
    """The incremental parser and what we know of the open elements and namespaces."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.namespaces: dict[str, str] = {}
        self.parser = self._new_parser()
        self.stack: list[ET.Element] = []
        self.record: ET.Element | None = None
        self.root: str | None = None

    def _new_parser(self) -> ET.XMLPullParser[_Payload]:
        parser: ET.XMLPullParser[_Payload] = ET.XMLPullParser(events=("start", "end", "start-ns"))
        declarations = "".join(
            f' xmlns:{prefix}="{uri}"' if prefix else f' xmlns="{uri}"'
            for prefix, uri in self.namespaces.items()
        )
        prologue = f'<?xml version="1.0" encoding="{self.encoding}"?><{_WRAPPER}{declarations}>'
        parser.feed(prologue.encode(self.encoding))
        return parser

    def restart(self) -> None:
        self.parser = self._new_parser()
        self.stack = []
        self.record = None

    def opened(self, element: ET.Element) -> int:
        """Note an element's start; 1 when it starts a MARC record."""
        if self.root is None and element.tag != _WRAPPER:
            self.root = element.tag
        self.stack.append(element)
        if self.record is None and _is_marc_record(element.tag):
            self.record = element
            return 1
        return 0

    def closed(self, element: ET.Element) -> None:
        """Note an element's end, and forget it unless it is part of a record being read."""
        if self.stack:
            self.stack.pop()
        if element is self.record:
            self.record = None
        if self.record is None and self.stack:
            with contextlib.suppress(ValueError):
                self.stack[-1].remove(element)

    def marc_starts(self, piece: bytes) -> list[re.Match[bytes]]:
        """The start tags of MARC records in ``piece``, as far as the namespaces tell."""
        return [m for m in _RECORD_START.finditer(piece) if self._is_marc_start(m)]

    def _is_marc_start(self, match: re.Match[bytes]) -> bool:
        prefix = (match.group(1) or b"").decode("ascii", "replace")
        tag = match.group().decode("latin-1")
        if any(uri in tag for uri in _MARC_NAMESPACES):
            return True
        uri = self.namespaces.get(prefix)
        return uri in _MARC_NAMESPACES or (not prefix and not uri)


def _xml_pieces(head: bytes, stream: BinaryIO) -> Iterator[bytes]:
    """The XML cut just after each ``</record>`` end tag (any prefix)."""
    buffer = bytearray(head)
    eof = False
    while True:
        match = _RECORD_END.search(buffer)
        if match:
            yield bytes(buffer[: match.end()])
            del buffer[: match.end()]
            continue
        if eof:
            if buffer:
                yield bytes(buffer)
            return
        if len(buffer) > _MAX_RECORD:
            cut = len(buffer) - 64  # keep a tail in case an end tag straddles the blocks
            yield bytes(buffer[:cut])
            del buffer[:cut]
        block = stream.read(_BLOCK)
        if block:
            buffer += block
        else:
            eof = True


def _xml_records(
    name: str, head: bytes, stream: BinaryIO, forced: SourceFormat | None
) -> Iterator[ParsedRecord | RecordError]:
    body = head.removeprefix(codecs.BOM_UTF8)
    declared = _DECLARATION.match(body.lstrip())
    encoding = "utf-8"
    if declared:
        found = _ENCODING.search(declared.group())
        encoding = found.group(1).decode("ascii").lower() if found else "utf-8"
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise UnsupportedSerialisation(name, f"unknown XML encoding {encoding!r}") from exc
    state = _XmlState(encoding)
    position = 0
    seen_marc = False
    for piece in _xml_pieces(body, stream):
        piece = _DOCTYPE.sub(b"", _DECLARATION.sub(b"", piece))
        started = 0
        state.parser.feed(piece)
        try:
            for item in state.parser.read_events():
                event, payload = item[0], item[-1]
                if state.record is not None and event != "start-ns":
                    # Inside a record: only note the nesting (what opened/closed do there).
                    if event == "start":
                        state.stack.append(cast(ET.Element, payload))
                        continue
                    if payload is not state.record:
                        state.stack.pop()
                        continue
                if not isinstance(payload, ET.Element):
                    if isinstance(payload, tuple):
                        state.namespaces[str(payload[0])] = str(payload[1])
                elif event == "start":
                    started += state.opened(payload)
                    seen_marc = seen_marc or started > 0
                else:
                    if payload is state.record:
                        raw = _record_text(piece, state.marc_starts(piece), payload, encoding)
                        yield _xml_record(position, payload, raw, forced, encoding)
                        position += 1
                    state.closed(payload)
        except ET.ParseError as exc:
            if state.record is not None or len(state.marc_starts(piece)) > started:
                yield RecordError(position, f"not well-formed XML ({exc})")
                position += 1
                seen_marc = True
            state.restart()
    try:
        state.parser.feed(f"</{_WRAPPER}>".encode(encoding))
        state.parser.close()
    except ET.ParseError as exc:
        if state.record is not None:
            yield RecordError(position, f"the file ends inside a record ({exc})")
            seen_marc = True
    if not seen_marc:
        root = _local(state.root)[1] if state.root else "nothing"
        raise NotMarc(name, f"XML without MARC records (root element: {root})")


def _is_marc_record(tag: str) -> bool:
    uri, local = _local(tag)
    return local == "record" and (uri in _MARC_NAMESPACES or uri == "")


def _record_text(
    piece: bytes, starts: list[re.Match[bytes]], element: ET.Element, encoding: str
) -> str:
    """The record as written in the file, with its namespace declared on it."""
    uri, _ = _local(element.tag)
    if not starts:
        return ET.tostring(element, encoding="unicode")
    start = starts[-1]
    text = piece[start.start() :].decode(encoding, "replace")
    open_tag = start.group().decode(encoding, "replace")
    prefix = (start.group(1) or b"").decode("ascii", "replace")
    attribute = f"xmlns:{prefix}" if prefix else "xmlns"
    if uri and f"{attribute}=" not in open_tag:
        name_end = len(prefix) + len("record") + (2 if prefix else 1)
        text = f'{text[:name_end]} {attribute}="{uri}"{text[name_end:]}'
    return text


def _xml_record(
    position: int, element: ET.Element, raw: str, forced: SourceFormat | None, encoding: str
) -> ParsedRecord | RecordError:
    try:
        record = _record_from_xml(element)
    except ValueError as exc:
        return RecordError(position, str(exc))
    finally:
        element.clear()
    source_format = _format_of(record, forced)
    refusal = _not_bibliographic(str(record.leader), source_format)
    if refusal:
        return RecordError(position, refusal)
    return _extracted(record, position, source_format, raw, encoding)


def _record_from_xml(element: ET.Element) -> pymarc.Record:
    leader = " " * 24
    fields: list[pymarc.Field] = []
    for child in element:
        local = _local(child.tag)[1]
        if local == "leader":
            leader = (child.text or "").ljust(24)[:24]
        elif local == "controlfield":
            tag = child.get("tag")
            if not tag:
                raise ValueError("a controlfield has no tag attribute")
            data = repair_mojibake(child.text or "")
            if _is_control_tag(tag):
                fields.append(_field(tag, data=data, indicators=None, subfields=[]))
            else:
                fields.append(pymarc.Field(tag=tag, data=data))
        elif local == "datafield":
            fields.append(_datafield(child))
    return _with_fields(leader, fields)


def _datafield(element: ET.Element) -> pymarc.Field:
    tag = element.get("tag")
    if not tag:
        raise ValueError("a datafield has no tag attribute")
    subfields: list[pymarc.Subfield] = []
    for child in element:
        if _local(child.tag)[1] != "subfield":
            continue
        code = child.get("code")
        if code is None:
            raise ValueError(f"a subfield of field {tag} has no code attribute")
        subfields.append(pymarc.Subfield(code=code, value=repair_mojibake(child.text or "")))
    indicators = pymarc.Indicators(
        (element.get("ind1") or " ")[:1] or " ", (element.get("ind2") or " ")[:1] or " "
    )
    if _is_data_tag(tag):
        return _field(tag, data=None, indicators=indicators, subfields=subfields)
    return pymarc.Field(tag=tag, indicators=indicators, subfields=subfields)


def _is_control_tag(tag: str) -> bool:
    return len(tag) == 3 and tag.isdigit() and tag < "010"


def _is_data_tag(tag: str) -> bool:
    return len(tag) == 3 and tag.isdigit() and tag >= "010"


def _field(
    tag: str,
    *,
    data: str | None,
    indicators: pymarc.Indicators | None,
    subfields: list[pymarc.Subfield],
) -> pymarc.Field:
    """The ``pymarc.Field`` its constructor would make for a three-digit tag, without its checks
    (a fifth of the parse): control fields below 010 carry data, the others indicators and
    subfields.  Other tags go through the constructor."""
    made = _NEW_FIELD(pymarc.Field)
    made.tag = tag
    made.data = data
    made._indicators = indicators
    made.subfields = subfields
    made.control_field = indicators is None
    return made


_NEW_FIELD = pymarc.Field.__new__
