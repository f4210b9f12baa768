"""The typed satellite client against the real app: uploads from arrays and files, typed
answers, refusals and an unreachable node as errors that say why, the form named once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sat_harness import raster_for, satellite_settings

from satellite_node.app import create_app
from satellite_node.client import SatelliteClient, SceneRefused
from shared.errors import LinkError
from shared.protocol.scenes import BAND_FILES_FIELD, MASK_FIELD, RASTER_FIELD, SceneRequest

NOWHERE = "http://127.0.0.1:9"  # discard port: nothing answers


@pytest.fixture
def satellite(tmp_path: Path) -> Iterator[SatelliteClient]:
    settings = satellite_settings(tmp_path, NOWHERE, run_sender=False)
    with TestClient(create_app(settings)) as http:
        yield SatelliteClient(http)


def test_an_array_upload_answers_with_typed_views(satellite: SatelliteClient) -> None:
    raster = raster_for("fire", 1)
    mask = (raster[0] > np.median(raster[0])).astype(np.uint8)
    request = SceneRequest(task="fire", codec="jpeg2000", bpp=4.0, priority="high")
    accepted = satellite.upload(raster, request, mask=mask)
    view = satellite.scene(accepted.scene_id)
    assert (view.task, view.codec, view.priority, view.has_mask) == (
        "fire",
        "jpeg2000",
        "high",
        True,
    )
    assert view.rate["bpp"] == 4.0 and view.state == "received"
    listed = satellite.scenes()
    assert [s.scene_id for s in listed.scenes] == [accepted.scene_id] and listed.count == 1


def test_a_file_upload_keeps_its_name(satellite: SatelliteClient, tmp_path: Path) -> None:
    path = tmp_path / "patch-7.npy"
    np.save(path, raster_for("fire", 7))
    accepted = satellite.upload(path, SceneRequest(task="fire", lossless=True))
    view = satellite.scene(accepted.scene_id)
    assert view.raster_name == "patch-7.npy" and view.lossless


def test_a_refused_scene_raises_with_the_reason(satellite: SatelliteClient) -> None:
    wrong = np.zeros((3, 128, 128), np.uint16)
    with pytest.raises(SceneRefused, match="3 bands") as refused:
        satellite.upload(wrong, SceneRequest(task="building"))
    assert refused.value.status_code == 422
    assert satellite.scenes().count == 0  # nothing was stored
    with pytest.raises(SceneRefused) as missing:
        satellite.scene("no-such-scene")
    assert missing.value.status_code == 404


def test_waiting_returns_what_ended_within_the_time(satellite: SatelliteClient) -> None:
    accepted = satellite.upload(raster_for("fire", 2), SceneRequest(task="fire", bpp=4.0))
    assert satellite.wait_final([accepted.scene_id], timeout_s=0.3, every_s=0.1) == {}


def test_an_unreachable_satellite_says_where_it_looked() -> None:
    with SatelliteClient.connect(NOWHERE, timeout_s=2.0) as satellite:
        with pytest.raises(LinkError, match="cannot reach the satellite at http://127.0.0.1:9"):
            satellite.scenes()


def test_the_request_names_exactly_the_routes_form_fields(tmp_path: Path) -> None:
    app = create_app(satellite_settings(tmp_path, NOWHERE, run_sender=False))
    body = app.openapi()["paths"]["/v1/scenes"]["post"]["requestBody"]["content"]
    schema_ref = body["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]
    fields = set(app.openapi()["components"]["schemas"][schema_ref]["properties"])
    assert fields == set(SceneRequest.model_fields) | {RASTER_FIELD, MASK_FIELD, BAND_FILES_FIELD}
