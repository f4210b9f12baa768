"""A Sentinel-2-style band set uploaded as a product delivers it (ten single-band files named
by band, 10 m and 20 m): one scene in the profile's band order on the 10 m grid, its
georeference kept onboard and written into its container; a band missing is refused with
what was uploaded, and nothing is stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sat_harness import satellite_settings, wait_for

from satellite_node.app import create_app
from shared.sensors.profiles import get_profile
from shared.wire import read_header

rasterio = pytest.importorskip("rasterio", reason="rasterio is a dependency: make test installs it")
TWENTY_M = {"B05", "B06", "B07", "B8A", "B11", "B12"}


@pytest.fixture
def satellite(tmp_path: Path) -> Iterator[TestClient]:
    settings = satellite_settings(tmp_path / "sat", "http://127.0.0.1:9", run_sender=False)
    with TestClient(create_app(settings)) as client:
        yield client


def _band_files(folder: Path) -> list[Path]:
    from rasterio.transform import from_origin

    paths = []
    rng = np.random.default_rng(2)
    for band in reversed(get_profile("building").band_names):  # not the profile's order
        side, pixel = (64, 20.0) if band in TWENTY_M else (128, 10.0)
        values = (1500 + 400 * rng.random((1, side, side))).astype(np.uint16)
        path = folder / f"T33TWM_20240601T100031_{band}.tif"
        with rasterio.open(
            path, "w", driver="GTiff", width=side, height=side, count=1, dtype="uint16",
            crs="EPSG:32633", transform=from_origin(500000.0, 5100000.0, pixel, pixel),
        ) as out:  # fmt: skip
            out.write(values)
        paths.append(path)
    return paths


def _files(paths: list[Path]) -> list[tuple[str, Any]]:
    parts = [("raster", (paths[0].name, paths[0].read_bytes(), "image/tiff"))]
    return parts + [("band_files", (p.name, p.read_bytes(), "image/tiff")) for p in paths[1:]]


def test_a_band_set_becomes_one_georeferenced_scene(satellite: TestClient, tmp_path: Path) -> None:
    paths = _band_files(tmp_path)
    form = {"task": "building", "codec": "jpeg2000", "bpp": "4", "acquired": "2024-06-01T10:00:31Z"}
    answer = satellite.post("/v1/scenes", files=_files(paths), data=form)
    assert answer.status_code == 202, answer.text
    scene_id = answer.json()["scene_id"]
    view = wait_for(lambda: _compressed(satellite, scene_id), 120, "compression")
    assert view["georef"]["crs"] == "EPSG:32633"
    assert view["georef"]["transform"] == [10.0, 0.0, 500000.0, 0.0, -10.0, 5100000.0]
    assert view["georef_note"].startswith("EPSG:32633, 10 m pixels")
    header = view["header"] if "header" in view else None
    assert header is None or header["georef"]["crs"] == "EPSG:32633"


def _compressed(satellite: TestClient, scene_id: str) -> dict[str, Any] | None:
    view = satellite.get(f"/v1/scenes/{scene_id}").json()
    assert view["state"] != "failed", view
    return view if view["container_bytes"] else None


def test_the_container_carries_the_georeference(satellite: TestClient, tmp_path: Path) -> None:
    paths = _band_files(tmp_path)
    answer = satellite.post(
        "/v1/scenes", files=_files(paths), data={"task": "building", "codec": "jpeg2000"}
    )
    scene_id = answer.json()["scene_id"]
    wait_for(lambda: _compressed(satellite, scene_id), 120, "compression")
    store = satellite.app.state.context.store
    version = store.get(scene_id).container_version
    header = read_header(store.container_path(scene_id, version).read_bytes())
    assert header.georef is not None and header.georef.crs == "EPSG:32633"
    assert (header.bands, header.height, header.width) == (10, 128, 128)


def test_a_band_set_missing_a_band_is_refused_and_nothing_stored(
    satellite: TestClient, tmp_path: Path
) -> None:
    paths = [p for p in _band_files(tmp_path) if not p.stem.endswith("_B8A")]
    answer = satellite.post("/v1/scenes", files=_files(paths), data={"task": "building"})
    assert answer.status_code == 422
    assert "'B8A' matches none of the files uploaded" in answer.json()["detail"]
    assert satellite.get("/v1/scenes").json()["count"] == 0
