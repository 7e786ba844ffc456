"""Greek-aware folding shared by both search backends.

Except where marked, every string here gives the same tokens through Lucene 9.12's
StandardTokenizer + GreekLowerCaseFilter + ASCIIFoldingFilter (the OpenSearch analyzer:
standard tokenizer, ``lowercase`` with ``language: greek``, ``asciifolding``); checked by
running Lucene on these strings.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kallimachos.search.normalise import fold, tokens


def test_greek_case_and_accents_fold_together() -> None:
    assert fold("ΒΙΒΛΙΟΘΗΚΗ") == fold("βιβλιοθηκη") == fold("Βιβλιοθήκη") == "βιβλιοθηκη"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ϊ ϊ ΐ Ϋ ϋ ΰ", "ι ι ι υ υ υ"),
        ("Πρωτεύουσα της Κύπρου", "πρωτευουσα τησ κυπρου"),
        ("ΟΔΥΣΣΕΥΣ", "οδυσσευσ"),
        ("Café Straße Øresund Łódź", "cafe strasse oresund lodz"),
        ("  many\t spaces\n", "many spaces"),
        ("Hē agora stē Mesogeio", "he agora ste mesogeio"),
    ],
)
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Η αγορά στη Μεσόγειο : από τους Ομηρικούς",
            ["η", "αγορα", "στη", "μεσογειο", "απο", "τουσ", "ομηρικουσ"],
        ),
        ("Ιστορία της Κύπρου, τόμ. Β΄", ["ιστορια", "τησ", "κυπρου", "τομ", "β"]),
        ("L’Hôtel des Invalides", ["l'hotel", "des", "invalides"]),
        (
            "CGI programming with Perl / Scott Guelich",
            ["cgi", "programming", "with", "perl", "scott", "guelich"],
        ),
        ("U.S.A. 1.5 edition", ["u.s.a", "1.5", "edition"]),
    ],
)
def test_tokens(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected


def test_polytonic_greek_is_folded_too() -> None:
    # Not what Lucene does: GreekLowerCaseFilter keeps breathings ("ὀδυσσευσ"). Index and query
    # OpenSearch with folded text (or add a char filter) for polytonic titles to match.
    assert fold("Ὀδυσσεύς") == fold("ΟΔΥΣΣΕΥΣ") == "οδυσσευσ"
    assert tokens("Ἱστορίαι Ἡροδότου") == ["ιστοριαι", "ηροδοτου"]


def _fold_one_character_at_a_time(text: str) -> str:
    """The rule as first written (a Python loop per character): the reference."""
    letters = str.maketrans(
        {"ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ð": "d", "ł": "l", "þ": "th", "ı": "i"}
        | {"ħ": "h", "ŧ": "t", "ŀ": "l", "ĸ": "k", "ŋ": "n"}
    )
    kept = []
    for char in unicodedata.normalize("NFKD", text.casefold()):
        if unicodedata.combining(char):
            continue
        if unicodedata.category(char) in ("Cc", "Cf") and not char.isspace():
            continue
        kept.append(char)
    plain = "".join(kept).translate(letters).replace("’", "'")
    return " ".join(plain.split())


@given(st.text(max_size=80))
def test_fold_gives_what_the_character_by_character_rule_gives(text: str) -> None:
    assert fold(text) == _fold_one_character_at_a_time(text)
