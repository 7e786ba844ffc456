"""The command line per API.md: clear errors on bad input, nothing half-written."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kallimachos.api import cli
from kallimachos.api.settings import Settings
from kallimachos.api.tokens import read_token
from kallimachos.db.engine import make_engine, make_sessionmaker
from kallimachos.db.models import Event, Patron
from kallimachos.domain.actors import ActorKind

HEADER = "card_number,name,email,library,home_branch,category,expires_on,fee_paid_until\n"


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("KALLIMACHOS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("KALLIMACHOS_SECRET", settings.secret or "")
    return settings


def _count(settings: Settings, model: type[object]) -> int:
    async def run() -> int:
        engine = make_engine(settings.database_url)
        async with make_sessionmaker(engine)() as s:
            value = await s.scalar(select(func.count()).select_from(model))
        await engine.dispose()
        return int(value or 0)

    return asyncio.run(run())


def test_init_is_repeatable(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["init"]) == 0
    first = capsys.readouterr().out
    assert "new branches)" in first and "(0 new libraries" not in first
    assert cli.main(["init"]) == 0
    assert "(0 new libraries, 0 new branches)" in capsys.readouterr().out


def test_import_patrons_creates_then_updates(
    env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["init"]) == 0
    csv_file = tmp_path / "p.csv"
    csv_file.write_text(
        HEADER + "C-1,Άννα Παππά,anna@example.org,UOC,UOC-RET,postgraduate,2027-06-30,\n"
    )
    assert cli.main(["import", "patrons", str(csv_file)]) == 0
    assert "1 patrons created, 0 updated" in capsys.readouterr().out
    csv_file.write_text(HEADER + "C-1,Άννα Παππά,,UOC,UOC-HER,faculty,2028-06-30,\n")
    assert cli.main(["import", "patrons", str(csv_file)]) == 0
    assert "0 patrons created, 1 updated" in capsys.readouterr().out
    assert _count(env, Patron) == 1


def test_bad_csv_rows_are_reported_with_line_numbers_and_nothing_is_imported(
    env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["init"]) == 0
    events_before = _count(env, Event)
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text(
        HEADER
        + "OK-1,Good Row,,TUC,TUC,faculty,2027-01-01,\n"
        + "BAD-2,Wrong Library,,XYZ,TUC,faculty,2027-01-01,\n"
        + "BAD-3,Wrong Category,,AEG,AEG-CHI,wizard,2027-01-01,\n"
        + "BAD-4,Wrong Branch,,UOC,AEG-CHI,faculty,2027-01-01,\n"
        + "BAD-5,Bad Date,,CUT,CUT,alumni,31/12/2027,\n"
        + "OK-1,Duplicate Card,,TUC,TUC,faculty,,\n"
    )
    assert cli.main(["import", "patrons", str(csv_file)]) == 2
    err = capsys.readouterr().err
    assert "line 3: unknown library 'XYZ'" in err
    assert "line 4: category 'wizard' is not a AEG patron category" in err
    assert "line 5: home_branch 'AEG-CHI' is not a branch of UOC" in err
    assert "line 6: expires_on '31/12/2027' is not an ISO date" in err
    assert "line 7: card_number 'OK-1' repeats line 2" in err
    assert _count(env, Patron) == 0
    assert _count(env, Event) == events_before


def test_wrong_header_is_refused(
    env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["init"]) == 0
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text("card,name\nX,Y\n")
    assert cli.main(["import", "patrons", str(csv_file)]) == 2
    assert "line 1: header must be card_number,name,email" in capsys.readouterr().err


def test_unreadable_file_is_one_clear_line(
    env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["import", "patrons", "/no/such/file.csv"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("kallimachos: error: cannot read /no/such/file.csv")


def test_token_issue_prints_a_token_for_known_subjects(
    env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["init"]) == 0
    assert cli.main(["import", "patrons", str(cli.DEMO_PATRONS)]) == 0
    capsys.readouterr()
    assert (
        cli.main(["token", "issue", "--role", "staff", "--library", "AEG", "--branch", "AEG-SAM"])
        == 0
    )
    token = capsys.readouterr().out.strip()
    from datetime import UTC, datetime

    actor = read_token(token, env.secret or "", now=datetime.now(UTC))
    assert (actor.kind, actor.library, actor.branch) == (ActorKind.STAFF, "AEG", "AEG-SAM")
    assert cli.main(["token", "issue", "--role", "patron", "--card", "TUC-FACULT-001"]) == 0
    assert cli.main(["token", "issue", "--role", "admin"]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--role", "staff", "--library", "NOPE"], "unknown member library 'NOPE'"),
        (["--role", "partner", "--library", "BL"], "unknown member library 'BL'"),
        (
            ["--role", "staff", "--library", "UOC", "--branch", "AEG-SAM"],
            "'AEG-SAM' is not a branch of UOC",
        ),
        (["--role", "patron", "--card", "NO-SUCH-CARD"], "unknown card number 'NO-SUCH-CARD'"),
        (["--role", "patron"], "--role patron needs --card"),
        (["--role", "staff"], "--role staff needs --library"),
        (["--role", "admin", "--library", "UOC"], "--library does not go with --role admin"),
    ],
)
def test_token_issue_refuses_bad_subjects(
    env: Settings, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["init"]) == 0
    capsys.readouterr()
    assert cli.main(["token", "issue", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def test_holds_expire_runs_on_an_initialised_database(
    env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["init"]) == 0
    capsys.readouterr()
    assert cli.main(["holds", "expire"]) == 0
    assert capsys.readouterr().out.strip() == "0 holds expired"
