"""The ``kallimachos`` command line (see API.md).

Every command exits 0 on success and 2 with one clear line per problem on stderr for bad
input, leaving the database as it was.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar

import jwt
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kallimachos.api.settings import Settings
from kallimachos.api.tokens import TokenError, issue_token, resolve_secret
from kallimachos.db import migrate
from kallimachos.db.engine import make_engine, make_sessionmaker
from kallimachos.db.models import Branch, Library, Patron
from kallimachos.domain.actors import Actor, ActorKind
from kallimachos.domain.clock import SystemClock
from kallimachos.indexer.outbox import drain_all
from kallimachos.indexer.reader import FileFormat, UnreadableFile
from kallimachos.policies import PolicyFileError, PolicySet, load_policies
from kallimachos.search.backend import SearchBackend, SearchUnavailable
from kallimachos.search.factory import make_search
from kallimachos.services import ill_sweep, marc_import, patron_import
from kallimachos.services.hold_expiry import expire_all
from kallimachos.services.library_sync import sync_libraries
from kallimachos.services.loanable import item_loanable
from kallimachos.services.reindex import rebuild_index
from kallimachos.services.token_revocation import InvalidRevocation, revoke_token

EXIT_BAD_INPUT = 2
DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"
DEMO_PATRONS = DEMO_DIR / "patrons.csv"
DEMO_RECORDS = (  # file, library, default branch (see kallimachos/demo/PROVENANCE.md)
    ("UOC.marcxml", "UOC", "UOC-HER"),
    ("AEG.marcxml", "AEG", "AEG-MYT"),
    ("TUC.mrc", "TUC", "TUC"),
    ("CUT.mrc", "CUT", "CUT"),
    ("greek-agora.marcxml", "UOC", "UOC-RET"),
    ("greek-agora.marcxml", "CUT", "CUT"),
)
CLI_ACTOR = Actor(ActorKind.ADMIN, token_id="cli")

T = TypeVar("T")


class CliError(Exception):
    """Bad input: each line of ``problems`` is printed to stderr."""

    def __init__(self, *problems: str) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _run(factory: Callable[[], Awaitable[T]]) -> T:
    async def runner() -> T:
        return await factory()

    return asyncio.run(runner())


# --- init -----------------------------------------------------------------------------


def load_policy_set(settings: Settings) -> PolicySet:
    try:
        return load_policies(settings.policies_dir)
    except PolicyFileError as exc:
        raise CliError(str(exc)) from exc


def cmd_init(settings: Settings) -> None:
    policies = load_policy_set(settings)
    try:
        migrate.upgrade(settings.database_url)
    except (SQLAlchemyError, OSError) as exc:
        raise CliError(f"cannot migrate {settings.database_url}: {exc}") from exc
    summary = _run(lambda: _sync(settings, policies))
    print(
        f"database ready; {len(policies.libraries)} libraries from policies "
        f"({summary.libraries_created} new libraries, {summary.branches_created} new branches)"
    )


async def _sync(settings: Settings, policies: PolicySet):  # type: ignore[no-untyped-def]
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            return await sync_libraries(
                session, policies.libraries, actor=CLI_ACTOR, now=SystemClock().now()
            )
    finally:
        await engine.dispose()


# --- import patrons -------------------------------------------------------------------


def cmd_import_patrons(settings: Settings, path: Path) -> None:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from exc
    policies = load_policy_set(settings)
    categories = {lib.code: frozenset(lib.categories) for lib in policies.members}
    branches = {lib.code: frozenset(b.code for b in lib.branches) for lib in policies.members}
    try:
        rows = patron_import.validate_rows(patron_import.parse_csv(text), categories, branches)
    except patron_import.PatronImportError as exc:
        raise CliError(*(f"{path}: {p}" for p in exc.problems)) from exc
    summary = _run(lambda: _save_patrons(settings, rows))
    print(f"{path}: {summary.created} patrons created, {summary.updated} updated")


async def _save_patrons(
    settings: Settings, rows: list[patron_import.PatronRow]
) -> patron_import.ImportSummary:
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            known = set(await session.scalars(select(Library.code)))
            missing = sorted({r.library for r in rows} - known)
            if missing:
                raise CliError(f"libraries not initialised: {', '.join(missing)}; run init")
            return await patron_import.save_patrons(
                session, rows, actor=CLI_ACTOR, now=SystemClock().now()
            )
    except SQLAlchemyError as exc:
        raise CliError(f"database error, nothing imported: {exc.__class__.__name__}") from exc
    finally:
        await engine.dispose()


# --- import marc / index rebuild -------------------------------------------------------

EXIT_RECORDS_SKIPPED = 3


def cmd_import_marc(
    settings: Settings, paths: list[Path], library: str, branch: str | None, fmt: FileFormat
) -> int:
    unreadable = [f"cannot read {p}" for p in paths if not p.is_file() or not os.access(p, os.R_OK)]
    if unreadable:
        raise CliError(*unreadable)
    policies = load_policy_set(settings)
    return _run(lambda: _import_marc(settings, policies, paths, library, branch, fmt))


async def _import_marc(
    settings: Settings,
    policies: PolicySet,
    paths: list[Path],
    library: str,
    branch: str | None,
    fmt: FileFormat,
) -> int:
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    search = make_search(settings)
    skipped = 0
    try:
        async with sessions() as session:
            try:
                await marc_import.resolve_target(session, library, branch)
            except marc_import.UnknownLibrary as exc:
                raise CliError(str(exc)) from exc
            except SQLAlchemyError as exc:
                raise CliError(f"database not ready ({exc.__class__.__name__}); run init") from exc
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed} records"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
            disable=not sys.stderr.isatty(),
        ) as progress:
            for path in paths:
                task = progress.add_task(path.name, total=None)
                try:
                    report = await marc_import.import_file(
                        sessions,
                        path,
                        library_code=library,
                        branch_code=branch,
                        fmt=fmt,
                        actor=CLI_ACTOR,
                        now=SystemClock().now(),
                        on_progress=partial(progress.advance, task),
                    )
                except UnreadableFile as exc:
                    raise CliError(f"{path}: {exc}") from exc
                for problem in report.problems:
                    print(f"kallimachos: skipped: {problem}", file=sys.stderr)
                skipped += len(report.problems)
                print(
                    f"{path}: {report.records_new} new, {report.records_updated} updated, "
                    f"{report.records_unchanged} unchanged, {len(report.problems)} skipped; "
                    f"{report.items_new} new items, {report.works_new} new works"
                )
        await _drain(sessions, search, policies)
    finally:
        await search.close()
        await engine.dispose()
    return EXIT_RECORDS_SKIPPED if skipped else 0


async def _drain(
    sessions: async_sessionmaker[AsyncSession], search: SearchBackend, policies: PolicySet
) -> None:
    try:
        await search.ensure_index()
        drained = await drain_all(
            sessions, search, item_loanable(policies), now=SystemClock().now()
        )
    except SearchUnavailable as exc:
        print(
            f"kallimachos: warning: search index not updated ({exc}); "
            "it catches up when the service runs or with `index rebuild`",
            file=sys.stderr,
        )
        return
    print(f"search index updated ({drained} changes)")


def cmd_index_rebuild(settings: Settings) -> None:
    policies = load_policy_set(settings)
    _run(lambda: _rebuild(settings, policies))


async def _rebuild(settings: Settings, policies: PolicySet) -> None:
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    search = make_search(settings)
    try:
        count = await rebuild_index(sessions, search, item_loanable(policies))
    except SearchUnavailable as exc:
        raise CliError(f"search engine unavailable: {exc}") from exc
    except SQLAlchemyError as exc:
        raise CliError(f"database not ready ({exc.__class__.__name__}); run init") from exc
    finally:
        await search.close()
        await engine.dispose()
    print(f"search index rebuilt: {count} works ({search.engine})")


def cmd_holds_expire(settings: Settings) -> None:
    policies = load_policy_set(settings)

    async def run() -> int:
        engine = make_engine(settings.database_url)
        try:
            return await expire_all(make_sessionmaker(engine), policies, now=SystemClock().now())
        except SQLAlchemyError as exc:
            raise CliError(f"database not ready ({exc.__class__.__name__}); run init") from exc
        finally:
            await engine.dispose()

    print(f"{_run(run)} holds expired")


def cmd_ill_sweep(settings: Settings) -> None:
    policies = load_policy_set(settings)

    async def run() -> dict[str, int]:
        engine = make_engine(settings.database_url)
        try:
            return await ill_sweep.sweep(
                make_sessionmaker(engine), policies, now=SystemClock().now()
            )
        except SQLAlchemyError as exc:
            raise CliError(f"database not ready ({exc.__class__.__name__}); run init") from exc
        finally:
            await engine.dispose()

    done = _run(run)
    overdue, uncollected = done["overdue"], done["returned_uncollected"]
    print(f"{overdue} ILL loans overdue, {uncollected} returned uncollected")


# --- token issue ----------------------------------------------------------------------


def cmd_token_issue(settings: Settings, args: argparse.Namespace) -> None:
    role = ActorKind(args.role)
    actor = Actor(kind=role, card_number=args.card, library=args.library, branch=args.branch)
    problems = _token_scope_problems(actor)
    if problems:
        raise CliError(*problems)
    _run(lambda: _check_token_subject(settings, actor))
    try:
        secret = resolve_secret(settings.secret, settings.secret_file())
    except TokenError as exc:
        raise CliError(str(exc)) from exc
    ttl = timedelta(hours=args.ttl_hours or settings.token_ttl_hours)
    if ttl <= timedelta(0):
        raise CliError("--ttl-hours must be positive")
    jti = uuid.uuid4().hex
    token = issue_token(
        Actor(actor.kind, actor.card_number, actor.library, actor.branch, token_id=jti),
        secret,
        now=SystemClock().now(),
        ttl=ttl,
    )
    if args.show_id:  # stderr only: stdout stays the token alone, for TOKEN=$(...)
        print(f"token id (jti): {jti}", file=sys.stderr)
    print(token)


def cmd_token_revoke(settings: Settings, token_id: str, reason: str | None) -> None:
    """Withdraw a token by its id (or by the token itself); refused within seconds."""
    jti = _token_id(token_id)

    async def run() -> bool:
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine).begin() as session:
                done = await revoke_token(
                    session, jti, reason=reason, actor=CLI_ACTOR, now=SystemClock().now()
                )
                return done.newly
        except InvalidRevocation as exc:
            raise CliError(str(exc)) from exc
        except SQLAlchemyError as exc:
            raise CliError(f"database not ready ({exc.__class__.__name__}); run init") from exc
        finally:
            await engine.dispose()

    if _run(run):
        print(f"token {jti} revoked")
    else:
        print(f"token {jti} was already revoked")


def _token_id(value: str) -> str:
    """A jti as given, or the ``jti`` claim of a whole token (read without verifying it)."""
    text = value.strip()
    if text.count(".") != 2:
        return text
    try:
        claims = jwt.decode(text, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise CliError(f"not a token id or a token: {exc}") from exc
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise CliError("the token has no id (jti)")
    return jti


def _token_scope_problems(actor: Actor) -> list[str]:
    needs = {
        ActorKind.PATRON: ("card_number", "--card"),
        ActorKind.STAFF: ("library", "--library"),
        ActorKind.PARTNER: ("library", "--library"),
    }
    problems = []
    if actor.kind in needs:
        attribute, flag = needs[actor.kind]
        if not getattr(actor, attribute):
            problems.append(f"--role {actor.kind.value} needs {flag}")
    if actor.branch and actor.kind is not ActorKind.STAFF:
        problems.append("--branch goes only with --role staff")
    if actor.card_number and actor.kind is not ActorKind.PATRON:
        problems.append("--card goes only with --role patron")
    if actor.library and actor.kind in (ActorKind.PATRON, ActorKind.ADMIN):
        problems.append(f"--library does not go with --role {actor.kind.value}")
    return problems


async def _check_token_subject(settings: Settings, actor: Actor) -> None:
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            if actor.card_number is not None:
                found = await session.scalar(
                    select(Patron.id).where(Patron.card_number == actor.card_number)
                )
                if found is None:
                    raise CliError(f"unknown card number {actor.card_number!r}")
            if actor.library is not None:
                library = await session.scalar(select(Library).where(Library.code == actor.library))
                if library is None or library.role != "member":
                    raise CliError(f"unknown member library {actor.library!r}")
                if actor.branch is not None:
                    branch = await session.scalar(
                        select(Branch).where(
                            Branch.code == actor.branch, Branch.library_id == library.id
                        )
                    )
                    if branch is None:
                        raise CliError(f"{actor.branch!r} is not a branch of {actor.library}")
    except SQLAlchemyError as exc:
        raise CliError(f"database not ready ({exc.__class__.__name__}); run init") from exc
    finally:
        await engine.dispose()


# --- serve / demo ---------------------------------------------------------------------


def cmd_serve(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    if workers > 1:
        uvicorn.run("kallimachos.api.main:app", host=host, port=port, workers=workers)
        return
    from kallimachos.api.app import create_app

    uvicorn.run(create_app(settings, server=True), host=host, port=port)


def load_demo(settings: Settings) -> None:
    """Init, then the sample patrons and the four members' records, through the real import."""
    cmd_init(settings)
    cmd_import_patrons(settings, DEMO_PATRONS)
    for name, library, branch in DEMO_RECORDS:
        cmd_import_marc(settings, [DEMO_DIR / name], library, branch, "auto")


def cmd_demo(settings: Settings, host: str, port: int) -> None:
    load_demo(settings)
    print(f"demo consortium ready: GraphiQL at http://{host}:{port}/graphql", flush=True)
    cmd_serve(settings, host, port, workers=1)


# --- parser ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kallimachos", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="init + load the sample consortium + serve")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)

    commands.add_parser("init", help="create/upgrade the database; load policies/*.toml")

    serve = commands.add_parser("serve", help="serve /graphql and /health")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)

    imports = commands.add_parser("import", help="import data").add_subparsers(
        dest="what", required=True
    )
    patrons = imports.add_parser("patrons", help="import patrons from CSV")
    patrons.add_argument("file", type=Path)
    marc = imports.add_parser("marc", help="import MARC21/MARCXML/UNIMARC records and holdings")
    marc.add_argument("paths", type=Path, nargs="+", metavar="PATH")
    marc.add_argument("--library", required=True)
    marc.add_argument("--branch")
    marc.add_argument(
        "--format", dest="fmt", default="auto", choices=["auto", "marc21", "marcxml", "unimarc"]
    )

    index = commands.add_parser("index", help="search index").add_subparsers(
        dest="action", required=True
    )
    index.add_parser("rebuild", help="rebuild the search index from the database")

    holds = commands.add_parser("holds", help="hold shelf").add_subparsers(
        dest="action", required=True
    )
    holds.add_parser("expire", help="expire holds not collected in time (nightly)")

    ill = commands.add_parser("ill", help="interlibrary loan").add_subparsers(
        dest="action", required=True
    )
    ill.add_parser("sweep", help="mark overdue ILL loans, return uncollected ones (nightly)")

    token = commands.add_parser("token", help="bearer tokens").add_subparsers(
        dest="action", required=True
    )
    issue = token.add_parser("issue", help="print a signed bearer token")
    issue.add_argument("--role", required=True, choices=["patron", "staff", "partner", "admin"])
    issue.add_argument("--card")
    issue.add_argument("--library")
    issue.add_argument("--branch")
    issue.add_argument("--ttl-hours", type=int, default=None)
    issue.add_argument(
        "--show-id", action="store_true", help="also print the token's id (jti) on stderr"
    )
    revoke = token.add_parser("revoke", help="withdraw a token before it expires")
    revoke.add_argument("jti", metavar="JTI", help="the token's id (or the token itself)")
    revoke.add_argument("--reason", default=None, help="why (kept in the audit history)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return main_with_settings(argv, Settings())


def main_with_settings(argv: Sequence[str] | None, settings: Settings) -> int:
    """Run one command with explicit settings (tests use this instead of the environment)."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "init":
            cmd_init(settings)
        elif args.command == "serve":
            cmd_serve(settings, args.host, args.port, args.workers)
        elif args.command == "demo":
            cmd_demo(settings, args.host, args.port)
        elif args.command == "import" and args.what == "patrons":
            cmd_import_patrons(settings, args.file)
        elif args.command == "import" and args.what == "marc":
            return cmd_import_marc(settings, args.paths, args.library, args.branch, args.fmt)
        elif args.command == "index" and args.action == "rebuild":
            cmd_index_rebuild(settings)
        elif args.command == "holds" and args.action == "expire":
            cmd_holds_expire(settings)
        elif args.command == "ill" and args.action == "sweep":
            cmd_ill_sweep(settings)
        elif args.command == "token" and args.action == "issue":
            cmd_token_issue(settings, args)
        elif args.command == "token" and args.action == "revoke":
            cmd_token_revoke(settings, args.jti, args.reason)
    except CliError as exc:
        for problem in exc.problems:
            print(f"kallimachos: error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
