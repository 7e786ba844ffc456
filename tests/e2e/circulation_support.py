"""Shared helpers for the circulation scenarios: a demo template database and GraphQL calls."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from httpx import ASGITransport, AsyncClient
from sqlalchemy import select

from kallimachos.api.app import create_app
from kallimachos.api.settings import Settings
from kallimachos.db.engine import make_engine, make_sessionmaker
from kallimachos.db.models import Branch, Item, Library
from tests.conftest import TEST_SECRET, gql, token_for

CHECK_OUT = """mutation($barcode: String!, $card: String!, $branch: String!) {
  checkOut(input: {itemBarcode: $barcode, patronCardNumber: $card, branch: $branch}) {
    loan { id dueDate renewals recalled item { barcode status } }
    userErrors { code message rule field } } }"""
CHECK_IN = """mutation($barcode: String!, $branch: String!, $damaged: Boolean) {
  checkIn(input: {itemBarcode: $barcode, branch: $branch, damaged: $damaged}) {
    loan { id returnedAt } item { barcode status branch { code } }
    fees { id kind amount { amount currency } rule status }
    hold { id status expiresAt } userErrors { code message rule } } }"""
RENEW = """mutation($id: ID!) { renewLoan(input: {loanId: $id}) {
  loan { id dueDate renewals } userErrors { code message rule } } }"""
PLACE_HOLD = """mutation($work: ID, $item: ID, $card: String!, $pickup: String!) {
  placeHold(input: {workId: $work, itemId: $item, patronCardNumber: $card, pickupBranch: $pickup}) {
    hold { id status } recalledLoan { id dueDate recalled } userErrors { code message rule } } }"""
CANCEL_HOLD = """mutation($id: ID!) { cancelHold(input: {holdId: $id}) {
  hold { id status } userErrors { code message rule } } }"""
PATRON = """query($card: String!) { patron(cardNumber: $card) {
  loans { id dueDate item { barcode } } holds { id status position expiresAt pickupBranch { code } }
  fees { id kind amount { amount } outstanding { amount } status rule } balance { amount currency }
  blocks { code rule message } } }"""


def build_template(directory: Path) -> Settings:
    """The demo consortium in an SQLite file, loaded once through the real import path."""
    from kallimachos.api import cli

    url = f"sqlite+aiosqlite:///{directory / 'template.sqlite3'}"
    settings = Settings(database_url=url, secret=TEST_SECRET, clock_override=True)
    cli.load_demo(settings)
    return settings


def copy_template(template: Settings, directory: Path) -> Settings:
    source = template.sqlite_path()
    assert source is not None
    target = directory / "circulation.sqlite3"
    shutil.copy(source, target)
    return template.model_copy(update={"database_url": f"sqlite+aiosqlite:///{target}"})


@asynccontextmanager
async def client_for(settings: Settings) -> AsyncIterator[AsyncClient]:
    app = create_app(settings, drain_outbox=False)
    async with app.router.lifespan_context(app):
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as http:
            yield http


class Desk:
    """GraphQL calls as a library's desk and its patrons would make them."""

    def __init__(self, http: AsyncClient, settings: Settings) -> None:
        self.http = http
        self.settings = settings
        self.admin = token_for("admin")

    async def call(self, query: str, now: str, token: str | None = None, **variables: Any) -> Any:
        body = await gql(self.http, query, variables, token=token or self.admin, now=now)
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def check_out(
        self, barcode: str, card: str, branch: str, now: str, token: str | None = None
    ) -> Any:
        data = await self.call(CHECK_OUT, now, token, barcode=barcode, card=card, branch=branch)
        return data["checkOut"]

    async def check_in(self, barcode: str, branch: str, now: str, damaged: bool = False) -> Any:
        data = await self.call(CHECK_IN, now, None, barcode=barcode, branch=branch, damaged=damaged)
        return data["checkIn"]

    async def renew(self, loan_id: str, now: str, token: str | None = None) -> Any:
        return (await self.call(RENEW, now, token, id=loan_id))["renewLoan"]

    async def place_hold(
        self,
        card: str,
        pickup: str,
        now: str,
        *,
        work: str | None = None,
        item: str | None = None,
        token: str | None = None,
    ) -> Any:
        data = await self.call(
            PLACE_HOLD, now, token, work=work, item=item, card=card, pickup=pickup
        )
        return data["placeHold"]

    async def patron(self, card: str, now: str) -> Any:
        return (await self.call(PATRON, now, None, card=card))["patron"]

    async def copies(
        self,
        library: str,
        branch: str | None = None,
        *,
        status: str = "AVAILABLE",
        collection: str = "general",
        limit: int = 20,
    ) -> list[Item]:
        """Loanable-looking copies of a library from the store (for choosing test items)."""

        async def run() -> list[Item]:
            engine = make_engine(self.settings.database_url)
            try:
                async with make_sessionmaker(engine)() as session:
                    query = (
                        select(Item)
                        .join(Library, Library.id == Item.library_id)
                        .where(
                            Library.code == library,
                            Item.status == status,
                            Item.collection == collection,
                            Item.damaged.is_(False),
                            Item.not_for_loan.is_(False),
                            Item.high_demand.is_(False),
                            Item.unprocessed.is_(False),
                        )
                        .order_by(Item.id)
                    )
                    if branch is not None:
                        query = query.join(Branch, Branch.id == Item.home_branch_id).where(
                            Branch.code == branch
                        )
                    return list(await session.scalars(query.limit(limit)))
            finally:
                await engine.dispose()

        return await run()

    async def work_with_single_copy(self, library: str, branch: str) -> Item:
        """A copy that is the only one its library holds of its work."""

        async def run() -> Item:
            from sqlalchemy import func

            engine = make_engine(self.settings.database_url)
            try:
                async with make_sessionmaker(engine)() as session:
                    lib = (
                        await session.scalars(select(Library).where(Library.code == library))
                    ).one()
                    singles = (
                        select(Item.work_id)
                        .where(Item.library_id == lib.id)
                        .group_by(Item.work_id)
                        .having(func.count() == 1)
                    )
                    query = (
                        select(Item)
                        .join(Branch, Branch.id == Item.home_branch_id)
                        .where(
                            Item.work_id.in_(singles),
                            Branch.code == branch,
                            Item.collection == "general",
                            Item.status == "AVAILABLE",
                            Item.not_for_loan.is_(False),
                        )
                        .order_by(Item.id)
                    )
                    return (await session.scalars(query.limit(1))).one()
            finally:
                await engine.dispose()

        return await run()


def run(coro: Any) -> Any:
    return asyncio.run(coro)
