"""Import patrons from the consortium CSV, all or nothing.

Columns: ``card_number,name,email,library,home_branch,category,expires_on,fee_paid_until``.
Every row is checked against the libraries, branches and categories of the policy files
before anything is written; one bad row means nothing is imported and each bad row is
reported with its line number.  A card number already known is updated in place.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kallimachos.db.models import Branch, Library, Patron
from kallimachos.domain.actors import Actor
from kallimachos.services.events import record_event

COLUMNS = (
    "card_number",
    "name",
    "email",
    "library",
    "home_branch",
    "category",
    "expires_on",
    "fee_paid_until",
)
CARD_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class PatronImportError(Exception):
    """The file was refused; ``problems`` lists each bad row as ``line N: reason``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class PatronRow:
    line: int
    card_number: str
    name: str
    email: str | None
    library: str
    home_branch: str
    category: str
    expires_on: date | None
    fee_paid_until: date | None


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int


def parse_csv(text: str) -> list[dict[str, str]]:
    """Rows as dicts with their header checked; raises on a wrong header."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = tuple(reader.fieldnames or ())
        if header != COLUMNS:
            raise PatronImportError([f"line 1: header must be {','.join(COLUMNS)}; got {header}"])
        return list(reader)
    except csv.Error as exc:
        raise PatronImportError([f"line {reader.line_num}: not readable as CSV ({exc})"]) from exc


def validate_rows(
    rows: Iterable[Mapping[str, str | None]],
    categories: Mapping[str, frozenset[str]],
    branches: Mapping[str, frozenset[str]],
) -> list[PatronRow]:
    """Check every row; collect all problems before refusing the file."""
    problems: list[str] = []
    valid: list[PatronRow] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(rows, start=2):
        try:
            row = _validate(index, raw, categories, branches)
        except ValueError as exc:
            problems.append(f"line {index}: {exc}")
            continue
        if row.card_number in seen:
            first = seen[row.card_number]
            problems.append(f"line {index}: card_number {row.card_number!r} repeats line {first}")
            continue
        seen[row.card_number] = index
        valid.append(row)
    if problems:
        raise PatronImportError(problems)
    if not valid:
        raise PatronImportError(["the file has no patron rows"])
    return valid


def _validate(
    line: int,
    raw: Mapping[str, str | None],
    categories: Mapping[str, frozenset[str]],
    branches: Mapping[str, frozenset[str]],
) -> PatronRow:
    if None in raw or any(raw.get(c) is None for c in COLUMNS):
        raise ValueError(f"expected {len(COLUMNS)} columns")
    value = {key: (raw.get(key) or "").strip() for key in COLUMNS}
    card = value["card_number"]
    if not CARD_PATTERN.match(card):
        raise ValueError(f"card_number {card!r} must be 1-64 letters, digits, '.', '_' or '-'")
    if not value["name"]:
        raise ValueError("name is empty")
    email = value["email"] or None
    if email is not None and not EMAIL_PATTERN.match(email):
        raise ValueError(f"email {email!r} is not an address")
    library = value["library"]
    if library not in categories:
        raise ValueError(f"unknown library {library!r} (known: {', '.join(sorted(categories))})")
    if value["home_branch"] not in branches[library]:
        raise ValueError(
            f"home_branch {value['home_branch']!r} is not a branch of {library} "
            f"(branches: {', '.join(sorted(branches[library]))})"
        )
    if value["category"] not in categories[library]:
        raise ValueError(
            f"category {value['category']!r} is not a {library} patron category "
            f"(categories: {', '.join(sorted(categories[library]))})"
        )
    return PatronRow(
        line=line,
        card_number=card,
        name=value["name"],
        email=email,
        library=library,
        home_branch=value["home_branch"],
        category=value["category"],
        expires_on=_date(value["expires_on"], "expires_on"),
        fee_paid_until=_date(value["fee_paid_until"], "fee_paid_until"),
    )


def _date(text: str, column: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{column} {text!r} is not an ISO date (YYYY-MM-DD)") from exc


async def save_patrons(
    session: AsyncSession, rows: list[PatronRow], *, actor: Actor, now: datetime
) -> ImportSummary:
    """Create or update the patrons in the caller's transaction, with an event each."""
    libraries = {lib.code: lib for lib in await session.scalars(select(Library))}
    branch_ids = {b.code: b.id for b in await session.scalars(select(Branch))}
    existing = {
        p.card_number: p
        for p in await session.scalars(
            select(Patron).where(Patron.card_number.in_([r.card_number for r in rows]))
        )
    }
    created = updated = 0
    for row in rows:
        fields = {
            "name": row.name,
            "email": row.email,
            "library_id": libraries[row.library].id,
            "home_branch_id": branch_ids[row.home_branch],
            "category": row.category,
            "expires_on": row.expires_on,
            "fee_paid_until": row.fee_paid_until,
        }
        patron = existing.get(row.card_number)
        before = None
        if patron is None:
            patron = Patron(card_number=row.card_number, created_at=now, **fields)
            session.add(patron)
            created += 1
        else:
            before = _snapshot(patron)
            for key, val in fields.items():
                setattr(patron, key, val)
            updated += 1
        await session.flush()
        record_event(
            session,
            actor=actor,
            now=now,
            recorded_at=now,
            aggregate_type="patron",
            aggregate_id=patron.id,
            kind="patron.imported" if before is None else "patron.updated",
            before=before,
            after=_snapshot(patron),
        )
    return ImportSummary(created=created, updated=updated)


def _snapshot(patron: Patron) -> dict[str, object]:
    return {
        "card_number": patron.card_number,
        "library_id": patron.library_id,
        "home_branch_id": patron.home_branch_id,
        "category": patron.category,
        "expires_on": patron.expires_on.isoformat() if patron.expires_on else None,
        "fee_paid_until": patron.fee_paid_until.isoformat() if patron.fee_paid_until else None,
    }
