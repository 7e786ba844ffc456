"""Load the policy files (``policies/*.toml``) into a validated :class:`PolicySet`.

One file per library, named after its code (``UOC.toml``); ``role = "member"`` or
``role = "external_supplier"`` decides its shape (``kallimachos.domain.policy``). Files are
validated strictly: unknown keys, missing keys and wrong types are errors, and so are
references that do not resolve (an unknown category, branch or supplier). Every error names
the file and the dotted key::

    policies/UOC.toml: categories.undergraduate.loan_days: Input should be a valid integer
"""

import json
import os
import sys
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import holidays
from pydantic import TypeAdapter, ValidationError

from kallimachos.domain.policy import (
    AnnualClosure,
    Closure,
    ExternalSupplier,
    InventoryClosure,
    LibraryPolicy,
    MemberLibrary,
    PolicySet,
)

__all__ = [
    "POLICIES_DIR_ENV",
    "ExternalSupplier",
    "LibraryPolicy",
    "MemberLibrary",
    "PolicyFileError",
    "PolicySet",
    "default_policies_dir",
    "load_policies",
    "main",
]

POLICIES_DIR_ENV = "KALLIMACHOS_POLICIES_DIR"

_MEMBER = TypeAdapter(MemberLibrary)
_SUPPLIER = TypeAdapter(ExternalSupplier)
_ROLES = ("member", "external_supplier")

Problem = tuple[str | None, str]  # (dotted key or None for the whole file, message)


class PolicyFileError(Exception):
    """A policy file is unreadable or invalid. ``str()`` is one line per problem:
    ``<dir>/<file>: <dotted.key>: <message>``."""

    def __init__(self, path: Path, problems: Iterable[Problem]) -> None:
        self.path = path
        self.problems: tuple[Problem, ...] = tuple(problems) or ((None, "invalid"),)
        self.key, self.problem = self.problems[0]
        super().__init__("\n".join(self._line(key, msg) for key, msg in self.problems))

    def _line(self, key: str | None, message: str) -> str:
        is_file = self.path.suffix == ".toml"
        shown = f"{self.path.parent.name}/{self.path.name}" if is_file else str(self.path)
        return f"{shown}: {key}: {message}" if key else f"{shown}: {message}"


def default_policies_dir() -> Path:
    """``$KALLIMACHOS_POLICIES_DIR``; else the copy packed into a wheel
    (``kallimachos/_policies``); else the repository's ``policies/``."""
    if configured := os.environ.get(POLICIES_DIR_ENV):
        return Path(configured)
    packaged = Path(__file__).parent / "_policies"
    if packaged.is_dir():
        return packaged
    return Path(__file__).parent.parent / "policies"


def load_policies(directory: Path | None = None) -> PolicySet:
    """Read, validate and cross-check every ``*.toml`` in ``directory``."""
    directory = default_policies_dir() if directory is None else directory
    if not directory.is_dir():
        raise PolicyFileError(directory, [(None, "policy directory not found")])
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        raise PolicyFileError(directory, [(None, "no *.toml policy files in this directory")])

    loaded = {path: _load_file(path) for path in paths}
    _check_across_files(loaded)
    ordered = sorted(loaded.values(), key=lambda lib: (lib.role != "member", lib.code))
    return PolicySet(libraries=tuple(ordered))


def _load_file(path: Path) -> LibraryPolicy:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyFileError(path, [(None, f"cannot read: {exc}")]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyFileError(path, [(None, f"invalid TOML: {exc}")]) from exc

    role = raw.get("role")
    if role not in _ROLES:
        expected = " or ".join(repr(r) for r in _ROLES)
        problem = "Field required" if role is None else f"Input should be {expected}"
        raise PolicyFileError(path, [("role", problem)])
    if role == "member":
        _raise_if(path, _resolve_inheritance(raw))
    adapter: TypeAdapter[Any] = _MEMBER if role == "member" else _SUPPLIER
    try:
        # Strict validation in Python mode would demand dataclass instances, so the parsed
        # TOML goes through strict JSON mode: tables become dataclasses and arrays tuples, but
        # "7" is not an integer and 1 is not true. Dates and decimals travel as exact strings.
        library: LibraryPolicy = adapter.validate_json(json.dumps(_jsonable(raw)), strict=True)
    except ValidationError as exc:
        raise PolicyFileError(path, [_describe(error) for error in exc.errors()]) from None

    problems: list[Problem] = []
    if library.code != path.stem:
        problems.append(("code", f"must match the file name {path.stem!r}"))
    if isinstance(library, MemberLibrary):
        problems += _member_problems(library)
    _raise_if(path, problems)
    return library


def _resolve_inheritance(raw: dict[str, Any]) -> list[Problem]:
    """Fill each category that ``inherits_from`` another with the keys it does not set."""
    categories = raw.get("categories")
    if not isinstance(categories, dict):
        return []
    problems: list[Problem] = []
    for code, table in categories.items():
        parent_code = table.get("inherits_from") if isinstance(table, dict) else None
        if not isinstance(parent_code, str):
            continue
        key = f"categories.{code}.inherits_from"
        parent = categories.get(parent_code)
        if parent_code == code or not isinstance(parent, dict):
            problems.append((key, f"unknown category {parent_code!r}"))
        elif "inherits_from" in parent:
            problems.append((key, f"{parent_code!r} inherits itself; inherit from its parent"))
        else:
            categories[code] = {**parent, **table}
    return problems


def _member_problems(library: MemberLibrary) -> Iterator[Problem]:
    categories = set(library.categories)
    branches = set(library.branch_codes)

    for index, branch in enumerate(library.branches):
        if branch.code != library.code and not branch.code.startswith(f"{library.code}-"):
            yield (
                f"branches[{index}].code",
                f"must be {library.code!r} or start with '{library.code}-'",
            )
    if len(branches) != len(library.branches):
        yield "branches", "branch codes must be unique"

    eligibility = library.ill_requesting.eligibility
    payers = library.ill_requesting.cost.payer_by_category
    for index, code in enumerate(eligibility.categories):
        if code not in categories:
            yield f"ill_requesting.eligibility.categories[{index}]", f"unknown category {code!r}"
        elif code not in payers:
            yield (
                "ill_requesting.cost.payer_by_category",
                f"no payer for eligible category {code!r}",
            )
    for code in payers:
        if code not in eligibility.categories:
            yield f"ill_requesting.cost.payer_by_category.{code}", "not an eligible category"

    for code, category in library.categories.items():
        if category.exceptional_max_loan_months is not None and library.exceptional_loans is None:
            yield f"categories.{code}.exceptional_max_loan_months", "needs [exceptional_loans]"

    calendar = library.calendar
    try:
        holidays.country_holidays(calendar.holidays_country, categories=calendar.holiday_categories)
    except NotImplementedError:
        yield "calendar.holidays_country", "not a country of the holidays package"
    except ValueError as exc:
        yield "calendar.holiday_categories", str(exc)
    by_period = [code for code, c in library.categories.items() if c.due_at_academic_period_end]
    if by_period and not calendar.periods_are_contiguous():
        yield (
            "calendar.academic_periods",
            f"must follow each other without gaps: {', '.join(by_period)} loans end with a period",
        )

    closures: dict[str, tuple[AnnualClosure | Closure | InventoryClosure, ...]] = {
        "calendar.annual_closures": calendar.annual_closures,
        "calendar.closures": calendar.closures,
        "inventory.closures": library.inventory.closures,
    }
    for key, entries in closures.items():
        for index, closure in enumerate(entries):
            for position, code in enumerate(closure.branches):
                if code not in branches:
                    yield f"{key}[{index}].branches[{position}]", f"unknown branch {code!r}"


def _check_across_files(loaded: Mapping[Path, LibraryPolicy]) -> None:
    suppliers = {lib.code for lib in loaded.values() if isinstance(lib, ExternalSupplier)}
    branch_files: dict[str, Path] = {}
    for path, library in loaded.items():
        problems: list[Problem] = []
        for index, branch in enumerate(library.branches):
            if (other := branch_files.setdefault(branch.code, path)) != path:
                problems.append((f"branches[{index}].code", f"also a branch in {other.name}"))
        if isinstance(library, MemberLibrary):
            for index, code in enumerate(library.ill_requesting.external_suppliers):
                if code not in suppliers:
                    problems.append(
                        (
                            f"ill_requesting.external_suppliers[{index}]",
                            f'no {code}.toml with role = "external_supplier"',
                        )
                    )
        _raise_if(path, problems)


def _raise_if(path: Path, problems: list[Problem]) -> None:
    if problems:
        raise PolicyFileError(path, problems)


def _describe(error: Mapping[str, Any]) -> Problem:
    key = ""
    for part in error["loc"]:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    message = {
        "unexpected_keyword_argument": "unknown key",
        "missing": "Field required",
    }.get(error["type"], str(error["msg"]).removeprefix("Value error, "))
    return (key or None, message)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kallimachos.policies [DIRECTORY]``: check the policy files, exit 1 if bad."""
    args = sys.argv[1:] if argv is None else argv
    try:
        policies = load_policies(Path(args[0]) if args else None)
    except PolicyFileError as exc:
        print(exc, file=sys.stderr)
        return 1
    members, suppliers = len(policies.members), len(policies.external_suppliers)
    print(f"OK: {members} member libraries, {suppliers} external suppliers")
    return 0


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime | time):
        return value.isoformat()
    return value


if __name__ == "__main__":
    sys.exit(main())
