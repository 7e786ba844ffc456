"""(3) ``requestItem`` and (4) ``checkOut``/``checkIn`` under 16 concurrent clients.

Both run on ``kallimachos serve`` over PostgreSQL, after the import (5): the works and items
are the generated consortium's, and the readers come in through the real path
(``kallimachos import patrons``; :func:`bench.generate.generate_patrons` writes the CSV).
Every request is a distinct, realistic one with its own bearer token; see
docs/performance.md ("Scenarios 3 and 4") for the mix.  Each scenario reports saturation
(16 connections, closed loop) and a fixed offered rate (half the saturation rate, sent through
16 connections: "16 concurrent clients"), counts refusals apart from errors, and afterwards
counts double allocations in the database, which must be zero.

:func:`bench.scenarios.all_scenarios` lists them.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import subprocess
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry import relay

from bench import loadgen
from bench.generate import LIBRARIES, generate_patrons, patron_card
from bench.scenarios import (
    KALLIMACHOS,
    Env,
    Row,
    Scenario,
    graphql_data,
    measure_results,
    serving,
)

PATRONS_PER_LIBRARY = 1500
STREAM = 16_000  # planned requests per scenario; a longer run starts over (and is refused)
RATE_SHARE = 0.5  # the fixed rate: this share of the scenario's own saturation rate
CHECKIN_LAG = 48  # a copy is checked in this many checkouts after it was lent
TOKEN_TTL = timedelta(hours=2)
INPUT_CODES = frozenset({"NOT_FOUND", "INVALID_INPUT", "FORBIDDEN"})  # the bench's mistakes

REQUEST_ITEM = """
mutation Request($input: RequestItemInput!) {
  requestItem(input: $input) {
    outcome
    hold { id status }
    illRequest { id status }
    options { kind rank reason rule library { code } branch { code } }
    userErrors { code message rule }
  }
}"""
CHECK_OUT = """
mutation Lend($input: CheckOutInput!) {
  checkOut(input: $input) { loan { id dueDate } userErrors { code message rule } }
}"""
CHECK_IN = """
mutation Return($input: CheckInInput!) {
  checkIn(input: $input) {
    loan { id returnedAt } item { barcode status } fees { id } hold { id status }
    userErrors { code message rule }
  }
}"""
PROBE = "query Probe($card: String!) { patron(cardNumber: $card) { name } }"


# --- readers, copies and tokens -----------------------------------------------------------


@dataclass(frozen=True)
class Reader:
    card: str
    library: str
    branch: str


@dataclass(frozen=True)
class Copy:
    barcode: str
    work_id: int
    library: str
    branch: str
    loanable: bool
    available: bool  # loanable and on the shelf
    gone: bool  # lost, missing or withdrawn


def readers(env: Env) -> dict[str, list[Reader]]:
    """The benchmark readers, imported once per database through ``kallimachos import``."""
    path = generate_patrons(env.workdir, PATRONS_PER_LIBRARY)
    if not asyncio.run(_count_readers(env)):
        subprocess.run(
            [KALLIMACHOS, "import", "patrons", str(path)],
            env=env.kallimachos_env(),
            check=True,
            capture_output=True,
        )
    found: dict[str, list[Reader]] = {}
    for library, (branches, _share, _default) in LIBRARIES.items():
        found[library] = [
            Reader(patron_card(library, n), library, branches[n % len(branches)])
            for n in range(PATRONS_PER_LIBRARY)
        ]
    return found


async def _count_readers(env: Env) -> int:
    async with _connection(env) as conn:
        return int(
            await conn.scalar(
                text("select count(*) from patrons where card_number like '%-BENCH-%'")
            )
            or 0
        )


@contextlib.asynccontextmanager
async def _connection(env: Env) -> AsyncIterator[AsyncConnection]:
    from kallimachos.db.engine import make_engine

    engine = make_engine(env.database_url)
    try:
        async with engine.connect() as conn:
            yield conn
    finally:
        await engine.dispose()


async def copies_by_work(env: Env, remainder: int) -> dict[int, list[Copy]]:
    """Every copy of the works whose id is ``remainder`` modulo 4 (scenarios use disjoint
    works), with its loanability under the owner's policy."""
    from kallimachos.api.cli import load_policy_set
    from kallimachos.domain.loanability import GONE_STATUSES, CopyFacts, loanability

    members = {m.code: m for m in load_policy_set(env.settings).members}
    query = text(
        "select i.*, l.code as library_code, b.code as branch_code from items i"
        " join libraries l on l.id = i.library_id"
        " join branches b on b.id = coalesce(i.current_branch_id, i.home_branch_id)"
        " where i.work_id % 4 = :r and not i.temporary_ill order by i.id"
    )
    found: dict[int, list[Copy]] = defaultdict(list)
    async with _connection(env) as conn:
        for row in await conn.execute(query, {"r": remainder}):
            facts = CopyFacts(
                collection=row.collection,
                status=row.status,
                high_demand=row.high_demand,
                damaged=row.damaged,
                unprocessed=row.unprocessed,
                not_for_loan=row.not_for_loan,
            )
            loanable = loanability(members[row.library_code], facts).loanable
            found[row.work_id].append(
                Copy(
                    barcode=row.barcode,
                    work_id=row.work_id,
                    library=row.library_code,
                    branch=row.branch_code,
                    loanable=loanable,
                    available=loanable and row.status == "AVAILABLE",
                    gone=row.status in GONE_STATUSES,
                )
            )
    return found


def token(env: Env, **scope: str) -> str:
    from kallimachos.api.tokens import issue_token
    from kallimachos.domain.actors import Actor, ActorKind

    kind = ActorKind.PATRON if "card_number" in scope else ActorKind.STAFF
    return issue_token(Actor(kind=kind, **scope), env.secret, now=datetime.now(UTC), ttl=TOKEN_TTL)


# --- the server, phases and the allocation check --------------------------------------------


@dataclass
class Phases:
    """Numbers requests across measure()'s runs (each run counts from 0) and counts answers
    per run; settle probes get a read-only query instead of using up the plan."""

    name: str = "warmup"
    base: int = 0
    next_free: int = 0
    answers: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def __call__(self, name: str) -> None:
        self.name = name
        self.base = self.next_free

    def index(self, n: int) -> int:
        self.next_free = max(self.next_free, self.base + n + 1)
        return self.base + n

    def count(self, answer: str) -> None:
        self.answers[self.name][answer] += 1


def classify(payload: dict[str, Any] | None, phases: Phases, key: str, done: str = "") -> bool:
    """Count a mutation's answer: ``done`` (or the value of ``key``) when ``key`` is set, else
    the refusal.  False (an error) unless it did something or was refused by the rules or by
    the state of the copy; refusals of the bench's own input count as errors."""
    if payload is None:
        return False
    if payload.get(key):
        phases.count(done or str(payload[key]))
        return True
    errors = payload.get("userErrors") or []
    if not errors or any(e["code"] in INPUT_CODES for e in errors):
        return False
    what = f"{done} refused" if done else "refused"
    if all(e.get("rule") for e in errors):
        phases.count(f"{what} with a rule")
    else:
        phases.count(f"{what}: {errors[0]['code']}")
    return True


ALLOCATIONS = {
    "items with two open loans": """
        select count(*) from (select item_id from loans where returned_at is null
        group by item_id having count(*) > 1) x""",
    "items lent twice at once (overlapping loans)": """
        select count(distinct a.item_id) from loans a join loans b
        on a.item_id = b.item_id and a.id < b.id
        and b.checked_out_at < coalesce(a.returned_at, 'infinity')
        and a.checked_out_at < coalesce(b.returned_at, 'infinity')""",
    "items kept for two active holds": """
        select count(*) from (select trapped_item_id from holds
        where status in ('WAITING', 'IN_TRANSIT', 'READY') and trapped_item_id is not null
        group by trapped_item_id having count(*) > 1) x""",
    "items kept for a hold and lent": """
        select count(distinct h.trapped_item_id) from holds h join loans l
        on l.item_id = h.trapped_item_id and l.returned_at is null
        where h.status in ('WAITING', 'IN_TRANSIT', 'READY')""",
    "items supplied to two open interlibrary requests": """
        select count(*) from (select temporary_item_id from ill_requests
        where temporary_item_id is not null and status = any(:open)
        group by temporary_item_id having count(*) > 1) x""",
}
MISMATCHES = {
    "items on loan without one open loan": """
        select count(*) from items i where (i.status = 'ON_LOAN') <> exists
        (select 1 from loans l where l.item_id = i.id and l.returned_at is null)""",
    "items set aside without one active hold": """
        select count(*) from items i where i.status in ('ON_HOLD_SHELF', 'IN_TRANSIT')
        and not i.temporary_ill and i.transit_to_branch_id is distinct from i.home_branch_id
        and not exists (select 1 from holds h where h.trapped_item_id = i.id
        and h.status in ('IN_TRANSIT', 'READY'))""",
}


async def allocation_check(env: Env) -> dict[str, int]:
    """Double allocations (must all be 0), then copies whose status disagrees with them."""
    from kallimachos.services.ill_store import OPEN_STATUSES

    found: dict[str, int] = {}
    async with _connection(env) as conn:
        for name, sql in {**ALLOCATIONS, **MISMATCHES}.items():
            found[name] = int(await conn.scalar(text(sql), {"open": list(OPEN_STATUSES)}) or 0)
    return found


def allocation_note(found: dict[str, int]) -> str:
    doubles = sum(found[name] for name in ALLOCATIONS)
    odd = [f"{n} {name}" for name, n in found.items() if n and name in MISMATCHES]
    return f"double allocations: {doubles}" + (f" ({'; '.join(odd)})" if odd else "")


def rows_for(
    number: int,
    title: str,
    fixed: loadgen.LoadResult,
    saturated: loadgen.LoadResult,
    note: str,
) -> list[Row]:
    rows = [Row.from_load(number, title, saturated), Row.from_load(number, title, fixed)]
    rows[1].load += f", {saturated.connections} conn"
    for row in rows:
        row.note = "; ".join(x for x in (row.note, note) if x)
    return rows


def fixed_rate(saturated: loadgen.LoadResult) -> float:
    """Half the saturation rate, rounded down to 5 req/s (at least 5)."""
    return max(5.0, 5 * int(RATE_SHARE * saturated.throughput / 5))


def answers_note(phases: Phases, phase: str) -> str:
    counts = phases.answers.get(phase, Counter())
    return ", ".join(f"{n} {answer}" for answer, n in counts.most_common())


# --- (3) requestItem ------------------------------------------------------------------------


@dataclass
class Pools:
    """Works for each kind of request, by library (and the reader's branch), drawn once."""

    rng: random.Random
    local: dict[tuple[str, str], deque[int]] = field(default_factory=dict)
    last_copy: dict[tuple[str, str], deque[int]] = field(default_factory=dict)
    elsewhere: dict[tuple[str, str], deque[int]] = field(default_factory=dict)
    partner: dict[str, deque[int]] = field(default_factory=dict)
    unlendable: dict[str, deque[int]] = field(default_factory=dict)
    used: set[int] = field(default_factory=set)

    @classmethod
    def of(cls, works: dict[int, list[Copy]], rng: random.Random) -> Pools:
        lists: dict[str, defaultdict[Any, list[int]]] = {
            k: defaultdict(list) for k in ("local", "last_copy", "elsewhere", "partner", "un")
        }
        for work_id, copies in sorted(works.items()):
            holders = {c.library for c in copies if not c.gone}
            for library, (branches, _share, _default) in LIBRARIES.items():
                own = [c for c in copies if c.library == library and not c.gone]
                if not own:
                    if holders:
                        lists["partner"][library].append(work_id)
                    continue
                lendable = [c for c in own if c.loanable]
                if not lendable:
                    lists["un"][library].append(work_id)
                    continue
                on_shelf = {c.branch for c in lendable if c.available}
                for branch in branches:
                    if branch in on_shelf:
                        key = "last_copy" if len(lendable) == 1 else "local"
                        lists[key][(library, branch)].append(work_id)
                    elif on_shelf:
                        lists["elsewhere"][(library, branch)].append(work_id)
        pools = cls(rng)
        for name, target in (
            ("local", pools.local),
            ("last_copy", pools.last_copy),
            ("elsewhere", pools.elsewhere),
            ("partner", pools.partner),
            ("un", pools.unlendable),
        ):
            for key, ids in lists[name].items():
                rng.shuffle(ids)
                target[key] = deque(ids)
        return pools

    def draw(self, pool: dict[Any, deque[int]], key: Any) -> int | None:
        found = pool.get(key)
        while found:
            work_id = found.popleft()
            if work_id not in self.used:
                self.used.add(work_id)
                return work_id
        return None


@dataclass(frozen=True)
class Ask:
    reader: Reader
    work_id: int
    kind: str  # what the plan expects: local, branch, partner, none loanable, queue, burst


UNITS = (
    "local",
    "partner",
    "last copy",
    "branch",
    "local",
    "none loanable",
    "partner",
    "burst",
    "local",
    "queue",
    "branch",
    "partner",
    "local",
    "last copy",
    "local",
    "partner",
    "queue",
    "none loanable",
    "branch",
    "local",
)
"""The plan's repeating order of asks (a burst is four readers asking for one last copy)."""


def plan_requests(works: dict[int, list[Copy]], people: dict[str, list[Reader]]) -> list[Ask]:
    """Distinct asks: a copy on the shelf at the reader's branch, at another branch, only at
    a partner, none for loan here, a queue for a copy just taken, and bursts for a last copy."""
    rng = random.Random(3)
    pools = Pools.of(works, rng)
    turn = dict.fromkeys(people, 0)
    taken: dict[str, deque[tuple[int, int]]] = {lib: deque() for lib in people}
    asks: list[Ask] = []

    def reader(library: str) -> Reader:
        turn[library] += 1
        return people[library][turn[library] % len(people[library])]

    unit = 0
    while len(asks) < STREAM:
        library = tuple(people)[unit % len(people)]
        kind = UNITS[(unit // len(people)) % len(UNITS)]
        unit += 1
        who = reader(library)
        where = (library, who.branch)
        work_id: int | None = None
        if kind == "queue" and taken[library] and taken[library][0][0] < unit - 40:
            work_id = taken[library].popleft()[1]
        elif kind == "burst":
            work_id = pools.draw(pools.last_copy, where)
            if work_id is not None:
                others = [reader(library) for _ in range(3)]
                asks += [Ask(r, work_id, kind) for r in (who, *others)]
                continue
        elif kind == "last copy":
            work_id = pools.draw(pools.last_copy, where)
            if work_id is not None:
                taken[library].append((unit, work_id))
        elif kind == "branch":
            work_id = pools.draw(pools.elsewhere, where)
        elif kind == "partner":
            work_id = pools.draw(pools.partner, library)
        elif kind == "none loanable":
            work_id = pools.draw(pools.unlendable, library)
        if work_id is None:  # the pool ran dry, or no queue yet: a copy on the shelf here
            kind = "local"
            work_id = pools.draw(pools.local, where) or pools.draw(pools.last_copy, where)
        if work_id is not None:
            asks.append(Ask(who, work_id, kind))
        elif unit > 50 * STREAM:
            break
    return asks


class RequestItem(Scenario):
    number = 3
    title = "requestItem"

    def run(self, env: Env) -> list[Row]:
        people = readers(env)
        asks = plan_requests(asyncio.run(copies_by_work(env, 0)), people)
        tokens = {
            r.card: {"authorization": f"Bearer {token(env, card_number=r.card)}"}
            for group in people.values()
            for r in group
        }
        staff = {"authorization": f"Bearer {token(env, library='UOC')}"}
        probe = orjson.dumps({"query": PROBE, "variables": {"card": people["UOC"][0].card}})
        bodies = [
            orjson.dumps(
                {
                    "query": REQUEST_ITEM,
                    "variables": {
                        "input": {
                            "workId": relay.to_base64("Work", a.work_id),
                            "patronCardNumber": a.reader.card,
                            "pickupBranch": a.reader.branch,
                        }
                    },
                }
            )
            for a in asks
        ]
        phases = Phases()
        with serving(env, "request-item") as url:

            def make(n: int) -> loadgen.Request:
                if phases.name == "settle":
                    return loadgen.Request(url, probe, staff)
                i = phases.index(n) % len(asks)
                return loadgen.Request(url, bodies[i], tokens[asks[i].reader.card])

            def check(body: bytes) -> bool:
                data = graphql_data(body)
                if data is None or "patron" in data:
                    return data is not None
                return classify(data.get("requestItem"), phases, "outcome")

            fixed, saturated = measure_results(
                env,
                make,
                check,
                rate=fixed_rate,
                fixed_connections=env.connections,
                phase=phases,
            )
        found = asyncio.run(allocation_check(env))
        env.measured["scenario3"] = {
            "fixed": fixed.summary(),
            "saturation": saturated.summary(),
            "answers": {k: dict(v) for k, v in phases.answers.items()},
            "planned": dict(Counter(a.kind for a in asks[: phases.next_free])),
            "allocations": found,
            "double_allocations": sum(found[name] for name in ALLOCATIONS),
        }
        rows = rows_for(self.number, self.title, fixed, saturated, "")
        for row, phase in zip(rows, ("saturation", "fixed"), strict=True):
            row.note = "; ".join(
                x for x in (row.note, answers_note(phases, phase), allocation_note(found)) if x
            )
        return rows


# --- (4) checkout / checkin -----------------------------------------------------------------


@dataclass(frozen=True)
class DeskStep:
    label: str  # "checkOut" or "checkIn"
    barcode: str
    branch: str
    library: str
    card: str | None = None  # the borrower (checkOut)


def plan_desk(works: dict[int, list[Copy]], people: dict[str, list[Reader]]) -> list[DeskStep]:
    """Lend copies on the shelf and take each back CHECKIN_LAG loans later; every 12th copy
    is asked for by three desks at once (only one may lend it); one in ten comes back to
    another branch of a multi-branch library (it travels home)."""
    rng = random.Random(4)
    shelf = [c for copies in works.values() for c in copies if c.available]
    rng.shuffle(shelf)
    turn = Counter[str]()
    steps: list[DeskStep] = []
    lent: deque[Copy] = deque()
    for j, copy in enumerate(shelf):
        if len(steps) >= STREAM:
            break
        for _ in range(3 if j % 12 == 5 else 1):
            turn[copy.library] += 1
            group = people[copy.library]
            who = group[turn[copy.library] % len(group)]
            steps.append(DeskStep("checkOut", copy.barcode, copy.branch, copy.library, who.card))
        lent.append(copy)
        if len(lent) > CHECKIN_LAG:
            back = lent.popleft()
            branches = LIBRARIES[back.library][0]
            desk = back.branch
            if len(branches) > 1 and rng.random() < 0.1:
                desk = rng.choice([b for b in branches if b != back.branch])
            steps.append(DeskStep("checkIn", back.barcode, desk, back.library))
    return steps


class CheckoutCheckin(Scenario):
    number = 4
    title = "checkout / checkin"

    def run(self, env: Env) -> list[Row]:
        people = readers(env)
        steps = plan_desk(asyncio.run(copies_by_work(env, 2)), people)
        desks = {
            (library, branch): {
                "authorization": f"Bearer {token(env, library=library, branch=branch)}"
            }
            for library, (branches, _share, _default) in LIBRARIES.items()
            for branch in branches
        }
        probe = orjson.dumps({"query": PROBE, "variables": {"card": people["UOC"][0].card}})
        probe_desk = desks[("UOC", "UOC-HER")]
        bodies = [_desk_body(s) for s in steps]
        phases = Phases()
        with serving(env, "desk") as url:

            def make(n: int) -> loadgen.Request:
                if phases.name == "settle":
                    return loadgen.Request(url, probe, probe_desk)
                i = phases.index(n) % len(steps)
                step = steps[i]
                return loadgen.Request(
                    url, bodies[i], desks[(step.library, step.branch)], step.label
                )

            def check(body: bytes) -> bool:
                data = graphql_data(body)
                if data is None or "patron" in data:
                    return data is not None
                if "checkOut" in data:
                    return classify(data["checkOut"], phases, "loan", "lent")
                done = data.get("checkIn")
                if done is not None and done.get("item") and not done.get("loan"):
                    phases.count("returned without an open loan")
                return classify(done, phases, "item", "returned")

            fixed, saturated = measure_results(
                env,
                make,
                check,
                rate=fixed_rate,
                fixed_connections=env.connections,
                phase=phases,
            )
        found = asyncio.run(allocation_check(env))
        env.measured["scenario4"] = {
            "fixed": fixed.summary(),
            "saturation": saturated.summary(),
            "answers": {k: dict(v) for k, v in phases.answers.items()},
            "allocations": found,
            "double_allocations": sum(found[name] for name in ALLOCATIONS),
        }
        rows: list[Row] = []
        for label in ("checkOut", "checkIn"):
            rows += rows_for(self.number, label, fixed.part(label), saturated.part(label), "")
        shared = f"one run of both, {env.connections} conn in all"
        for row, phase in zip(rows, ("saturation", "fixed") * 2, strict=True):
            answers = answers_note(phases, phase) if row.scenario == "checkOut" else shared
            row.note = "; ".join(x for x in (row.note, answers, allocation_note(found)) if x)
        return rows


def _desk_body(step: DeskStep) -> bytes:
    if step.label == "checkOut":
        variables = {
            "itemBarcode": step.barcode,
            "patronCardNumber": step.card,
            "branch": step.branch,
        }
        return orjson.dumps({"query": CHECK_OUT, "variables": {"input": variables}})
    variables = {"itemBarcode": step.barcode, "branch": step.branch}
    return orjson.dumps({"query": CHECK_IN, "variables": {"input": variables}})


# --- targets --------------------------------------------------------------------------------

TARGET_P50_MS = 20.0
TARGET_P99_MS = 100.0


def targets(env: Env) -> list[str]:
    """Issue 7's circulation targets: p50 <= 20 ms and p99 <= 100 ms at 16 concurrent clients
    (the fixed rate, offered through 16 connections), zero double allocations; saturation is
    shown beside them (closed loop: by Little's law its p50 is about 16 / throughput)."""
    out: list[str] = []
    s3, s4 = env.measured.get("scenario3"), env.measured.get("scenario4")
    measured = []
    if s3:
        measured.append(("requestItem", s3["fixed"], s3["saturation"], s3))
    if s4:
        for label in ("checkOut", "checkIn"):
            fixed, saturated = s4["fixed"]["parts"].get(label), s4["saturation"]["parts"].get(label)
            if fixed and saturated:
                measured.append((label, fixed, saturated, s4 if label == "checkOut" else None))
    for name, fixed, saturated, run in measured:
        p50, p99 = fixed["p50_ms"], fixed["p99_ms"]
        met = p50 is not None and p99 is not None
        met = met and p50 <= TARGET_P50_MS and p99 <= TARGET_P99_MS
        rate = saturated["throughput_rps"]
        share = f"{rate:.0f} req/s of {name}" if name != "requestItem" else f"{rate:.0f} req/s"
        out.append(
            f"{name} p50 <= {TARGET_P50_MS:g} ms and p99 <= {TARGET_P99_MS:g} ms at 16 concurrent "
            f"clients ({fixed['offered_rps']:g} req/s offered through {env.connections} "
            f"connections): p50 {p50} ms, p99 {p99} ms: {'met' if met else 'MISSED'}; "
            f"saturation ({env.connections} connections, closed loop): {share}, p50 "
            f"{saturated['p50_ms']} ms"
        )
        if run is not None:
            doubles = run["double_allocations"]
            out.append(
                f"zero double allocations after {name}: {doubles}: "
                f"{'met' if doubles == 0 else 'MISSED'}"
            )
    return out
