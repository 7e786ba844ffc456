"""Folding text so that a reader finds a title however it was typed.

Greek readers type without accents and in any case; catalogues write ``Βιβλιοθήκη``,
``ΒΙΒΛΙΟΘΗΚΗ`` or ``βιβλιοθηκη``. ``fold`` maps all of these to one form: it lowercases (final
sigma ``ς`` becomes ``σ``), removes tonos and dialytika (``ΐ`` and ``Ϊ`` become ``ι``), folds
Latin diacritics (``é`` -> ``e``, ``ø`` -> ``o``, ``ß`` -> ``ss``) and collapses whitespace.
``tokens`` splits folded text into words.

Both search backends use these rules. The OpenSearch index analyses text with the standard
tokenizer, the ``lowercase`` filter with ``language: greek`` and ``asciifolding``. For the strings
in ``tests/unit/test_normalise.py`` that chain (run in Lucene 9.12) gives exactly the tokens
``tokens`` gives here: Greek lowercasing removes tonos and dialytika and maps final sigma,
ASCII folding removes Latin diacritics, and the standard tokenizer keeps ``.`` and ``'`` between
letters or digits, as we do. One difference: polytonic Greek. Lucene keeps breathings and
perispomeni (``Ὀδυσσεύς`` -> ``ὀδυσσευσ``), ``fold`` removes them (``οδυσσευσ``); send folded
text to OpenSearch, or add a char filter, where polytonic titles must match.

Pure functions, standard library only (``unicodedata``).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["fold", "tokens"]

# Letters that Unicode does not decompose but ASCII folding maps to plain Latin letters.
_LETTERS = {
    "ø": "o",
    "æ": "ae",
    "œ": "oe",
    "đ": "d",
    "ð": "d",
    "ł": "l",
    "þ": "th",
    "ı": "i",
    "ħ": "h",
    "ŧ": "t",
    "ŀ": "l",
    "ĸ": "k",
    "ŋ": "n",
    "’": "'",
}

# A word: letters/digits, possibly joined by an apostrophe or full stop (``l'école``, ``3.14``).
_TOKEN = re.compile(r"\w+(?:['’.]\w+)*")


class _FoldTable(dict[int, str | None]):
    """What each character of decomposed lowercase text becomes: nothing for accents and
    invisible controls, a plain letter for the letters above, else itself.  Filled on first
    sight of a character, so ``str.translate`` does the per-character work in C."""

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        invisible = unicodedata.category(char) in ("Cc", "Cf") and not char.isspace()
        value = None if unicodedata.combining(char) or invisible else _LETTERS.get(char, char)
        self[code] = value
        return value


_FOLD = _FoldTable()


def fold(text: str) -> str:
    """Text in its search form: lowercase, no accents or diacritics, single spaces."""
    return " ".join(unicodedata.normalize("NFKD", text.casefold()).translate(_FOLD).split())


def tokens(text: str) -> list[str]:
    """The folded words of ``text``, in order."""
    return _TOKEN.findall(fold(text))
