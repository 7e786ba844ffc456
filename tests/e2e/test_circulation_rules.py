"""One GraphQL scenario per remaining loan rule (UOC-5-*, AEG-1/2/6/7/9, TUC/CUT local loans).

Expected periods and limits come from the policy files; AEG-9 runs the service on a copy of
the policies with an inventory closure announced, proving the rule is data.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import update

from kallimachos.api.settings import Settings
from kallimachos.db.engine import make_engine, make_sessionmaker
from kallimachos.db.models import Item, Patron
from kallimachos.policies import default_policies_dir, load_policies
from tests.e2e.circulation_support import Desk, build_template, client_for, copy_template

POLICIES = load_policies()
UOC, AEG = POLICIES.member("UOC"), POLICIES.member("AEG")
MONDAY = "2026-11-23T10:00:00+02:00"


def at(day: date) -> str:
    return f"{day.isoformat()}T10:00:00+02:00"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_template(tmp_path_factory.mktemp("rules-template"))


async def _store(settings: Settings, statement) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(settings.database_url)
    async with make_sessionmaker(engine).begin() as session:
        await session.execute(statement)
    await engine.dispose()


@pytest.fixture
async def rules_desk(template: Settings, tmp_path: Path) -> AsyncIterator[Desk]:
    settings = copy_template(template, tmp_path)
    async with client_for(settings) as http:
        yield Desk(http, settings)


async def test_uoc_5_fac_loans_fall_due_at_the_end_of_the_academic_period(rules_desk: Desk) -> None:
    copy = (await rules_desk.copies("UOC", "UOC-HER"))[0]
    loan = (await rules_desk.check_out(copy.barcode, "UOC-FACULT-001", "UOC-HER", MONDAY))["loan"]
    period = UOC.calendar.period_containing(date(2026, 11, 23))
    assert period is not None
    due = date.fromisoformat(loan["dueDate"])
    assert period.end <= due <= period.end + timedelta(days=3)  # moved off a closed day only
    assert due.weekday() < 5


@pytest.mark.parametrize(
    ("card", "category", "rule"),
    [
        ("UOC-ADMINS-002", "admin_staff", "UOC-5-ADM"),
        ("UOC-POSTGR-006", "postgraduate", "UOC-5-PG"),
    ],
)
async def test_uoc_5_adm_and_uoc_5_pg_fixed_periods_and_no_renewals(
    rules_desk: Desk, card: str, category: str, rule: str
) -> None:
    branch = "UOC-RET" if card == "UOC-ADMINS-002" else "UOC-HER"
    copy = (await rules_desk.copies("UOC", "UOC-HER"))[0]
    loan = (await rules_desk.check_out(copy.barcode, card, branch, MONDAY))["loan"]
    days = UOC.category(category).loan_days
    assert days is not None
    expected = date(2026, 11, 23) + timedelta(days=days)
    due = date.fromisoformat(loan["dueDate"])
    assert expected <= due <= expected + timedelta(days=3)
    refused = await rules_desk.renew(loan["id"], MONDAY)
    assert [(e["code"], e["rule"]) for e in refused["userErrors"]] == [
        ("RENEWAL_LIMIT_REACHED", rule)
    ]


async def test_uoc_5_ext_external_users_borrow_only_while_the_annual_fee_is_paid(
    rules_desk: Desk,
) -> None:
    first, second = (await rules_desk.copies("UOC", "UOC-HER"))[:2]
    paid = await rules_desk.check_out(first.barcode, "UOC-EXTERN-007", "UOC-RET", MONDAY)
    assert paid["userErrors"] == []
    assert paid["loan"]["dueDate"] == (date(2026, 11, 23) + timedelta(days=15)).isoformat()
    await rules_desk.check_in(first.barcode, "UOC-HER", MONDAY)
    after_fee = at(date(2027, 9, 6))  # fee paid until 2027-08-31
    refused = await rules_desk.check_out(second.barcode, "UOC-EXTERN-007", "UOC-RET", after_fee)
    assert [(e["code"], e["rule"]) for e in refused["userErrors"]] == [
        ("ANNUAL_FEE_UNPAID", "UOC-5-EXT")
    ]


async def test_aeg_1_external_users_need_the_branch_heads_approval_and_a_deposited_id(
    rules_desk: Desk,
) -> None:
    copy = (await rules_desk.copies("AEG", "AEG-MYT"))[0]
    refused = await rules_desk.check_out(copy.barcode, "AEG-EXTERN-008", "AEG-MYT", MONDAY)
    assert {(e["code"], e["rule"]) for e in refused["userErrors"]} == {
        ("REQUIREMENT_NOT_MET", "AEG-1")
    }
    await _store(
        rules_desk.settings,
        update(Patron)
        .where(Patron.card_number == "AEG-EXTERN-008")
        .values(requirements_met=["branch_head_approval", "police_id_deposited"]),
    )
    lent = await rules_desk.check_out(copy.barcode, "AEG-EXTERN-008", "AEG-MYT", MONDAY)
    assert lent["userErrors"] == []
    assert lent["loan"]["dueDate"] == "2026-11-30"  # at most one week


@pytest.mark.parametrize(
    ("change", "what"),
    [
        ({"collection": "reference"}, "reference book"),
        ({"collection": "periodicals"}, "journal issue"),
        ({"collection": "grey_literature"}, "thesis"),
        ({"high_demand": True}, "high-demand book"),
        ({"damaged": True}, "awaiting conservation"),
        ({"unprocessed": True}, "not yet processed"),
    ],
)
async def test_aeg_2_material_that_is_not_lent(rules_desk: Desk, change: dict, what: str) -> None:  # type: ignore[type-arg]
    copy = (await rules_desk.copies("AEG", "AEG-MYT"))[0]
    await _store(rules_desk.settings, update(Item).where(Item.id == copy.id).values(**change))
    refused = await rules_desk.check_out(copy.barcode, "AEG-FACULT-001", "AEG-MYT", MONDAY)
    assert [(e["code"], e["rule"]) for e in refused["userErrors"]] == [("NOT_LOANABLE", "AEG-2")], (
        what
    )


async def test_aeg_6_special_collections_have_their_own_loan_period(rules_desk: Desk) -> None:
    copy = (await rules_desk.copies("AEG", "AEG-MYT"))[0]
    await _store(
        rules_desk.settings, update(Item).where(Item.id == copy.id).values(collection="special")
    )
    loan = (await rules_desk.check_out(copy.barcode, "AEG-UNDERG-003", "AEG-SAM", MONDAY))["loan"]
    days = AEG.collections.special.loan_days
    assert days is not None
    expected = date(2026, 11, 23) + timedelta(days=days)
    assert expected <= date.fromisoformat(loan["dueDate"]) <= expected + timedelta(days=3)


async def test_aeg_7_a_high_demand_book_returned_late_is_fined_double(rules_desk: Desk) -> None:
    copy = (await rules_desk.copies("AEG", "AEG-MYT"))[0]
    loan = (await rules_desk.check_out(copy.barcode, "AEG-POSTGR-002", "AEG-CHI", MONDAY))["loan"]
    await _store(
        rules_desk.settings, update(Item).where(Item.id == copy.id).values(high_demand=True)
    )
    due = date.fromisoformat(loan["dueDate"])
    back = await rules_desk.check_in(copy.barcode, "AEG-MYT", at(due + timedelta(days=3)))
    category = AEG.category("postgraduate")
    days_late = 3  # AEG counts calendar days (policy) and postgraduates have no grace
    assert AEG.fines.overdue_days_counted == "calendar_days"
    assert category.grace_days == 0
    fee = back["fees"][0]
    assert Decimal(fee["amount"]["amount"]) == category.fine_per_day * 2 * days_late
    assert fee["rule"] == "AEG-7"


async def test_aeg_9_no_loan_falls_due_after_an_announced_inventory_closure(
    template: Settings, tmp_path: Path
) -> None:
    policies_dir = tmp_path / "policies"
    shutil.copytree(default_policies_dir(), policies_dir)
    aeg = policies_dir / "AEG.toml"
    aeg.write_text(
        aeg.read_text(encoding="utf-8").replace(
            "closures = []",
            "closures = [{ announced_on = 2026-08-20, start = 2026-11-26, end = 2026-12-04 }]",
        ),
        encoding="utf-8",
    )
    settings = copy_template(template, tmp_path).model_copy(update={"policies_dir": policies_dir})
    async with client_for(settings) as http:
        desk = Desk(http, settings)
        copy = (await desk.copies("AEG", "AEG-MYT"))[0]
        loan = (await desk.check_out(copy.barcode, "AEG-UNDERG-003", "AEG-SAM", MONDAY))["loan"]
    assert loan["dueDate"] == "2026-11-25"  # the last open day before the closure


@pytest.mark.parametrize(
    ("library", "branch", "card", "category"),
    [
        ("TUC", "TUC", "TUC-UNDERG-006", "undergraduate"),
        ("CUT", "CUT", "CUT-UNDERG-003", "undergraduate"),
    ],
)
async def test_tuc_and_cut_local_loans_follow_their_policy_files(
    rules_desk: Desk, library: str, branch: str, card: str, category: str
) -> None:
    copy = (await rules_desk.copies(library, branch))[0]
    loan = (await rules_desk.check_out(copy.barcode, card, branch, MONDAY))["loan"]
    days = POLICIES.member(library).category(category).loan_days
    assert days is not None
    expected = date(2026, 11, 23) + timedelta(days=days)
    assert expected <= date.fromisoformat(loan["dueDate"]) <= expected + timedelta(days=4)
