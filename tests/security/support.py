"""Shared pieces of the security suite: who asks (actors), a fresh demo database per test,
and GraphQL calls that return the whole response (data, errors, HTTP status)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from httpx import AsyncClient
from sqlalchemy import func, select
from strawberry import relay

from kallimachos.api.settings import Settings
from kallimachos.db.engine import make_engine, make_sessionmaker
from kallimachos.db.models import Event, Fee, Item, Library, Patron, Work
from tests.conftest import gql, token_for
from tests.e2e.circulation_support import Desk, client_for, copy_template

MONDAY = "2026-11-23T10:00:00+02:00"  # a working Monday in Crete and on the islands


def at(day: date, hour: int = 10) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00+02:00"


class Who(StrEnum):
    """Every kind of caller, relative to the library and patron a scenario is about."""

    ANONYMOUS = "anonymous"
    PATRON_SELF = "patron_self"
    PATRON_OTHER = "patron_other"  # another reader of the same library
    STAFF_OWN = "staff_own"  # staff of the library, no branch in the token
    STAFF_DESK = "staff_desk"  # staff of the library at the scenario's desk (branch)
    STAFF_OTHER_BRANCH = "staff_other_branch"  # staff of the library at another branch
    STAFF_OTHER_LIBRARY = "staff_other_library"
    PARTNER = "partner"  # the partner (ILL supplying) account of the same library
    ADMIN = "admin"


ALL = frozenset(Who)


@dataclass(frozen=True)
class Home:
    """The library, desk and readers a scenario is about."""

    library: str
    desk: str
    other_branch: str | None  # None: a one-branch library (no other-branch caller)
    patron: str
    other_patron: str
    other_library: str

    def token(self, who: Who) -> str | None:
        match who:
            case Who.ANONYMOUS:
                return None
            case Who.PATRON_SELF:
                return token_for("patron", card_number=self.patron)
            case Who.PATRON_OTHER:
                return token_for("patron", card_number=self.other_patron)
            case Who.STAFF_OWN:
                return token_for("staff", library=self.library)
            case Who.STAFF_DESK:
                return token_for("staff", library=self.library, branch=self.desk)
            case Who.STAFF_OTHER_BRANCH:
                assert self.other_branch is not None
                return token_for("staff", library=self.library, branch=self.other_branch)
            case Who.STAFF_OTHER_LIBRARY:
                return token_for("staff", library=self.other_library)
            case Who.PARTNER:
                return token_for("partner", library=self.library)
            case Who.ADMIN:
                return token_for("admin")
        raise AssertionError(who)

    def callers(self) -> list[Who]:
        return [w for w in Who if w is not Who.STAFF_OTHER_BRANCH or self.other_branch]


UOC = Home("UOC", "UOC-HER", "UOC-RET", "UOC-UNDERG-003", "UOC-FACULT-001", "AEG")
UOC_PG = Home("UOC", "UOC-HER", "UOC-RET", "UOC-POSTGR-006", "UOC-FACULT-001", "CUT")
AEG = Home("AEG", "AEG-MYT", "AEG-CHI", "AEG-FACULT-001", "AEG-POSTGR-002", "UOC")
CUT_SUPPLYING = Home("CUT", "CUT", None, "UOC-POSTGR-006", "UOC-FACULT-001", "UOC")
"""CUT as the supplier of a UOC reader's interlibrary loan (the requesting side is UOC)."""


class Env:
    """One test's own copy of the demo consortium, its HTTP client, and store access."""

    def __init__(self, http: AsyncClient, settings: Settings) -> None:
        self.http = http
        self.settings = settings
        self.desk = Desk(http, settings)
        self.admin = token_for("admin")

    async def call(
        self, query: str, token: str | None, now: str = MONDAY, **variables: Any
    ) -> dict[str, Any]:
        return await gql(self.http, query, variables, token=token, now=now)

    async def ok(self, query: str, token: str | None = None, now: str = MONDAY, **v: Any) -> Any:
        """Data of a call that must succeed (as admin unless told)."""
        body = await self.call(query, token or self.admin, now, **v)
        assert "errors" not in body, body
        return body["data"]

    async def store(self, statement: Any) -> list[Any]:
        engine = make_engine(self.settings.database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                return list((await session.execute(statement)).all())
        finally:
            await engine.dispose()

    async def add_fee(self, card: str, amount: str = "5.00") -> str:
        """An open fee owed by ``card`` to their library (as a desk would have charged it)."""
        engine = make_engine(self.settings.database_url)
        try:
            async with make_sessionmaker(engine).begin() as session:
                patron = (
                    await session.scalars(select(Patron).where(Patron.card_number == card))
                ).one()
                fee = Fee(
                    patron_id=patron.id,
                    library_id=patron.library_id,
                    kind="overdue",
                    amount=Decimal(amount),
                    paid=Decimal("0.00"),
                    currency="EUR",
                    status="OPEN",
                    rule=None,
                    note="security suite",
                    assessed_at=_utc(MONDAY),
                )
                session.add(fee)
                await session.flush()
                return relay.to_base64("Fee", fee.id)
        finally:
            await engine.dispose()

    async def counts(self) -> dict[str, int]:
        """Row counts of the tables a refused change must not touch."""
        from kallimachos.db.models import Hold, IllRequest, Loan

        result = {}
        for model in (Event, Fee, Hold, Loan, Patron, IllRequest):
            rows = await self.store(select(func.count()).select_from(model))
            result[model.__tablename__] = int(rows[0][0])
        return result

    async def book_held_only_by(self, *libraries: str) -> str:
        rows = await self.store(
            select(Item.work_id, Library.code)
            .join(Library, Library.id == Item.library_id)
            .join(Work, Work.id == Item.work_id)
            .where(
                Work.material_type == "book",
                Item.status == "AVAILABLE",
                Item.collection == "general",
                Item.not_for_loan.is_(False),
            )
        )
        holders: dict[int, set[str]] = {}
        for work_id, code in rows:
            holders.setdefault(work_id, set()).add(code)
        for work_id in sorted(holders):
            if holders[work_id] == set(libraries):
                return relay.to_base64("Work", work_id)
        raise AssertionError(f"no demo book held only by {libraries}")


def _utc(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text)


@asynccontextmanager
async def fresh_env(template: Settings, directory: Path) -> AsyncIterator[Env]:
    settings = copy_template(template, directory)
    async with client_for(settings) as http:
        yield Env(http, settings)
