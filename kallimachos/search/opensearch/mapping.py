"""Settings and mappings of the works index (one document per work).

Text fields share one analyzer, ``kallimachos_text``, built only from the analysis-common
module (no ICU plugin):

``kallimachos_fold`` char filter
    A ``mapping`` char filter generated here from the same Unicode rules as
    :func:`kallimachos.search.normalise.fold`: it removes combining marks (decomposed tonos
    ``η\\u0301``, Latin ``e\\u0301``) and format characters (soft hyphen, zero-width joiners),
    and maps every Greek and Greek Extended (polytonic) letter to its folded form
    (``Ἀ`` → ``α``, ``ᾠ`` → ``ωι``).  Without it the Greek lowercase filter leaves
    decomposed and polytonic text unfolded (proved with ``_analyze``; see docs/search.md).
``standard`` tokenizer
    Unicode word boundaries; keeps ``'`` and ``.`` between letters or digits (``l'ecole``,
    ``3.14``), exactly as :func:`kallimachos.search.normalise.tokens` does.
``lowercase`` with ``language: greek``
    Lucene's ``GreekLowerCaseFilter``: lowercases, removes tonos and dialytika, final ``ς`` → ``σ``.
``asciifolding``
    Latin diacritics and letters (``é`` → ``e``, ``ß`` → ``ss``, ``ø`` → ``o``, ``’`` → ``'``).

No stop words and **no stemming**: ``βιβλιοθήκης`` does not find ``βιβλιοθήκη``.  The embedded
engine has no Greek stemmer, and both engines must return the same works; see docs/search.md.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import Any

TEXT_ANALYZER = "kallimachos_text"
FOLD_CHAR_FILTER = "kallimachos_fold"

# Code point ranges folded by the char filter besides combining marks and format characters.
_GREEK_BLOCKS = ((0x0370, 0x03FF), (0x1F00, 0x1FFF))

DEFAULT_SHARDS = 1
DEFAULT_REFRESH_INTERVAL = "1s"
# 0 replicas on a single node, 1 as soon as there is a second node to hold it.
DEFAULT_AUTO_EXPAND_REPLICAS = "0-1"


def _fold_char(char: str) -> str:
    """One character as ``fold`` treats it (without collapsing whitespace)."""
    kept = []
    for part in unicodedata.normalize("NFKD", char.casefold()):
        if unicodedata.combining(part):
            continue
        if unicodedata.category(part) in ("Cc", "Cf") and not part.isspace():
            continue
        kept.append(part)
    return "".join(kept)


def _escape(text: str) -> str:
    """A mapping-rule string with every UTF-16 unit written as ``\\uXXXX``."""
    units = text.encode("utf-16-be")
    return "".join(f"\\u{units[i]:02X}{units[i + 1]:02X}" for i in range(0, len(units), 2))


@cache
def fold_mappings() -> tuple[tuple[str, str], ...]:
    """``(character, replacement)`` pairs of the fold char filter, in code point order."""
    pairs: list[tuple[str, str]] = []
    for code in range(0x110000):
        char = chr(code)
        category = unicodedata.category(char)
        if category in ("Cn", "Cs", "Co"):
            continue
        in_greek = any(lo <= code <= hi for lo, hi in _GREEK_BLOCKS)
        if not (in_greek or unicodedata.combining(char) or category == "Cf"):
            continue
        target = _fold_char(char)
        if target != char:
            # A spacing accent (U+0384 tonos, U+1FBD koronis) becomes a space, never glue.
            pairs.append((char, target if target.strip() or not target else " "))
    return tuple(pairs)


def fold_char_filter() -> dict[str, Any]:
    """The ``mapping`` char filter definition (about 1,400 rules)."""
    return {
        "type": "mapping",
        "mappings": [f"{_escape(src)} => {_escape(dst)}" for src, dst in fold_mappings()],
    }


def analysis() -> dict[str, Any]:
    return {
        "char_filter": {FOLD_CHAR_FILTER: fold_char_filter()},
        "filter": {
            "kallimachos_greek_lowercase": {"type": "lowercase", "language": "greek"},
            "kallimachos_asciifolding": {"type": "asciifolding", "preserve_original": False},
        },
        "analyzer": {
            TEXT_ANALYZER: {
                "type": "custom",
                "char_filter": [FOLD_CHAR_FILTER],
                "tokenizer": "standard",
                "filter": ["kallimachos_greek_lowercase", "kallimachos_asciifolding"],
            }
        },
    }


def _text() -> dict[str, Any]:
    return {"type": "text", "analyzer": TEXT_ANALYZER}


def _keyword() -> dict[str, Any]:
    return {"type": "keyword"}


MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "work_id": {"type": "long"},
        "title": _text(),
        # Vernacular (MARC 880) and other records' titles: searched with the title's weight.
        "alternate_titles": _text(),
        # " ".join(tokens(t)) of the title and each alternate title: the exact-title rule
        # compares token sequences.
        "title_key": {"type": "keyword", "ignore_above": 2048},
        "authors": _text(),
        "subjects": _text(),
        "publisher": _text(),
        "isbns": _keyword(),
        "issns": _keyword(),
        "language": _keyword(),
        "material_type": _keyword(),
        "year": {"type": "integer"},
        "holding_libraries": _keyword(),
        "loanable_at": _keyword(),
        "available_at": _keyword(),
    },
}


def replica_settings(replicas: int | None) -> dict[str, Any]:
    """Fixed replicas, or ``auto_expand_replicas`` 0-1 when ``replicas`` is None."""
    if replicas is None:
        return {"auto_expand_replicas": DEFAULT_AUTO_EXPAND_REPLICAS}
    return {"auto_expand_replicas": "false", "number_of_replicas": replicas}


def index_body(
    *,
    shards: int = DEFAULT_SHARDS,
    replicas: int | None = None,
    refresh_interval: str = DEFAULT_REFRESH_INTERVAL,
    alias: str | None = None,
) -> dict[str, Any]:
    """The body of ``PUT /<physical index>``; with ``alias``, the index is created behind it."""
    body: dict[str, Any] = {
        "settings": {
            "index": {
                "number_of_shards": shards,
                "refresh_interval": refresh_interval,
                **replica_settings(replicas),
            },
            "analysis": analysis(),
        },
        "mappings": MAPPINGS,
    }
    if alias is not None:
        body["aliases"] = {alias: {}}
    return body


def bulk_load_settings() -> dict[str, Any]:
    """Settings while a rebuild loads a fresh index: no refreshes, no replicas."""
    return {"index": {"refresh_interval": "-1", **replica_settings(0)}}


def serving_settings(replicas: int | None, refresh_interval: str) -> dict[str, Any]:
    """Settings restored after the load, before the alias swap."""
    return {"index": {"refresh_interval": refresh_interval, **replica_settings(replicas)}}
