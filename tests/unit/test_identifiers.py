"""ISBN and ISSN normalisation."""

from __future__ import annotations

import pytest

from kallimachos.domain.identifiers import (
    isbn10_to_13,
    isbn13_to_10,
    isbn_variants,
    normalise_isbn,
    normalise_issn,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("019504312X", "9780195043129"),
        ("019504312x", "9780195043129"),
        ("0-19-504312-X", "9780195043129"),
        ("019504312X (alk. paper) : $30.00", "9780195043129"),
        ("0195071409 (pbk.)", "9780195071405"),
        ("ISBN 978-0-19-504312-9", "9780195043129"),
        ("ISBN-13: 978 0 19 504312 9", "9780195043129"),
        ("9789608838765", "9789608838765"),
        ("9608838762", "9789608838765"),
        ("0195071409 2nd copy", "9780195071405"),
        ("9790260000438", "9790260000438"),
        ("0195043121", None),  # wrong check digit
        ("9780195043128", None),
        ("12345", None),
        ("", None),
        ("pbk.", None),
    ],
)
def test_normalise_isbn(text: str, expected: str | None) -> None:
    assert normalise_isbn(text) == expected


def test_isbn_variants() -> None:
    assert isbn_variants("0-19-504312-X") == {"9780195043129", "019504312X"}
    assert isbn_variants("9790260000438") == {"9790260000438"}
    assert isbn_variants("nonsense") == set()


def test_isbn_conversions_round_trip() -> None:
    assert isbn10_to_13("1565924193") == "9781565924192"
    assert isbn13_to_10("9781565924192") == "1565924193"
    assert isbn13_to_10("9790260000438") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0028-0836", "0028-0836"),
        ("00280836", "0028-0836"),
        ("ISSN 0378-5955", "0378-5955"),
        ("2434-561x", "2434-561X"),
        ("0028-0837", None),
        ("0028-083", None),
    ],
)
def test_normalise_issn(text: str, expected: str | None) -> None:
    assert normalise_issn(text) == expected
