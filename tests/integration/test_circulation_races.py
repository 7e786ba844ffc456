"""Two desks lending the same copy at the same moment on PostgreSQL: exactly one wins.

The requests really run concurrently (separate sessions and connections from the pool);
row locks in a fixed order plus the one-open-loan-per-copy index decide the winner.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from kallimachos.api import cli
from kallimachos.api.settings import Settings
from kallimachos.db.engine import make_engine, make_sessionmaker
from kallimachos.db.models import Loan
from tests.conftest import TEST_SECRET
from tests.e2e.circulation_support import Desk, client_for

pytestmark = [pytest.mark.integration, pytest.mark.postgres]
MONDAY = "2026-11-23T10:00:00+02:00"


@pytest.fixture
async def desk(postgres_url: str) -> AsyncIterator[Desk]:
    settings = Settings(database_url=postgres_url, secret=TEST_SECRET, clock_override=True)
    await asyncio.to_thread(cli.load_demo, settings)
    async with client_for(settings) as http:
        yield Desk(http, settings)


async def _open_loans(settings: Settings, item_id: int) -> int:
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(Loan)
                .where(Loan.item_id == item_id, Loan.returned_at.is_(None))
            )
    finally:
        await engine.dispose()
    return int(count or 0)


async def test_two_patrons_racing_for_the_last_copy_exactly_one_wins(desk: Desk) -> None:
    copy = await desk.work_with_single_copy("UOC", "UOC-HER")
    results = await asyncio.gather(
        *(
            desk.check_out(copy.barcode, card, "UOC-HER", MONDAY)
            for card in ("UOC-UNDERG-003", "UOC-FACULT-001", "UOC-POSTGR-006", "UOC-ADMINS-002")
        )
    )
    winners = [r for r in results if r["loan"] is not None]
    losers = [r for r in results if r["loan"] is None]
    assert len(winners) == 1
    assert all(r["userErrors"][0]["code"] == "ITEM_NOT_AVAILABLE" for r in losers)
    assert await _open_loans(desk.settings, copy.id) == 1


async def test_a_double_submitted_checkout_lends_the_copy_once(desk: Desk) -> None:
    copy = (await desk.copies("UOC", "UOC-HER"))[0]
    results = await asyncio.gather(
        *(desk.check_out(copy.barcode, "UOC-UNDERG-003", "UOC-HER", MONDAY) for _ in range(5))
    )
    assert sum(1 for r in results if r["loan"] is not None) == 1
    assert await _open_loans(desk.settings, copy.id) == 1


async def test_loan_limit_holds_under_concurrent_checkouts(desk: Desk) -> None:
    """Eight different copies at once for a UOC undergraduate (limit 7): at most 7 succeed."""
    copies = await desk.copies("UOC", "UOC-HER", limit=9)
    results = await asyncio.gather(
        *(desk.check_out(c.barcode, "UOC-UNDERG-003", "UOC-HER", MONDAY) for c in copies)
    )
    granted = [r for r in results if r["loan"] is not None]
    assert len(granted) == 7
    refused = {e["code"] for r in results if r["loan"] is None for e in r["userErrors"]}
    assert refused == {"LOAN_LIMIT_REACHED"}


async def test_concurrent_request_item_with_one_idempotency_key_creates_one_request(
    desk: Desk,
) -> None:
    from strawberry import relay

    from kallimachos.db.models import IllRequest
    from tests.conftest import token_for
    from tests.e2e.test_ill import REQUEST, book_held_only_by

    work = relay.to_base64("Work", await book_held_only_by(desk.settings, "CUT"))
    patron = token_for("patron", card_number="UOC-POSTGR-006")
    results = await asyncio.gather(
        *(
            desk.call(
                REQUEST,
                MONDAY,
                patron,
                work=work,
                card="UOC-POSTGR-006",
                pickup="UOC-HER",
                key="double-click-7",
            )
            for _ in range(6)
        )
    )
    ids = {r["requestItem"]["illRequest"]["id"] for r in results}
    assert len(ids) == 1
    engine = make_engine(desk.settings.database_url)
    async with make_sessionmaker(engine)() as session:
        count = await session.scalar(select(func.count()).select_from(IllRequest))
    await engine.dispose()
    assert count == 1
