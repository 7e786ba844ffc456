"""Greek-aware folding shared by both search backends.

Except where marked, every string here gives the same tokens through Lucene 9.12's
StandardTokenizer + GreekLowerCaseFilter + ASCIIFoldingFilter (the OpenSearch analyzer:
standard tokenizer, ``lowercase`` with ``language: greek``, ``asciifolding``); checked by
running Lucene on these strings.
"""

from __future__ import annotations

import pytest

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
