"""Fixtures of the ground station tests: real containers, a signed in-process client."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from gs_support import Link, Scene, ground_settings, make_scene

from ground_station.app import create_app
from workbench.postgres import PostgresServer, find_binaries


@pytest.fixture(scope="session")
def scene() -> Scene:
    return make_scene()


@pytest.fixture(scope="session")
def segmenter_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (untrained, seeded) cloud U-Net checkpoint in the shipped format."""
    import torch

    from shared.models.segmentation import UnetConfig, build_unet, save_segmenter

    root = tmp_path_factory.mktemp("segmenters")
    torch.manual_seed(0)
    config = UnetConfig("mobilenet_v2", 1, 3, (32, 16, 8))
    save_segmenter(
        build_unet(config), root / "cloud.json", config, {"task": "cloud", "threshold": 0.5}
    )
    return root


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL for the session (Debian's binaries in a temporary folder), or a skip
    that says why none can start here."""
    bin_dir, why = find_binaries()
    if bin_dir is None:
        pytest.skip(why)
    folder = Path(tempfile.mkdtemp(prefix="eodl-pg-"))
    server = PostgresServer(bin_dir, folder).start()
    server.wait_ready()
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """The ground's database: SQLite in its data folder (the default), or a fresh database on
    the session's PostgreSQL: the ground's suite runs against both."""
    if request.param == "sqlite":
        return None
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database()


@pytest.fixture
def make_link(tmp_path: Path, database_url: str | None) -> Iterator[Any]:
    """Start ground stations (on ``tmp_path`` unless told otherwise, on the parametrized
    database); stop them afterwards."""
    links: list[Link] = []

    def start(data_dir: Path | None = None, **overrides: Any) -> Link:
        if database_url is not None:
            overrides.setdefault("database_url", database_url)
        app = create_app(ground_settings(data_dir or tmp_path, **overrides))
        client = TestClient(app)
        client.__enter__()
        links.append(Link(client))
        return links[-1]

    yield start
    for link in reversed(links):
        link.close()


@pytest.fixture
def link(make_link: Any) -> Link:
    return make_link()
