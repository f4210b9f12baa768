"""The ground's roles: each serves its own routes, the shared-work roles refuse a database
that cannot share work (with what to set), and an unknown role is refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from gs_support import Link, ground_settings, make_scene

from ground_station.app import ROLES, create_app
from shared.errors import ConfigurationError
from workbench.postgres import PostgresServer


@pytest.mark.parametrize("role", ["receiver", "worker"])
def test_a_shared_work_role_on_sqlite_says_to_use_postgresql(role: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="GS_DATABASE_URL=postgresql"):
        create_app(ground_settings(tmp_path), role=role)


def test_an_unknown_role_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown ground role 'ingest'.*receiver"):
        create_app(ground_settings(tmp_path), role="ingest")
    assert set(ROLES) == {"all", "receiver", "worker", "api"}


def test_receiver_and_api_split_the_routes_over_one_database(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    url = postgres_server.new_database()
    settings = ground_settings(tmp_path, database_url=url)
    scene = make_scene()
    with TestClient(create_app(settings, role="receiver")) as receiver:
        Link(receiver).upload("roles-1", scene.data)  # queued for a worker, none running
        assert receiver.get("/").status_code == 404  # no dashboard here
        assert receiver.get("/readyz").json()["role"] == "receiver"
    with TestClient(create_app(settings, role="api")) as api:
        view = api.get("/v1/transfers/roles-1").json()
        assert view["state"] == "committed"  # received, not yet processed
        refused = Link(api).create("roles-2", scene.data)
        assert refused.status_code in (404, 405)  # the API role takes no transfers
        assert api.get("/readyz").json()["checks"].keys() == {"database", "store"}
        metrics = api.get("/metrics").text
        assert 'eodl_ground_jobs{status="todo"} 1.0' in metrics  # roles-1 waits for a worker
