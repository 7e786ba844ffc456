"""Copies on the shelf: the holdings fields of a record, one ``HoldingData`` per field.

Which fields describe copies depends on the record's format and the system that wrote it:

- MARC21 ``952`` (Koha): ``$a`` home branch, ``$b`` holding branch, ``$c`` shelving location,
  ``$o`` call number, ``$p`` barcode, ``$y`` item type, ``$8`` collection code, ``$7`` not for loan,
  ``$1`` lost, ``$4`` damaged, ``$0`` withdrawn. Other systems use 952 for notes (LC) or for
  holding libraries (RLIN), so a 952 counts as a copy only when it names a branch and carries a
  Koha item subfield (``$p``, ``$o``, ``$y``, ``$8``, ``$7`` or ``$9``).
- MARC21 ``949`` (SirsiDynix Unicorn exports, as in Evergreen's test data): ``$a`` call number,
  ``$i`` barcode, ``$m`` library, ``$l`` home location, ``$t`` item type, ``$x`` item category,
  ``$r`` circulate flag (``Y``/``N``), ``$k`` current location (``INPROCESS``, ``LOST`` ...).
- ``852`` (MARC21 holdings style, also found in UNIMARC exports): ``$a`` institution, ``$b``
  sublibrary, ``$c`` shelving location, ``$k $h $i $m`` or ``$j`` call number, ``$p`` barcode,
  ``$x`` Evergreen flags (``noncirculating``, ``reference``), ``$z`` public note / status.
- UNIMARC ``995`` (Koha UNIMARC, as at the Bibliothèque Sainte-Geneviève): ``$b`` owning library,
  ``$c`` branch, ``$e`` (or ``$d``) shelving location, ``$k`` call number, ``$f`` barcode,
  ``$r`` item type, ``$h`` collection code, ``$o`` circulation status (numeric: 0 loanable).
  In MARC21 records 995 is a local field (keywords, notes) and is ignored.
- UNIMARC ``930`` (Sudoc): one library's holding, ``$b`` library (RCR), ``$a`` call number,
  ``$5`` library:copy number (kept in ``raw``). Included because a union catalogue receives
  exactly this; it carries no barcode.

A field with nothing that says where (branch, location) or which copy (barcode, call number) is
not a copy and is skipped. When a record has item fields (952, 949, 995), its 852/930 fields
are location notes from another catalogue and are skipped too.

Collections follow the API vocabulary. The shelving location decides first, then the item type,
then the collection code; each code is split into words (``HUNT-AUDIO``, ``BOOK_RARE``) and the
words are looked up in ``COLLECTION_WORDS``. A code that says nothing we recognise leaves the
copy in ``general``; the code itself stays in ``raw_collection``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from pymarc import Field, Record

__all__ = [
    "COLLECTIONS",
    "COLLECTION_WORDS",
    "HoldingData",
    "extract_holdings",
    "map_collection",
]

COLLECTIONS = (
    "general",
    "reference",
    "restricted_loan",
    "audiovisual",
    "standards",
    "periodicals",
    "grey_literature",
    "rare",
    "special",
)

# Words found in location, item-type and collection codes, by collection. When one code holds
# words of several collections, the earlier collection in this table wins (``BOOK_RARE`` is rare).
COLLECTION_WORDS: Mapping[str, frozenset[str]] = {
    "rare": frozenset({"RARE", "RAREBOOKS", "RARA", "ANTIQUARIAN"}),
    "special": frozenset({"SPECIAL", "SPECCOLL", "ARCHIVE", "ARCHIVES", "MANUSCRIPTS"}),
    "reference": frozenset({"REF", "REFERENCE", "USUELS", "USUEL"}),
    "restricted_loan": frozenset({"RESERVE", "RESERVES", "SHORTLOAN", "RESTRICTED"}),
    "standards": frozenset({"STANDARD", "STANDARDS", "NORMES"}),
    "grey_literature": frozenset(
        {"THESIS", "THESES", "DISSERTATION", "DISSERTATIONS", "GREY", "GRAY", "REPORTS"}
    ),
    "periodicals": frozenset(
        {"PER", "PERIODICAL", "PERIODICALS", "SERIAL", "SERIALS", "JOURNALS", "PERIODIQUES"}
    ),
    "audiovisual": frozenset(
        {
            "AV",
            "AUDIO",
            "VIDEO",
            "SOUND",
            "CD",
            "CDS",
            "DVD",
            "DVDS",
            "COMPDISCS",
            "PHONOREC",
            "VIDEOCASS",
            "MEDIA",
            "MULTIMEDIA",
        }
    ),
    "general": frozenset(
        {
            "GEN",
            "GENERAL",
            "STACKS",
            "CIR",
            "CIRC",
            "CIRCULATING",
            "BK",
            "BKS",
            "BOOK",
            "BOOKS",
            "FIC",
            "NFIC",
            "MAIN",
        }
    ),
}

# Status words (949 $k current location, 852 $z note) and the flag each one raises.
_STATUS_WORDS: Mapping[str, str] = {
    "LOST": "lost",
    "MISSING": "lost",
    "DAMAGED": "damaged",
    "REPAIR": "damaged",
    "WITHDRAWN": "withdrawn",
    "DISCARD": "withdrawn",
    "DISCARDED": "withdrawn",
    "INPROCESS": "unprocessed",
    "ORDER": "unprocessed",
    "ORDERED": "unprocessed",
    "NONCIRCULATING": "not_for_loan",
    "NONCIRC": "not_for_loan",
}
_SPLIT = re.compile(r"[^A-Za-z0-9]+")


@dataclass(frozen=True, slots=True)
class HoldingData:
    """One copy (or one library's holding) as the source record describes it."""

    tag: str
    branch_code: str | None
    location: str | None
    call_number: str | None
    barcode: str | None
    collection: str
    raw_collection: str | None
    item_type: str | None
    not_for_loan: bool = False
    lost: bool = False
    damaged: bool = False
    withdrawn: bool = False
    unprocessed: bool = False
    raw: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    def __reduce__(self) -> tuple[type[HoldingData], tuple[Any, ...]]:
        """Pickle as the constructor's arguments (the parser process sends many)."""
        return (HoldingData, tuple(getattr(self, name) for name in _HOLDING_FIELDS))


_HOLDING_FIELDS = tuple(f.name for f in fields(HoldingData))


def _words(code: str) -> list[str]:
    upper = code.upper()
    return [upper, *(w for w in _SPLIT.split(upper) if w)]


def _collection_of(code: str | None) -> str | None:
    if not code:
        return None
    words = set(_words(code))
    for name, vocabulary in COLLECTION_WORDS.items():
        if words & vocabulary:
            return name
    return None


def map_collection(location: str | None, item_type: str | None, collection_code: str | None) -> str:
    """The API collection of a copy: location first, then item type, then collection code."""
    for code in (location, item_type, collection_code):
        found = _collection_of(code)
        if found is not None:
            return found
    return "general"


def _subfields(fld: Field) -> dict[str, tuple[str, ...]]:
    raw: dict[str, list[str]] = {}
    for sub in fld.subfields:
        raw.setdefault(sub.code, []).append(sub.value)
    return {code: tuple(values) for code, values in raw.items()}


def _first(raw: Mapping[str, tuple[str, ...]], *codes: str) -> str | None:
    for code in codes:
        for value in raw.get(code, ()):
            text = value.strip()
            if text:
                return text
    return None


def _joined(raw: Mapping[str, tuple[str, ...]], *codes: str) -> str | None:
    parts = [v.strip() for code in codes for v in raw.get(code, ()) if v.strip()]
    return " ".join(parts) or None


def _nonzero(value: str | None) -> bool:
    """Koha's numeric status convention: empty or 0 means no, any other number means yes."""
    if value is None:
        return False
    text = value.strip()
    try:
        return int(text) != 0
    except ValueError:
        return False


def _status_flags(*texts: str | None) -> set[str]:
    flags: set[str] = set()
    for text in texts:
        if text:
            for word in _words(text):
                if word in _STATUS_WORDS:
                    flags.add(_STATUS_WORDS[word])
    if any(t and "IN PROCESS" in t.upper() for t in texts):
        flags.add("unprocessed")
    return flags


def _holding(
    tag: str,
    raw: Mapping[str, tuple[str, ...]],
    *,
    branch: str | None,
    location: str | None,
    call_number: str | None,
    barcode: str | None,
    item_type: str | None,
    raw_collection: str | None,
    flags: set[str],
    collection: str | None = None,
) -> HoldingData | None:
    if not (branch or location or call_number or barcode):
        return None
    return HoldingData(
        tag=tag,
        branch_code=branch,
        location=location,
        call_number=call_number,
        barcode=barcode,
        collection=collection or map_collection(location, item_type, raw_collection),
        raw_collection=raw_collection,
        item_type=item_type,
        not_for_loan="not_for_loan" in flags,
        lost="lost" in flags,
        damaged="damaged" in flags,
        withdrawn="withdrawn" in flags,
        unprocessed="unprocessed" in flags,
        raw=raw,
    )


def _koha_952(raw: Mapping[str, tuple[str, ...]]) -> HoldingData | None:
    branch = _first(raw, "a", "b")
    if branch is None or not any(code in raw for code in "poy879"):
        return None
    flags: set[str] = set()
    not_for_loan = _first(raw, "7")
    if _nonzero(not_for_loan):
        flags.add("not_for_loan")
        if not_for_loan is not None and not_for_loan.strip().startswith("-"):
            flags.add("unprocessed")  # Koha: negative "not for loan" values mean "on order"
    for code, flag in (("1", "lost"), ("4", "damaged"), ("0", "withdrawn")):
        if _nonzero(_first(raw, code)):
            flags.add(flag)
    return _holding(
        "952",
        raw,
        branch=branch,
        location=_first(raw, "c"),
        call_number=_first(raw, "o"),
        barcode=_first(raw, "p"),
        item_type=_first(raw, "y"),
        raw_collection=_first(raw, "8"),
        flags=flags,
    )


def _sirsi_949(raw: Mapping[str, tuple[str, ...]]) -> HoldingData | None:
    flags = _status_flags(_first(raw, "k"))
    circulate = _first(raw, "r")
    if circulate is not None and circulate.upper() == "N":
        flags.add("not_for_loan")
    return _holding(
        "949",
        raw,
        branch=_first(raw, "m"),
        location=_first(raw, "l"),
        call_number=_first(raw, "a"),
        barcode=_first(raw, "i"),
        item_type=_first(raw, "t"),
        raw_collection=_first(raw, "x"),
        flags=flags,
    )


def _mfhd_852(raw: Mapping[str, tuple[str, ...]]) -> HoldingData | None:
    notes = [*raw.get("x", ()), *raw.get("z", ())]
    flags = _status_flags(*notes)
    lowered = {n.strip().lower() for n in raw.get("x", ())}
    collection = "reference" if "reference" in lowered else None
    return _holding(
        "852",
        raw,
        branch=_first(raw, "b", "a"),
        location=_first(raw, "c"),
        call_number=_joined(raw, "k", "h", "i", "m") or _first(raw, "j"),
        barcode=_first(raw, "p"),
        item_type=None,
        raw_collection=None,
        flags=flags,
        collection=collection,
    )


def _koha_unimarc_995(raw: Mapping[str, tuple[str, ...]]) -> HoldingData | None:
    flags = {"not_for_loan"} if _nonzero(_first(raw, "o")) else set()
    return _holding(
        "995",
        raw,
        branch=_first(raw, "c", "b"),
        location=_first(raw, "e", "d"),
        call_number=_first(raw, "k"),
        barcode=_first(raw, "f"),
        item_type=_first(raw, "r"),
        raw_collection=_first(raw, "h"),
        flags=flags,
    )


def _sudoc_930(raw: Mapping[str, tuple[str, ...]]) -> HoldingData | None:
    return _holding(
        "930",
        raw,
        branch=_first(raw, "b"),
        location=None,
        call_number=_first(raw, "a"),
        barcode=None,
        item_type=None,
        raw_collection=None,
        flags=set(),
    )


_Reader = Callable[[Mapping[str, tuple[str, ...]]], "HoldingData | None"]
_READERS: Mapping[str, Mapping[str, _Reader]] = {
    "marc21": {"852": _mfhd_852, "949": _sirsi_949, "952": _koha_952},
    "unimarc": {"852": _mfhd_852, "930": _sudoc_930, "995": _koha_unimarc_995},
}


_ITEM_TAGS = frozenset({"949", "952", "995"})


def extract_holdings(record: Record, source_format: str) -> list[HoldingData]:
    """The copies a record describes, in field order (an empty list when it describes none).

    When a record has item fields (952, 949, 995), its 852/930 fields are location notes copied
    from another catalogue, not further copies, and are left out.
    """
    readers = _READERS.get(source_format, _READERS["marc21"])
    holdings: list[HoldingData] = []
    for fld in record.fields:
        reader = readers.get(fld.tag)
        if reader is None or fld.is_control_field():
            continue
        holding = reader(_subfields(fld))
        if holding is not None:
            holdings.append(holding)
    if any(h.tag in _ITEM_TAGS for h in holdings):
        return [h for h in holdings if h.tag in _ITEM_TAGS]
    return holdings
