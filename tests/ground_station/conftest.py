"""Fixtures of the ground station tests: real containers, a signed in-process client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from gs_support import Link, Scene, ground_settings, make_scene

from ground_station.app import create_app


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


@pytest.fixture
def make_link(tmp_path: Path) -> Iterator[Any]:
    """Start ground stations (on ``tmp_path`` unless told otherwise); stop them afterwards."""
    links: list[Link] = []

    def start(data_dir: Path | None = None, **overrides: Any) -> Link:
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
