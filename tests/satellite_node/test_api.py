"""The REST API without a ground: refused uploads, capacity (507), the link route, metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sat_harness import raster_for, satellite_settings, upload, wait_for

from satellite_node.app import create_app
from satellite_node.codec_choice import choose_codec
from shared.codecs.base import RateTarget
from shared.errors import ConfigurationError

_DONE = ("queued", "failed")
NOWHERE = "http://127.0.0.1:9"  # discard port: nothing answers, the sender only retries


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = satellite_settings(tmp_path, NOWHERE, run_sender=False, max_upload_bytes=200_000)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def detail(response: Any) -> str:
    return str(response.json()["detail"])


@pytest.mark.parametrize(
    ("task", "raster", "fields", "needle"),
    [
        ("building", np.zeros((3, 128, 128), np.uint16), {}, "3 bands"),
        ("fire", np.zeros((1, 32, 32), np.float32), {}, "dtype"),
        ("fire", np.full((1, 32, 32), 20000, np.uint16), {}, "14-bit"),
        ("fire", np.zeros((1, 32, 600), np.uint16), {}, "largest accepted 512x512"),
        ("lava", np.zeros((1, 32, 32), np.uint16), {}, "valid tasks"),
        ("fire", np.zeros((1, 32, 32), np.uint16), {"codec": "zip"}, "valid codecs"),
        ("fire", np.zeros((1, 32, 32), np.uint16), {"bpp": "1", "lossless": "true"}, "exactly one"),
        ("fire", np.zeros((1, 32, 32), np.uint16), {"priority": "urgent!"}, "priority"),
        # "²".isdigit() is True and int("²") raises: this was a 500
        ("fire", np.zeros((1, 32, 32), np.uint16), {"priority": "²"}, "priority"),
    ],
)
def test_bad_uploads_are_refused_with_what_was_wrong(
    client: TestClient, task: str, raster: np.ndarray, fields: dict[str, str], needle: str
) -> None:
    response = upload(client, raster, task, **fields)
    assert response.status_code == 422, response.text
    assert needle in detail(response)
    assert client.get("/v1/scenes").json()["count"] == 0
    assert client.get("/healthz").status_code == 200


def test_unreadable_files_and_masks_are_refused(client: TestClient) -> None:
    files = {"raster": ("scene.txt", b"hello", "text/plain")}
    response = client.post("/v1/scenes", data={"task": "fire"}, files=files)
    assert response.status_code == 422 and ".npy" in detail(response)
    files = {"raster": ("scene.npy", b"\x93NUMPY garbage", "application/octet-stream")}
    assert client.post("/v1/scenes", data={"task": "fire"}, files=files).status_code == 422
    fire = raster_for("fire", 1)
    response = upload(client, fire, "fire", mask=np.zeros((16, 16), np.uint8))
    assert response.status_code == 422 and "mask" in detail(response)
    response = upload(client, fire, "fire", mask=np.full((32, 32), 7, np.uint8))
    assert response.status_code == 422
    response = client.post("/v1/scenes", data={"task": "fire"})
    assert response.status_code == 422  # no raster at all


def test_oversize_upload_is_413_and_the_service_stays_up(client: TestClient) -> None:
    big = raster_for("building", 2, side=256)  # 1.3 MB over the 200 kB limit
    response = upload(client, big, "building")
    assert response.status_code == 413 and "upload limit" in detail(response)
    good = upload(client, raster_for("fire", 3), "fire")
    assert good.status_code == 202


def test_a_good_upload_is_compressed_and_queued(client: TestClient) -> None:
    mask = np.zeros((32, 32), np.uint8)
    mask[10:14, 10:14] = 1
    response = upload(client, raster_for("fire", 4), "fire", mask=mask, bpp="2")
    assert response.status_code == 202
    scene_id = response.json()["scene_id"]
    assert response.json()["state"] == "received"
    view = wait_for(
        lambda: (v := client.get(f"/v1/scenes/{scene_id}").json())["state"] == "queued" and v,
        60,
        "compression",
    )
    assert view["priority"] == "alert" and view["codec_used"] == "jpeg2000" and view["has_mask"]
    assert view["bpp"] > 0 and view["psnr_db"] > 20 and view["container_bytes"] > 0
    listed = client.get("/v1/scenes", params={"state": "queued"}).json()
    assert [s["scene_id"] for s in listed["scenes"]] == [scene_id]
    metrics = client.get("/metrics").text
    assert 'eodl_sat_queue_depth{priority="alert"} 1.0' in metrics
    assert "eodl_sat_bytes_pending" in metrics and "eodl_sat_link_utilisation" in metrics
    assert client.get("/v1/scenes/nope").status_code == 404


def test_auto_codec_is_resolved_by_the_policy_and_recorded(client: TestClient) -> None:
    response = upload(client, raster_for("cloud", 5, side=64), "cloud", codec="auto", bpp="1.5")
    scene_id = response.json()["scene_id"]
    view = wait_for(
        lambda: (v := client.get(f"/v1/scenes/{scene_id}").json())["state"] in _DONE and v,
        120,
        "compression",
    )
    checkpoints = client.app.state.context.worker.checkpoints  # type: ignore[attr-defined]
    expected = choose_codec("auto", "cloud", checkpoints, RateTarget(bpp=1.5))
    assert view["state"] == "queued", view["reason"]
    assert view["codec"] == "auto" and view["codec_used"] == expected.name


def test_full_store_refuses_with_507(tmp_path: Path) -> None:
    settings = satellite_settings(
        tmp_path, NOWHERE, run_sender=False, run_worker=False, capacity_bytes=3000
    )
    with TestClient(create_app(settings)) as client:
        assert upload(client, raster_for("fire", 6), "fire").status_code == 202
        response = upload(client, raster_for("fire", 7), "fire")
        assert response.status_code == 507
        assert "store is full" in detail(response) and "SAT_CAPACITY_BYTES" in detail(response)
        assert client.get("/v1/scenes").json()["count"] == 1


def test_link_profile_can_be_read_and_replaced(client: TestClient) -> None:
    view = client.get("/v1/link").json()
    assert view["in_pass"] is True and view["profile"]["rate_bps"] == 50e6
    new = {"rate_bps": 1e6, "pass_period_s": 1000, "pass_duration_s": 1, "pass_offset_s": 500}
    view = client.put("/v1/link", json=new).json()
    assert view["in_pass"] is False and view["next_up_s"] == 500
    bad = client.put("/v1/link", json={"rate_bps": 1e6, "pass_period_s": 5})
    assert bad.status_code == 422


def test_a_missing_link_key_fails_fast(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="SAT_LINK_KEY"):
        create_app(satellite_settings(tmp_path, NOWHERE, link_key=None))
