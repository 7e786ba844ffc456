"""The walking skeleton through HTTP: libraries, nodes, patrons, tokens, health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from httpx import AsyncClient

from kallimachos.api.tokens import issue_token
from kallimachos.domain.actors import Actor, ActorKind
from tests.conftest import TEST_SECRET, gql, token_for

LIBRARIES = "{ libraries { code country branches { code } } }"
PATRON = "query($card: String!) { patron(cardNumber: $card) { cardNumber category library { code } homeBranch { code } } }"


async def test_libraries_lists_the_four_members_with_their_branches(client: AsyncClient) -> None:
    body = await gql(client, LIBRARIES)
    libraries = {lib["code"]: lib for lib in body["data"]["libraries"]}  # type: ignore[index]
    assert set(libraries) == {"TUC", "UOC", "CUT", "AEG"}
    assert [b["code"] for b in libraries["AEG"]["branches"]] == sorted(
        ["AEG-MYT", "AEG-CHI", "AEG-SAM", "AEG-RHO", "AEG-SYR", "AEG-LEM"]
    )
    assert {b["code"] for b in libraries["UOC"]["branches"]} >= {"UOC-HER", "UOC-RET"}
    assert [b["code"] for b in libraries["TUC"]["branches"]] == ["TUC"]
    assert [b["code"] for b in libraries["CUT"]["branches"]] == ["CUT"]
    assert libraries["CUT"]["country"] == "CY"
    assert libraries["UOC"]["country"] == "GR"


async def test_external_suppliers_are_listed_only_when_asked(client: AsyncClient) -> None:
    body = await gql(client, "{ libraries(includeExternalSuppliers: true) { code role } }")
    roles = {lib["code"]: lib["role"] for lib in body["data"]["libraries"]}  # type: ignore[index]
    assert {"BL", "SUBITO", "EKT", "VDX", "CYUC"} <= set(roles)
    assert roles["BL"] == "EXTERNAL_SUPPLIER"
    assert roles["UOC"] == "MEMBER"


async def test_node_resolves_a_library_by_its_global_id(client: AsyncClient) -> None:
    body = await gql(client, "{ libraries { id code } }")
    uoc = next(lib for lib in body["data"]["libraries"] if lib["code"] == "UOC")  # type: ignore[index]
    node = await gql(
        client, "query($id: ID!) { node(id: $id) { ... on Library { code } } }", {"id": uoc["id"]}
    )
    assert node["data"] == {"node": {"code": "UOC"}}


async def test_patron_sees_themself(client: AsyncClient) -> None:
    card = "UOC-UNDERG-003"
    body = await gql(client, PATRON, {"card": card}, token=token_for("patron", card_number=card))
    assert body["data"] == {
        "patron": {
            "cardNumber": card,
            "category": "undergraduate",
            "library": {"code": "UOC"},
            "homeBranch": {"code": "UOC-HER"},
        }
    }


async def test_patron_cannot_see_another_patron(client: AsyncClient) -> None:
    token = token_for("patron", card_number="UOC-UNDERG-003")
    body = await gql(client, PATRON, {"card": "UOC-FACULT-001"}, token=token)
    assert body["data"] == {"patron": None}
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # type: ignore[index]


async def test_staff_see_their_own_library_patrons_only(client: AsyncClient) -> None:
    staff = token_for("staff", library="UOC")
    own = await gql(client, PATRON, {"card": "UOC-FACULT-001"}, token=staff)
    assert own["data"]["patron"]["cardNumber"] == "UOC-FACULT-001"  # type: ignore[index]
    other = await gql(client, PATRON, {"card": "AEG-FACULT-001"}, token=staff)
    assert other["data"] == {"patron": None}
    assert other["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # type: ignore[index]


async def test_anonymous_gets_no_patron_data(client: AsyncClient) -> None:
    body = await gql(client, PATRON, {"card": "UOC-FACULT-001"})
    assert body["data"] == {"patron": None}
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # type: ignore[index]


async def test_patron_node_is_hidden_from_other_actors(client: AsyncClient) -> None:
    admin = token_for("admin")
    found = await gql(client, '{ patron(cardNumber: "CUT-ALUMNI-007") { id } }', token=admin)
    patron_id = found["data"]["patron"]["id"]  # type: ignore[index]
    query = "query($id: ID!) { node(id: $id) { ... on Patron { cardNumber } } }"
    seen_by_admin = await gql(client, query, {"id": patron_id}, token=admin)
    assert seen_by_admin["data"] == {"node": {"cardNumber": "CUT-ALUMNI-007"}}
    seen_by_other_staff = await gql(
        client, query, {"id": patron_id}, token=token_for("staff", library="TUC")
    )
    assert seen_by_other_staff["data"] == {"node": None}
    seen_by_anonymous = await gql(client, query, {"id": patron_id})
    assert seen_by_anonymous["data"] == {"node": None}


async def test_unknown_card_returns_null_for_staff(client: AsyncClient) -> None:
    body = await gql(client, PATRON, {"card": "NOPE-1"}, token=token_for("staff", library="UOC"))
    assert body["data"] == {"patron": None}
    assert "errors" not in body


async def test_invalid_token_is_refused_with_401(client: AsyncClient) -> None:
    body = await gql(client, LIBRARIES, token="not-a-token")
    assert body["_status"] == 401
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"  # type: ignore[index]


async def test_token_signed_with_another_secret_is_refused(client: AsyncClient) -> None:
    forged = issue_token(
        Actor(ActorKind.ADMIN),
        "another-secret-that-is-long-enough-for-hs256",
        now=datetime.now(UTC),
        ttl=timedelta(hours=1),
    )
    body = await gql(client, LIBRARIES, token=forged)
    assert body["_status"] == 401


async def test_expired_token_is_refused(client: AsyncClient) -> None:
    expired = issue_token(
        Actor(ActorKind.ADMIN),
        TEST_SECRET,
        now=datetime.now(UTC) - timedelta(hours=2),
        ttl=timedelta(hours=1),
    )
    body = await gql(client, LIBRARIES, token=expired)
    assert body["_status"] == 401
    assert "expired" in body["errors"][0]["message"]  # type: ignore[index]


async def test_business_time_header_is_honoured_in_sandbox_mode(client: AsyncClient) -> None:
    body = await gql(client, "{ businessTime }", now="2027-01-15T09:30:00+02:00")
    assert body["data"] == {"businessTime": "2027-01-15T07:30:00+00:00"}


async def test_business_time_header_without_timezone_is_refused(client: AsyncClient) -> None:
    body = await gql(client, "{ businessTime }", now="2027-01-15T09:30:00")
    assert body["_status"] == 400
    assert body["errors"][0]["extensions"]["code"] == "BAD_BUSINESS_TIME"  # type: ignore[index]


async def test_query_deeper_than_the_limit_is_refused(client: AsyncClient) -> None:
    nested = "code"
    for _ in range(7):
        nested = f"branches {{ library {{ {nested} }} }}"
    deep = f"{{ libraries {{ {nested} }} }}"
    body = await gql(client, deep)
    assert body["data"] is None
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]  # type: ignore[index]


async def test_graphiql_is_served_on_get(client: AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_health_reports_database_and_embedded_search(client: AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["database"]["engine"] == "sqlite"
    assert body["search"] == {
        "ok": True,
        "engine": "embedded-fts5",
        "version": body["search"]["version"],
    }
