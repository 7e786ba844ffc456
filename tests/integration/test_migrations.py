"""The same Alembic migrations build the same schema on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError, StatementError

from kallimachos.db import migrate
from kallimachos.db.engine import make_engine, make_sessionmaker
from kallimachos.db.models import Base, Branch, Fee, Library

TABLES = {
    "libraries",
    "branches",
    "patrons",
    "works",
    "work_keys",
    "bib_records",
    "items",
    "loans",
    "holds",
    "fees",
    "ill_requests",
    "ill_supplier_attempts",
    "events",
    "revoked_tokens",
    "idempotency_keys",
}


def _tables(url: str) -> set[str]:
    async def run() -> set[str]:
        engine = make_engine(url)
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        await engine.dispose()
        return names

    return asyncio.run(run())


def _roundtrip_checks(url: str) -> None:
    """Decimal money comes back exact, naive datetimes are refused, one open loan per copy."""
    from datetime import UTC, datetime

    from kallimachos.db.models import Item, Loan, Patron, Work

    async def run() -> None:
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
        async with sessions.begin() as s:
            lib = Library(code="X", name="X", country="GR", role="member", currency="EUR")
            s.add(lib)
            await s.flush()
            br = Branch(code="X", name="X", library_id=lib.id)
            s.add(br)
            await s.flush()
            patron = Patron(
                card_number="C1",
                name="P",
                library_id=lib.id,
                home_branch_id=br.id,
                category="undergraduate",
                created_at=now,
            )
            work = Work(title="T", material_type="book", updated_at=now)
            s.add_all([patron, work])
            await s.flush()
            item = Item(
                barcode="B1",
                library_id=lib.id,
                home_branch_id=br.id,
                work_id=work.id,
                material_type="book",
                created_at=now,
            )
            s.add(item)
            await s.flush()
            s.add(
                Fee(
                    patron_id=patron.id,
                    library_id=lib.id,
                    kind="overdue",
                    amount=Decimal("0.54") * 3,
                    assessed_at=now,
                )
            )
            s.add(
                Loan(
                    item_id=item.id,
                    patron_id=patron.id,
                    library_id=lib.id,
                    checkout_branch_id=br.id,
                    checked_out_at=now,
                    due_date=now.date(),
                )
            )
        async with sessions() as s:
            fee = (await s.scalars(select(Fee))).one()
            assert fee.amount == Decimal("1.62") and isinstance(fee.amount, Decimal)
            loan = (await s.scalars(select(Loan))).one()
            assert loan.checked_out_at == now and loan.checked_out_at.tzinfo is not None
        with pytest.raises(IntegrityError):
            async with sessions.begin() as s:
                s.add(
                    Loan(
                        item_id=item.id,
                        patron_id=patron.id,
                        library_id=lib.id,
                        checkout_branch_id=br.id,
                        checked_out_at=now,
                        due_date=now.date(),
                    )
                )
        with pytest.raises(StatementError, match="naive datetime"):
            async with sessions.begin() as s:
                s.add(Work(title="naive", material_type="book", updated_at=datetime(2026, 1, 1)))  # noqa: DTZ001 - the point of the test
                await s.flush()
        await engine.dispose()

    asyncio.run(run())


def test_migrations_build_the_schema_on_sqlite(sqlite_url: str) -> None:
    migrate.upgrade(sqlite_url)
    assert _tables(sqlite_url) >= TABLES
    _roundtrip_checks(sqlite_url)
    migrate.downgrade(sqlite_url)
    assert _tables(sqlite_url) <= {"alembic_version"}
    migrate.upgrade(sqlite_url)
    assert _tables(sqlite_url) >= TABLES


@pytest.mark.integration
@pytest.mark.postgres
def test_migrations_build_the_schema_on_postgresql(postgres_url: str) -> None:
    migrate.upgrade(postgres_url)
    assert _tables(postgres_url) >= TABLES
    _roundtrip_checks(postgres_url)
    migrate.downgrade(postgres_url)
    assert _tables(postgres_url) <= {"alembic_version"}
    migrate.upgrade(postgres_url)
    assert _tables(postgres_url) >= TABLES


def test_models_and_migrations_agree(sqlite_url: str) -> None:
    """A model change without a migration fails here (alembic autogenerate finds a diff)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    migrate.upgrade(sqlite_url)

    async def diff() -> list[object]:
        engine = make_engine(sqlite_url)
        async with engine.connect() as conn:
            result = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
            )
        await engine.dispose()
        return list(result)

    assert asyncio.run(diff()) == []
