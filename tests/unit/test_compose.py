"""docker-compose.yml is checked by parsing: no Docker engine runs here."""

from __future__ import annotations

from typing import Any

import yaml

from tests.conftest import REPO


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_compose_runs_api_postgres_and_a_two_node_opensearch_cluster() -> None:
    services = _compose()["services"]
    assert set(services) == {"api", "postgres", "opensearch-node1", "opensearch-node2"}
    seeds = services["opensearch-node1"]["environment"]["discovery.seed_hosts"]
    assert seeds == "opensearch-node1,opensearch-node2"
    assert services["opensearch-node2"]["environment"]["node.name"] == "opensearch-node2"


def test_every_image_is_pinned_and_every_service_has_a_health_check() -> None:
    for name, service in _compose()["services"].items():
        image = service["image"]
        tag = image.rpartition(":")[2]
        assert ":" in image and tag not in ("", "latest"), f"{name}: image {image} is not pinned"
        assert service["healthcheck"]["test"], f"{name} has no health check"


def test_stateful_services_keep_their_data_in_named_volumes() -> None:
    compose = _compose()
    for name in ("postgres", "opensearch-node1", "opensearch-node2"):
        volume = compose["services"][name]["volumes"][0].split(":")[0]
        assert volume in compose["volumes"], f"{name} data is not in a named volume"


def test_api_waits_for_healthy_dependencies_and_uses_them() -> None:
    api = _compose()["services"]["api"]
    assert all(dep["condition"] == "service_healthy" for dep in api["depends_on"].values())
    env = api["environment"]
    assert env["KALLIMACHOS_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert env["KALLIMACHOS_OPENSEARCH_URL"] == "http://opensearch-node1:9200"
    assert (REPO / "Dockerfile").is_file()
