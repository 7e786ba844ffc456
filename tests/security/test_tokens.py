"""Bearer tokens: signed, expiring, revocable; secrets and tokens never in the log."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from kallimachos.api import cli
from kallimachos.api.app import create_app
from kallimachos.api.graphql_view import GraphQLEndpoint
from kallimachos.api.settings import Settings
from kallimachos.api.tokens import (
    MAX_TOKEN_LENGTH,
    TokenError,
    issue_token,
    read_token,
    resolve_secret,
)
from kallimachos.db.engine import make_engine, make_sessionmaker
from kallimachos.db.models import Event, RevokedToken
from kallimachos.domain.actors import Actor, ActorKind
from kallimachos.services import token_revocation
from kallimachos.services.token_revocation import RevocationList, RevocationUnavailable
from tests.conftest import TEST_SECRET, gql

PATRON = 'query { patron(cardNumber: "UOC-UNDERG-003") { cardNumber } }'
NOW = datetime.now(UTC)


def _endpoint(app: object) -> GraphQLEndpoint:
    for route in app.routes:  # type: ignore[attr-defined]
        if getattr(route, "path", None) == "/graphql":
            target = route.endpoint.target
            assert isinstance(target, GraphQLEndpoint)
            return target
    raise AssertionError("no /graphql route")


@pytest.fixture
async def served(initialised: Settings) -> AsyncIterator[tuple[AsyncClient, GraphQLEndpoint]]:
    app = create_app(initialised, drain_outbox=False)
    async with app.router.lifespan_context(app):
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as http:
            yield http, _endpoint(app)


def _issue(settings: Settings, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, str]:
    """``kallimachos token issue ... --show-id``: (stdout, stderr)."""
    assert cli.main_with_settings(["token", "issue", *args, "--show-id"], settings) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err


async def _issue_async(
    settings: Settings, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[str, str]:
    """:func:`_issue` from inside a running event loop (the CLI runs its own)."""
    return await asyncio.to_thread(_issue, settings, capsys, *args)


# --- issue and revoke through the command line --------------------------------------------------


def test_token_issue_prints_the_token_alone_and_the_id_on_stderr(
    initialised: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    out, err = _issue(initialised, capsys, "--role", "staff", "--library", "UOC")
    token = out.strip()
    assert out.count("\n") == 1 and token.count(".") == 2  # the token alone on stdout
    actor = read_token(token, TEST_SECRET, now=datetime.now(UTC))
    assert err.strip() == f"token id (jti): {actor.token_id}"
    assert cli.main_with_settings(["token", "issue", "--role", "admin"], initialised) == 0
    assert capsys.readouterr().err == ""  # without --show-id, nothing on stderr


async def test_a_revoked_token_is_refused(
    served: tuple[AsyncClient, GraphQLEndpoint],
    initialised: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    http, endpoint = served
    out, err = await _issue_async(
        initialised, capsys, "--role", "patron", "--card", "UOC-UNDERG-003"
    )
    token, jti = out.strip(), err.strip().rsplit(" ", 1)[-1]
    assert (await gql(http, PATRON, token=token))["data"] == {
        "patron": {"cardNumber": "UOC-UNDERG-003"}
    }
    code = await asyncio.to_thread(
        cli.main_with_settings,
        ["token", "revoke", jti, "--reason", "card reported lost"],
        initialised,
    )
    assert code == 0
    assert capsys.readouterr().out.strip() == f"token {jti} revoked"
    endpoint.revocations.invalidate()  # as if the refresh interval had passed
    refused = await gql(http, PATRON, token=token)
    assert refused["_status"] == 401
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"  # type: ignore[index]
    assert refused["errors"][0]["message"] == "token revoked"  # type: ignore[index]
    # other tokens of the same patron still work
    again, _ = await _issue_async(
        initialised, capsys, "--role", "patron", "--card", "UOC-UNDERG-003"
    )
    assert (await gql(http, PATRON, token=again.strip()))["_status"] == 200


async def test_revocation_reaches_a_running_server_within_the_refresh_interval(
    served: tuple[AsyncClient, GraphQLEndpoint],
    initialised: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    http, endpoint = served
    clock = [1000.0]
    endpoint.revocations = RevocationList(
        endpoint.services.sessions, refresh_seconds=5.0, monotonic=lambda: clock[0]
    )
    out, err = await _issue_async(initialised, capsys, "--role", "admin")
    token, jti = out.strip(), err.strip().rsplit(" ", 1)[-1]
    assert (await gql(http, "{ businessTime }", token=token))["_status"] == 200
    await asyncio.to_thread(cli.main_with_settings, ["token", "revoke", jti], initialised)
    clock[0] += 4.9  # still within the interval: the cached list has not seen it yet
    assert (await gql(http, "{ businessTime }", token=token))["_status"] == 200
    clock[0] += 0.2
    assert (await gql(http, "{ businessTime }", token=token))["_status"] == 401
    assert endpoint.revocations.reloads == 2


def test_revoking_twice_is_harmless_and_audited_once(
    initialised: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main_with_settings(["token", "revoke", "abc123"], initialised) == 0
    assert cli.main_with_settings(["token", "revoke", "abc123"], initialised) == 0
    assert capsys.readouterr().out.splitlines() == [
        "token abc123 revoked",
        "token abc123 was already revoked",
    ]

    async def rows() -> tuple[list[RevokedToken], list[Event]]:
        engine = make_engine(initialised.database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                revoked = list(await session.scalars(select(RevokedToken)))
                events = list(
                    await session.scalars(select(Event).where(Event.kind == "token.revoked"))
                )
                return revoked, events
        finally:
            await engine.dispose()

    revoked, events = asyncio.run(rows())
    assert [r.jti for r in revoked] == ["abc123"]
    assert len(events) == 1
    assert (events[0].actor_kind, events[0].before, events[0].after) == (
        "admin",
        {"jti": "abc123", "revoked": False},
        {"jti": "abc123", "revoked": True},
    )


def test_a_whole_token_may_be_given_to_revoke(
    initialised: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    out, err = _issue(initialised, capsys, "--role", "admin")
    jti = err.strip().rsplit(" ", 1)[-1]
    assert cli.main_with_settings(["token", "revoke", out.strip()], initialised) == 0
    assert capsys.readouterr().out.strip() == f"token {jti} revoked"


@pytest.mark.parametrize("bad", ["", "   ", "x" * 65, "tab\there", "a.b.c"])
def test_revoke_refuses_a_bad_id(
    initialised: Settings, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    assert cli.main_with_settings(["token", "revoke", bad], initialised) == 2
    assert capsys.readouterr().err.startswith("kallimachos: error: ")


# --- the revocation list: cached, refreshed, fail-closed ---------------------------------------


async def test_the_list_is_read_once_per_interval(initialised: Settings) -> None:
    engine = make_engine(initialised.database_url)
    clock = [0.0]
    try:
        revocations = RevocationList(
            make_sessionmaker(engine), refresh_seconds=5.0, monotonic=lambda: clock[0]
        )
        results = await asyncio.gather(*(revocations.is_revoked("nope") for _ in range(50)))
        assert not any(results)
        assert revocations.reloads == 1  # 50 concurrent requests, one query
        clock[0] = 4.0
        await revocations.is_revoked("nope")
        assert revocations.reloads == 1
        clock[0] = 5.5
        await revocations.is_revoked("nope")
        assert revocations.reloads == 2
        revocations.note_revoked("now-revoked")  # a revocation made in this process
        assert await revocations.is_revoked("now-revoked")
    finally:
        await engine.dispose()


class _BrokenSessions:
    def __call__(self) -> object:
        raise OperationalError("select", {}, Exception("database is down"))


async def test_an_unreadable_list_fails_closed_after_the_grace_period() -> None:
    clock = [0.0]
    revocations = RevocationList(
        _BrokenSessions(),  # type: ignore[arg-type]
        refresh_seconds=5.0,
        max_stale_seconds=60.0,
        monotonic=lambda: clock[0],
    )
    with pytest.raises(RevocationUnavailable):  # never loaded: nothing to trust
        await revocations.is_revoked("x")
    revocations._revoked = frozenset({"old"})
    revocations._loaded_at = 0.0
    clock[0] = 30.0  # stale but within the grace period: the last list is used
    assert await revocations.is_revoked("old")
    assert not await revocations.is_revoked("x")
    clock[0] = 61.0
    with pytest.raises(RevocationUnavailable):
        await revocations.is_revoked("x")


async def test_the_api_answers_503_not_200_when_revocation_cannot_be_checked(
    served: tuple[AsyncClient, GraphQLEndpoint],
) -> None:
    from tests.conftest import token_for

    http, endpoint = served
    endpoint.revocations = RevocationList(_BrokenSessions())  # type: ignore[arg-type]
    body = await gql(http, "{ businessTime }", token=token_for("admin"))
    assert body["_status"] == 503
    assert body["errors"][0]["extensions"]["code"] == "AUTH_UNAVAILABLE"  # type: ignore[index]
    assert (await gql(http, "{ businessTime }"))["_status"] == 200  # anonymous needs no list


async def test_measured_cost_of_the_revocation_check(initialised: Settings) -> None:
    """The per-request cost: a set lookup, plus one reload per interval (10,000 revoked ids)."""
    engine = make_engine(initialised.database_url)
    try:
        sessions = make_sessionmaker(engine)
        async with sessions.begin() as session:
            session.add_all(
                RevokedToken(jti=f"{n:032x}", revoked_at=NOW, reason=None) for n in range(10_000)
            )
        revocations = RevocationList(sessions)
        started = time.perf_counter()
        await revocations.is_revoked("warm-up")
        reload_ms = (time.perf_counter() - started) * 1000
        rounds = 20_000
        started = time.perf_counter()
        for n in range(rounds):
            await revocations.is_revoked(f"{n:032x}")
        cached_us = (time.perf_counter() - started) / rounds * 1e6
        started = time.perf_counter()
        for n in range(200):
            async with sessions() as session:
                await session.get(RevokedToken, f"{n:032x}")
        lookup_us = (time.perf_counter() - started) / 200 * 1e6
    finally:
        await engine.dispose()
    print(
        f"\nrevocation check: cached {cached_us:.2f} us/request; reload of 10,000 ids "
        f"{reload_ms:.1f} ms every {token_revocation.REFRESH_SECONDS:.0f} s; "
        f"a per-request primary-key lookup would cost {lookup_us:.0f} us"
    )
    assert cached_us < 50
    assert reload_ms < 1000


# --- what a token must be -------------------------------------------------------------------


def _forge(claims: dict[str, object], secret: str = TEST_SECRET, alg: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=alg)


def _claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": "kallimachos",
        "sub": "admin",
        "jti": "j1",
        "iat": now,
        "exp": now + 3600,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _unsigned(claims: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (_unsigned(_claims()), "alg none"),
        (_forge(_claims(), secret=TEST_SECRET * 2, alg="HS512"), "another algorithm"),
        (_forge(_claims(), secret="x" * 40), "another key"),
        (_forge(_claims(iss="someone-else")), "another issuer"),
        (_forge(_claims(iss=None)), "no issuer"),
        (_forge(_claims(jti=None)), "no id"),
        (_forge(_claims(jti="x" * 65)), "an id too long to revoke"),
        (_forge(_claims(jti=7)), "an id that is not a string"),
        (_forge(_claims(exp=None)), "no expiry"),
        (_forge(_claims(exp="never")), "an expiry that is not a number"),
        (_forge(_claims(iat=int(time.time()) + 3600)), "issued in the future"),
        (_forge(_claims(sub="anonymous")), "an anonymous token"),
        (_forge(_claims(sub="root")), "an unknown kind"),
        (_forge(_claims(sub="patron")), "a patron without a card"),
        (_forge(_claims(sub="staff")), "staff without a library"),
        (_forge(_claims(sub="staff", lib=["UOC", "AEG"])), "a library that is not a string"),
        (_forge(_claims(sub="patron", card={"$ne": ""})), "a card that is not a string"),
        ("x" * (MAX_TOKEN_LENGTH + 1), "an oversized token"),
    ],
)
def test_tokens_that_are_refused(token: str, why: str) -> None:
    with pytest.raises(TokenError):
        read_token(token, TEST_SECRET, now=datetime.now(UTC))


async def test_refusals_over_http_are_401_and_name_no_secret(client: AsyncClient) -> None:
    for header in ("Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "", "Bearer a.b.c"):
        response = await client.post(
            "/graphql", json={"query": "{ businessTime }"}, headers={"Authorization": header}
        )
        assert response.status_code == 401, header
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert TEST_SECRET not in response.text


def test_a_short_configured_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TokenError, match="at least 32"):
        resolve_secret("short", None)
    (tmp_path / ".kallimachos-secret").write_text("\n")
    with pytest.raises(TokenError, match="no usable secret"):
        resolve_secret(None, tmp_path / ".kallimachos-secret")


def test_the_generated_secret_is_kept_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / ".kallimachos-secret"
    secret = resolve_secret(None, path)
    assert len(secret) >= 32
    assert path.stat().st_mode & 0o077 == 0
    assert resolve_secret(None, path) == secret


def test_settings_never_show_the_secret() -> None:
    settings = Settings(database_url="sqlite+aiosqlite:///x.sqlite3", secret=TEST_SECRET)
    assert TEST_SECRET not in repr(settings)
    assert TEST_SECRET not in str(settings)


async def test_secrets_and_tokens_never_reach_the_log(
    client: AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.conftest import token_for

    caplog.set_level(logging.DEBUG)
    token = token_for("staff", library="UOC")
    forged = issue_token(
        Actor(ActorKind.ADMIN), "f" * 40, now=datetime.now(UTC), ttl=timedelta(hours=1)
    )
    await gql(client, PATRON, token=token)
    await gql(client, '{ patron(cardNumber: "AEG-FACULT-001") { name } }', token=token)
    await gql(client, "{ businessTime }", token=forged)
    await gql(client, 'mutation { payFee(input: {feeId: "x", amount: "1"}) { fee { id } } }')
    await gql(client, "{ nope }", token=token)
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records)
    assert caplog.records  # the requests did log something (errors, SQL...)
    for secret in (TEST_SECRET, token, forged, token.split(".")[2]):
        assert secret not in logged
