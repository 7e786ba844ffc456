"""Standard numbers: ISBN and ISSN, as cataloguers type them and as we compare them.

An ISBN arrives in many shapes: ``0-19-504312-X``, ``019504312x (alk. paper) : $30.00``,
``ISBN 978 0 19 504312 3``. We keep one form for matching and storage, the 13 digits of the
ISBN-13 with no hyphens, and accept an ISBN-10 only when its check digit is right (it is then
converted). An ISSN is kept as ``NNNN-NNNC``. Anything that fails its check digit is not a
standard number for us: the caller decides what to do with the raw string.

Pure functions, standard library only.
"""

from __future__ import annotations

import re

__all__ = ["isbn10_to_13", "isbn13_to_10", "isbn_variants", "normalise_isbn", "normalise_issn"]

_ISBN_LABEL = re.compile(r"^\s*ISBN(?:[-\s]?1[03])?\s*:?\s*", re.IGNORECASE)
_ISSN_LABEL = re.compile(r"^\s*ISSN(?:-L)?\s*:?\s*", re.IGNORECASE)
_SEPARATORS = " -\u2010\u2011\u2012\u2013\u00a0"


def _leading_digits(text: str, limit: int) -> str:
    """The digits (and a final X) at the start of ``text``, skipping hyphens and spaces."""
    out: list[str] = []
    for char in text:
        if char.isascii() and char.isdigit():
            out.append(char)
        elif char in "Xx" and out:
            out.append("X")
            break
        elif char in _SEPARATORS:
            continue
        else:
            break
        if len(out) >= limit:
            break
    return "".join(out)


def _isbn10_ok(digits: str) -> bool:
    if len(digits) != 10 or not digits[:9].isdigit():
        return False
    last = 10 if digits[9] == "X" else int(digits[9]) if digits[9].isdigit() else -1
    if last < 0:
        return False
    total = sum((10 - i) * int(d) for i, d in enumerate(digits[:9])) + last
    return total % 11 == 0


def _isbn13_check(first12: str) -> str:
    total = sum((3 if i % 2 else 1) * int(d) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


def _isbn13_ok(digits: str) -> bool:
    return (
        len(digits) == 13
        and digits.isdigit()
        and digits[:3] in ("978", "979")
        and _isbn13_check(digits[:12]) == digits[12]
    )


def isbn10_to_13(isbn10: str) -> str:
    """The ISBN-13 of a valid ISBN-10 (digits only, X allowed last)."""
    first12 = "978" + isbn10[:9]
    return first12 + _isbn13_check(first12)


def isbn13_to_10(isbn13: str) -> str | None:
    """The ISBN-10 of a 978 ISBN-13; ``None`` for 979 numbers, which have no ISBN-10."""
    if not isbn13.startswith("978"):
        return None
    core = isbn13[3:12]
    total = sum((10 - i) * int(d) for i, d in enumerate(core))
    check = (11 - total % 11) % 11
    return core + ("X" if check == 10 else str(check))


def normalise_isbn(text: str) -> str | None:
    """The 13-digit ISBN in ``text``, or ``None`` when there is no valid one.

    Hyphens, spaces, an ``ISBN`` label, a lowercase ``x`` and trailing qualifiers such as
    ``(pbk.)`` or a price are accepted. An ISBN-10 is converted to its ISBN-13.
    """
    body = _ISBN_LABEL.sub("", text)
    candidates = [_leading_digits(body, 13)]
    first_token = body.strip().split(" ", 1)[0]
    candidates.append(_leading_digits(first_token, 13))
    candidates.append(candidates[0][:10])
    for digits in candidates:
        if _isbn13_ok(digits):
            return digits
        if _isbn10_ok(digits):
            return isbn10_to_13(digits)
    return None


def isbn_variants(text: str) -> set[str]:
    """Both forms of a valid ISBN (13 digits, and 10 where one exists), for exact search."""
    isbn13 = normalise_isbn(text)
    if isbn13 is None:
        return set()
    isbn10 = isbn13_to_10(isbn13)
    return {isbn13} if isbn10 is None else {isbn13, isbn10}


def normalise_issn(text: str) -> str | None:
    """The ISSN in ``text`` as ``NNNN-NNNC``, or ``None`` when its check digit is wrong."""
    digits = _leading_digits(_ISSN_LABEL.sub("", text), 8)
    if len(digits) != 8 or not digits[:7].isdigit():
        return None
    total = sum((8 - i) * int(d) for i, d in enumerate(digits[:7]))
    check = (11 - total % 11) % 11
    if digits[7] != ("X" if check == 10 else str(check)):
        return None
    return f"{digits[:4]}-{digits[4:]}"
