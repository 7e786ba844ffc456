"""The union catalogue on the demo consortium, through GraphQL, on both search engines.

The demo is loaded once per engine through the real import path (``load_demo``).
Expected values are computed from the database or from the source records, not typed in.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import event, func, select, update

from kallimachos.api import cli
from kallimachos.api.app import create_app
from kallimachos.api.settings import Settings
from kallimachos.db.engine import make_engine, make_sessionmaker
from kallimachos.db.models import BibRecord, Item, Library, Work
from kallimachos.domain.actors import SYSTEM
from kallimachos.domain.clock import SystemClock
from kallimachos.services.events import record_event
from tests.conftest import TEST_SECRET, gql, require_service

ENGINES = [
    "embedded",
    pytest.param("opensearch", marks=[pytest.mark.integration, pytest.mark.opensearch]),
]

SEARCH = """
query($q: String, $f: WorkFilter, $first: Int = 20, $after: String) {
  search(query: $q, filter: $f, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    facets { field values { value count } }
    edges { cursor node { id title isbns language materialType
      holdings { library { code } loanableCount availableCount
                 items { barcode status loanable collection branch { code } } } } }
  }
}"""


@pytest.fixture(scope="module", params=ENGINES)
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('demo') / 'demo.sqlite3'}"
    settings = Settings(database_url=url, secret=TEST_SECRET, clock_override=True)
    index = None
    if request.param == "opensearch":
        os_url = require_service("KALLIMACHOS_TEST_OPENSEARCH_URL", "OpenSearch")
        index = f"k-test-{uuid.uuid4().hex[:10]}"
        settings = settings.model_copy(update={"opensearch_url": os_url, "opensearch_index": index})
    cli.load_demo(settings)
    yield settings
    if index is not None:
        from opensearchpy import OpenSearch

        client = OpenSearch(hosts=[settings.opensearch_url])
        client.indices.delete(index=f"{index}*", ignore=[404])
        client.close()


@pytest.fixture
async def http(demo: Settings) -> AsyncIterator[AsyncClient]:
    app = create_app(demo, drain_outbox=True)
    async with app.router.lifespan_context(app):
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


def _db(settings: Settings, work):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine).begin() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


async def _adb(settings: Settings, work):  # type: ignore[no-untyped-def]
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            return await work(session)
    finally:
        await engine.dispose()


def _search_body(body: dict[str, object]) -> dict:  # type: ignore[type-arg]
    assert "errors" not in body, body.get("errors")
    return body["data"]["search"]  # type: ignore[index]


async def test_greek_query_finds_the_greek_record_held_by_uoc_and_cut(http: AsyncClient) -> None:
    for text in ("αγορα μεσογειο", "ΑΓΟΡΆ ΜΕΣΌΓΕΙΟ", "Η αγορά στη Μεσόγειο"):
        result = _search_body(await gql(http, SEARCH, {"q": text}))
        assert result["totalCount"] >= 1, text
        top = result["edges"][0]["node"]
        assert "9789608838765" in top["isbns"]
        assert {h["library"]["code"] for h in top["holdings"]} == {"UOC", "CUT"}


async def test_isbn_with_hyphens_finds_the_work_as_text_and_as_filter(http: AsyncClient) -> None:
    for variables in ({"q": "978-960-88387-6-5"}, {"f": {"isbn": "960-88387-6-2"}}):
        result = _search_body(await gql(http, SEARCH, variables))
        assert result["totalCount"] == 1
        assert "9789608838765" in result["edges"][0]["node"]["isbns"]


async def test_library_facet_counts_match_the_database(http: AsyncClient, demo: Settings) -> None:
    async def held(session):  # type: ignore[no-untyped-def]
        rows = await session.execute(
            select(Library.code, func.count(func.distinct(Item.work_id)))
            .join(Item, Item.library_id == Library.id)
            .group_by(Library.code)
        )
        return dict(rows.all())

    expected = await _adb(demo, held)
    result = _search_body(await gql(http, SEARCH, {"first": 1}))
    facets = {f["field"]: f["values"] for f in result["facets"]}
    assert {v["value"]: v["count"] for v in facets["library"]} == expected
    assert set(facets) == {"library", "language", "materialType", "year"}
    assert sum(v["count"] for v in facets["materialType"]) == result["totalCount"]


async def test_library_filter_and_facets_narrow_together(http: AsyncClient) -> None:
    everything = _search_body(await gql(http, SEARCH, {"first": 1}))
    tuc = _search_body(await gql(http, SEARCH, {"f": {"libraries": ["TUC"]}, "first": 100}))
    tuc_facet = next(
        v["count"]
        for f in everything["facets"]
        if f["field"] == "library"
        for v in f["values"]
        if v["value"] == "TUC"
    )
    assert tuc["totalCount"] == tuc_facet
    for edge in tuc["edges"]:
        assert "TUC" in {h["library"]["code"] for h in edge["node"]["holdings"]}


async def test_duplicates_across_libraries_are_one_work_and_louis_armstrong_is_not_merged(
    demo: Settings,
) -> None:
    async def records(session):  # type: ignore[no-untyped-def]
        return (
            await session.execute(
                select(
                    BibRecord.work_id,
                    Library.code,
                    BibRecord.control_number,
                    BibRecord.title,
                    BibRecord.isbns,
                    BibRecord.matched_by,
                ).join(Library, Library.id == BibRecord.library_id)
            )
        ).all()

    rows = await _adb(demo, records)
    # Copies of one source record (same control number and title) in two libraries are one work.
    by_copy: dict[tuple[str, str], set[int]] = {}
    by_isbn: dict[str, set[int]] = {}
    for work_id, _code, control, title, isbns, _m in rows:
        if control:
            by_copy.setdefault((control, title), set()).add(work_id)
        for isbn in isbns:
            by_isbn.setdefault(isbn, set()).add(work_id)
    shared_copies = [k for k, works in by_copy.items() if len(works) >= 1]
    assert len(shared_copies) > 100
    assert all(len(works) == 1 for works in by_copy.values()), "a copied record split"
    assert all(len(works) == 1 for works in by_isbn.values()), "an ISBN split across works"
    # UOC and AEG share Koha records 100-149; TUC and CUT share jazz records 60-119.
    libraries: dict[int, set[str]] = {}
    for work_id, code, *_ in rows:
        libraries.setdefault(work_id, set()).add(code)
    assert sum(1 for libs in libraries.values() if {"UOC", "AEG"} <= libs) >= 45
    assert sum(1 for libs in libraries.values() if {"TUC", "CUT"} <= libs) >= 55
    assert all(m for *_, m in rows), "every record says why it joined its work"
    # jazz #376 (TUC, CUT) and traject's Louis Armstrong LP are different recordings.
    armstrong = {w for w, _c, _n, t, _i, _m in rows if "louis armstrong" in t.lower()}
    assert len(armstrong) >= 2


async def test_known_duplicate_pairs_from_different_catalogues_cluster(demo: Settings) -> None:
    """Koha #289/#298/#324 (UOC) and jazz #896/#854/#188 (TUC) were catalogued independently."""
    from kallimachos.indexer.reader import iter_records
    from tests.conftest import REPO

    demo_dir = REPO / "kallimachos" / "demo"
    uoc = [r for r in iter_records(demo_dir / "UOC.marcxml") if hasattr(r, "title")]
    tuc = [r for r in iter_records(demo_dir / "TUC.mrc") if hasattr(r, "title")]
    pairs = [
        (uoc[-3], tuc[-1]),
        (uoc[-2], tuc[-2]),
        (uoc[-1], tuc[-4]),
    ]  # 289~896, 298~854, 324~188

    async def work_of(session, library: str, title: str | None):  # type: ignore[no-untyped-def]
        return await session.scalar(
            select(BibRecord.work_id)
            .join(Library, Library.id == BibRecord.library_id)
            .where(Library.code == library, BibRecord.title == title)
        )

    for koha, jazz in pairs:
        uoc_work = await _adb(demo, lambda s, t=koha.title: work_of(s, "UOC", t))
        tuc_work = await _adb(demo, lambda s, t=jazz.title: work_of(s, "TUC", t))
        assert uoc_work is not None
        assert uoc_work == tuc_work, (koha.title, jazz.title)


async def test_loanable_only_follows_the_owning_library_policy(
    http: AsyncClient, demo: Settings
) -> None:
    """A work whose only copies are in a non-lending collection disappears from loanableOnly."""
    first = _search_body(await gql(http, SEARCH, {"f": {"libraries": ["AEG"]}, "first": 100}))
    target = next(
        e["node"]
        for e in first["edges"]
        if {h["library"]["code"] for h in e["node"]["holdings"]} == {"AEG"}
    )
    work_id = int(_db_id(target["id"]))

    async def make_reference(session):  # type: ignore[no-untyped-def]
        await session.execute(
            update(Item).where(Item.work_id == work_id).values(collection="reference")
        )
        now = SystemClock().now()
        record_event(
            session,
            actor=SYSTEM,
            now=now,
            recorded_at=now,
            aggregate_type="work",
            aggregate_id=work_id,
            kind="items.reclassified",
            payload={"work_ids": [work_id]},
        )

    await _adb(demo, make_reference)
    seen = await _poll_until_absent(
        http, target["id"], {"libraries": ["AEG"], "loanableOnly": True}
    )
    assert seen is False
    # the holdings on the page say why: live loanability from the policy, not the index
    result = _search_body(await gql(http, SEARCH, {"q": target["title"][:40], "first": 100}))
    node = next(e["node"] for e in result["edges"] if e["node"]["id"] == target["id"])
    assert all(not i["loanable"] for h in node["holdings"] for i in h["items"])
    assert all(h["loanableCount"] == 0 for h in node["holdings"])


async def test_available_only_follows_item_status_through_the_outbox(
    http: AsyncClient, demo: Settings
) -> None:
    result = _search_body(
        await gql(http, SEARCH, {"f": {"libraries": ["TUC"], "availableOnly": True}, "first": 100})
    )
    target = next(
        e["node"]
        for e in result["edges"]
        if {h["library"]["code"] for h in e["node"]["holdings"]} == {"TUC"}
    )
    work_id = int(_db_id(target["id"]))

    async def lend_all(session):  # type: ignore[no-untyped-def]
        await session.execute(update(Item).where(Item.work_id == work_id).values(status="ON_LOAN"))
        now = SystemClock().now()
        record_event(
            session,
            actor=SYSTEM,
            now=now,
            recorded_at=now,
            aggregate_type="work",
            aggregate_id=work_id,
            kind="items.lent",
            payload={"work_ids": [work_id]},
        )

    await _adb(demo, lend_all)
    assert (
        await _poll_until_absent(http, target["id"], {"libraries": ["TUC"], "availableOnly": True})
        is False
    )


async def _poll_until_absent(http: AsyncClient, node_id: str, work_filter: dict) -> bool:  # type: ignore[type-arg]
    """Search until the work leaves the filtered results (the drainer runs in the app)."""
    for _ in range(200):
        result = _search_body(await gql(http, SEARCH, {"f": work_filter, "first": 100}))
        ids = {e["node"]["id"] for e in result["edges"]}
        if node_id not in ids:
            return False
        await asyncio.sleep(0.05)  # polling for an asynchronous outcome, bounded at 10 s
    return True


def _db_id(global_id: str) -> str:
    import base64

    return base64.b64decode(global_id).decode().split(":", 1)[1]


@pytest.fixture
async def quiet_http(demo: Settings) -> AsyncIterator[AsyncClient]:
    """A client on an app without the background drainer, so only the request talks SQL."""
    app = create_app(demo, drain_outbox=False)
    async with app.router.lifespan_context(app):
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


async def test_sql_statements_per_page_do_not_grow_with_page_size(quiet_http: AsyncClient) -> None:
    http = quiet_http
    engine = http.app.state.parts.engine  # type: ignore[attr-defined]
    counts = []
    statement_log: list[list[str]] = []
    for size in (5, 50):
        statements: list[str] = []

        def count(conn, cursor, statement, *args, seen=statements):  # type: ignore[no-untyped-def]
            seen.append(statement)

        event.listen(engine.sync_engine, "before_cursor_execute", count)
        try:
            result = _search_body(await gql(http, SEARCH, {"first": size}))
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", count)
        assert len(result["edges"]) == size
        counts.append(len(statements))
        statement_log.append([" ".join(s.split())[:90] for s in statements])
    assert counts[0] == counts[1], (counts, statement_log)


async def test_pages_follow_cursors_without_overlap(http: AsyncClient) -> None:
    first = _search_body(await gql(http, SEARCH, {"first": 7}))
    second = _search_body(
        await gql(http, SEARCH, {"first": 7, "after": first["pageInfo"]["endCursor"]})
    )
    ids_1 = [e["node"]["id"] for e in first["edges"]]
    ids_2 = [e["node"]["id"] for e in second["edges"]]
    assert len(ids_2) == 7 and not set(ids_1) & set(ids_2)
    assert first["pageInfo"]["hasNextPage"] is True


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"first": 0}, "first must be between 1 and 100"),
        ({"first": 101}, "first must be between 1 and 100"),
        ({"after": "bm90LWEtY3Vyc29y"}, "is not a cursor"),
        ({"f": {"isbn": "12345"}}, "is not a valid ISBN"),
        ({"f": {"yearFrom": 2000, "yearTo": 1990}}, "yearFrom is after"),
    ],
)
async def test_invalid_search_arguments_get_clear_errors(
    http: AsyncClient,
    variables: dict,
    message: str,  # type: ignore[type-arg]
) -> None:
    body = await gql(http, SEARCH, variables)
    assert body["data"] is None
    assert message in body["errors"][0]["message"]  # type: ignore[index]
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"  # type: ignore[index]


async def test_work_query_lists_records_and_why_they_joined(http: AsyncClient) -> None:
    result = _search_body(await gql(http, SEARCH, {"q": "9789608838765"}))
    work_id = result["edges"][0]["node"]["id"]
    body = await gql(
        http,
        "query($id: ID!) { work(id: $id) { title records { library { code } matchedBy } } }",
        {"id": work_id},
    )
    records = body["data"]["work"]["records"]  # type: ignore[index]
    assert {r["library"]["code"] for r in records} == {"UOC", "CUT"}
    assert any(r["matchedBy"].startswith("isbn:") for r in records)


def test_index_rebuild_keeps_every_work_searchable(demo: Settings, tmp_path: Path) -> None:
    total_works = _db(demo, lambda s: s.scalar(select(func.count()).select_from(Work)))
    assert cli.main_with_settings(["index", "rebuild"], demo) == 0

    async def count() -> int:
        app = create_app(demo, drain_outbox=False)
        async with app.router.lifespan_context(app):
            async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as c:
                body = await gql(c, "{ search(first: 1) { totalCount } }")
        return int(body["data"]["search"]["totalCount"])  # type: ignore[index]

    assert asyncio.run(count()) == total_works


async def test_a_checkout_reaches_the_available_only_filter_through_the_outbox(
    http: AsyncClient, demo: Settings
) -> None:
    """Lend the only available copy of a work and watch it leave availableOnly (seconds)."""
    from tests.conftest import token_for

    result = _search_body(
        await gql(http, SEARCH, {"f": {"libraries": ["CUT"], "availableOnly": True}, "first": 100})
    )
    node = next(
        e["node"]
        for e in result["edges"]
        if [h["library"]["code"] for h in e["node"]["holdings"]] == ["CUT"]
        and sum(1 for h in e["node"]["holdings"] for i in h["items"] if i["status"] == "AVAILABLE")
        == 1
    )
    barcode = next(
        i["barcode"] for h in node["holdings"] for i in h["items"] if i["status"] == "AVAILABLE"
    )
    lent = await gql(
        http,
        'mutation($b: String!) { checkOut(input: {itemBarcode: $b, patronCardNumber: "CUT-ACADEM-001", branch: "CUT"}) { loan { id } userErrors { code } } }',
        {"b": barcode},
        token=token_for("staff", library="CUT"),
    )
    assert lent["data"]["checkOut"]["userErrors"] == []  # type: ignore[index]
    assert (
        await _poll_until_absent(http, node["id"], {"libraries": ["CUT"], "availableOnly": True})
        is False
    )
