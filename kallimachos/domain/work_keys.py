"""Keys that bring together records describing the same edition, from different libraries.

Two keys, tried in this order when clustering:

1. ``identifier_keys``: ``isbn:<13 digits>`` and ``issn:<NNNN-NNNC>``. Records sharing one are the
   same manifestation, whatever else differs (a CIP record and the full record of a book).
2. ``title_key``: for records that share no standard number. It joins

   - the title, folded (no accents, lowercase) and without a leading article (English,
     French, German, Italian, Spanish, Greek) or the non-filing characters the cataloguer marked;
   - the first author's surname (the part before the comma), folded;
   - the year of the text: the earliest year in the publication statement (publication or
     copyright date), so that a 1986 reprint "c1968" meets the 1968 printing; else the 008/100 year;
   - the guard: material type and carrier (``book/print``, ``sound_recording/cd``), and the
     edition number (``2nd ed.``, ``Second edition``, ``2. Aufl.``, ``2η έκδ.`` are all 2; a first
     edition counts as none).

   The guard is the principle that keeps manifestations apart: a CD and an LP of the same
   recordings, a print book and its e-book, a first and a second edition never share a key,
   even when title, author and year agree. No key is made without a title or a year.

Pure functions over any object with the ``Catalogued`` attributes (``ParsedRecord`` has them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from kallimachos.search.normalise import tokens

__all__ = ["LEADING_ARTICLES", "Catalogued", "edition_number", "identifier_keys", "title_key"]

LEADING_ARTICLES = frozenset(
    {
        # English
        "the", "a", "an",
        # French
        "le", "la", "les", "l'", "un", "une",
        # German
        "der", "die", "das", "ein", "eine",
        # Italian and Spanish
        "il", "lo", "gli", "el", "los", "las", "uno", "una",
        # Greek (folded: no accents)
        "ο", "η", "το", "οι", "τα", "ενας", "μια", "ενα",
    }
)  # fmt: skip

_ORDINALS = {
    1: ("first", "premier", "premiere", "erste", "prima", "primera", "πρωτη"),
    2: ("second", "seconde", "deuxieme", "zweite", "seconda", "segunda", "δευτερη"),
    3: ("third", "troisieme", "dritte", "terza", "tercera", "τριτη"),
    4: ("fourth", "quatrieme", "vierte", "quarta", "cuarta", "τεταρτη"),
    5: ("fifth", "cinquieme", "funfte", "quinta", "πεμπτη"),
    6: ("sixth", "sixieme", "sechste", "sesta", "sexta", "εκτη"),
    7: ("seventh", "septieme", "siebte", "settima", "septima", "εβδομη"),
    8: ("eighth", "huitieme", "achte", "ottava", "octava", "ογδοη"),
    9: ("ninth", "neuvieme", "neunte", "nona", "novena", "ενατη"),
    10: ("tenth", "dixieme", "zehnte", "decima", "δεκατη"),
}
_ORDINAL_WORDS = {word: number for number, words in _ORDINALS.items() for word in words}
_EDITION_WORDS = frozenset(
    {
        "ed",
        "edition",
        "eds",
        "éd",
        "aufl",
        "auflage",
        "ausg",
        "edizione",
        "edicion",
        "εκδ",
        "εκδοση",
    }
)
_NUMBER = re.compile(r"\d+")


class Catalogued(Protocol):
    """What the keys read from a record."""

    @property
    def title(self) -> str | None: ...
    @property
    def filing_title(self) -> str | None: ...
    @property
    def authors(self) -> Sequence[str]: ...
    @property
    def earliest_year(self) -> int | None: ...
    @property
    def publication_year(self) -> int | None: ...
    @property
    def isbns(self) -> Sequence[str]: ...
    @property
    def issns(self) -> Sequence[str]: ...
    @property
    def format_guard(self) -> str: ...
    @property
    def edition(self) -> str | None: ...


def identifier_keys(record: Catalogued) -> set[str]:
    """``isbn:…`` and ``issn:…`` keys of a record (empty when it has no standard number)."""
    return {f"isbn:{isbn}" for isbn in record.isbns} | {f"issn:{issn}" for issn in record.issns}


def edition_number(edition: str | None) -> str:
    """The edition as the guard compares it: a number, else the statement's words; first is ''."""
    if not edition:
        return ""
    words = tokens(edition)
    for word in words:
        number = _NUMBER.match(word)
        if number and int(number.group()) < 100:
            value = int(number.group())
            return "" if value == 1 else str(value)
        if word in _ORDINAL_WORDS:
            value = _ORDINAL_WORDS[word]
            return "" if value == 1 else str(value)
    return " ".join(w for w in words if w.rstrip(".") not in _EDITION_WORDS)


def _title_words(record: Catalogued) -> list[str]:
    title = record.title or ""
    filing = record.filing_title or title
    words = [w for w in tokens(filing) if w]
    if filing == title and len(words) > 1:
        if words[0] in LEADING_ARTICLES:
            words = words[1:]
        elif words[0].startswith("l'") and len(words[0]) > 2:
            words[0] = words[0][2:]
    return [w.replace(".", "").replace("'", "") for w in words]


def _surname(authors: Sequence[str]) -> str:
    if not authors:
        return ""
    return " ".join(tokens(authors[0].split(",", 1)[0]))


def title_key(record: Catalogued) -> str | None:
    """The title/author/year key with its guard; ``None`` without a title or a year."""
    words = _title_words(record)
    year = record.earliest_year or record.publication_year
    if not words or year is None:
        return None
    parts = (
        " ".join(words),
        _surname(record.authors),
        str(year),
        record.format_guard,
        edition_number(record.edition),
    )
    return "title:" + "|".join(parts)


def shared_record_key(record: Catalogued) -> str | None:
    """The same source record copied into two catalogues: same control number, same title.

    Copy cataloguing often leaves minimal records (no ISBN, author or year) whose only
    identity is the control number they were copied with; the title guards against two
    libraries' unrelated local numbers colliding.
    """
    control = (getattr(record, "control_number", None) or "").strip()
    title = getattr(record, "title", None)
    if not control or not title:
        return None
    folded = " ".join(tokens(title))
    return f"record:{control}|{folded}" if folded else None
