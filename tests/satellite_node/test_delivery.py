"""Upload to delivery through a real ground station on loopback, and everything in between
going wrong: the ground down, slow or answering 5xx, an alert arriving mid-transfer, a restart.
Each test asserts that every scene is delivered exactly once and nothing is lost."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from faults import FaultInjector
from sat_harness import (
    ServerThread,
    free_port,
    ground_app,
    ground_transfers,
    raster_for,
    satellite_settings,
    upload,
    wait_for,
    wait_states,
)

from satellite_node.app import create_app

SMALL_CHUNK = 16 * 1024


@pytest.fixture(scope="module")
def ground(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerThread, FaultInjector]]:
    """One real ground for the module (its start-up is slow), behind an idle fault injector."""
    injector = FaultInjector(ground_app(tmp_path_factory.mktemp("ground")), [])
    server = ServerThread(injector).start()
    yield server, injector
    server.stop()


def transfers_of(ground_url: str, scene_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {s: [] for s in scene_ids}
    for transfer in ground_transfers(ground_url):
        if transfer["scene_id"] in found:
            found[transfer["scene_id"]].append(transfer)
    return found


def assert_delivered_once(client: TestClient, ground_url: str, scene_ids: list[str]) -> None:
    """Every scene delivered, its receipt matching its container, one committed transfer each."""
    views = wait_states(client, scene_ids, ("delivered", "failed"), 120)
    assert [v["state"] for v in views] == ["delivered"] * len(scene_ids), views
    held = transfers_of(ground_url, scene_ids)
    for view in views:
        assert view["receipt"]["sha256"] == view["container_sha256"]
        (transfer,) = held[view["scene_id"]]
        assert transfer["sha256"] == view["container_sha256"]
        assert transfer["state"] != "receiving" and transfer["missing"] == []


def metric(client: TestClient, name: str) -> float:
    total = 0.0
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_upload_to_delivery_through_a_real_ground(
    ground: tuple[ServerThread, FaultInjector], tmp_path: Path
) -> None:
    server, _ = ground
    with TestClient(create_app(satellite_settings(tmp_path, server.url))) as client:
        ids = []
        for task, seed in (("fire", 1), ("cloud", 2), ("building", 3)):
            raster = raster_for(task, seed)
            mask = (raster[0] > np.median(raster[0])).astype(np.uint8)
            response = upload(client, raster, task, mask=mask, bpp="2")
            assert response.status_code == 202
            ids.append(response.json()["scene_id"])
        assert_delivered_once(client, server.url, ids)
        store = client.app.state.context.store  # type: ignore[attr-defined]
        assert list(store.containers_dir.iterdir()) == []
        assert list(store.incoming_dir.iterdir()) == []
        assert metric(client, "eodl_sat_delivered_total") == 3
        assert metric(client, "eodl_sat_bytes_pending") == 0


def test_patches_of_one_pass_travel_in_one_transfer_and_are_processed_on_the_ground(
    ground: tuple[ServerThread, FaultInjector], tmp_path: Path
) -> None:
    """Six 32x32 fire patches uploaded together: one scene onboard, one container (a patch
    directory), one transfer; the ground decodes, segments and measures them as a 2x3 grid."""
    server, _ = ground
    patches = np.stack([raster_for("fire", seed) for seed in range(6)])
    masks = (patches[:, 0] > np.median(patches)).astype(np.uint8)
    with TestClient(create_app(satellite_settings(tmp_path, server.url))) as client:
        response = upload(client, patches, "fire", mask=masks, bpp="2", patches="true")
        assert response.status_code == 202, response.text
        scene_id = response.json()["scene_id"]
        assert_delivered_once(client, server.url, [scene_id])
        (view,) = wait_states(client, [scene_id], ("delivered",), 5)
        assert view["patch_shape"] == [32, 32] and view["bpp"] < 2.2
        bad = upload(client, patches[0, 0], "fire", patches="true")  # one (h, w): no patches
        assert bad.status_code == 422 and "patches of shape" in bad.json()["detail"]

    def processed() -> dict[str, Any] | None:
        (held,) = transfers_of(server.url, [scene_id])[scene_id]
        return held if held["state"] in ("processed", "failed") else None

    transfer = wait_for(processed, 120, "the ground to process the patches")
    assert transfer["state"] == "processed", transfer
    assert transfer["patch_shape"] == [32, 32] and (transfer["height"], transfer["width"]) == (
        64,
        96,
    )
    assert transfer["psnr_db"] > 25 and transfer["bpp"] < 2.2 and transfer["mask_url"]
    assert transfer["f1_positive"] is not None


def test_a_ground_that_is_down_delays_delivery_and_loses_nothing(
    ground: tuple[ServerThread, FaultInjector], tmp_path: Path
) -> None:
    server, injector = ground
    port = free_port()  # nothing listens here yet: connections are refused
    settings = satellite_settings(tmp_path, f"http://127.0.0.1:{port}", chunk_bytes=SMALL_CHUNK)
    with TestClient(create_app(settings)) as client:
        ids = [
            upload(client, raster_for("cloud", 10 + i, side=128), "cloud", lossless="true").json()[
                "scene_id"
            ]
            for i in range(2)
        ]
        wait_for(
            lambda: metric(client, 'eodl_sat_retries_total{reason="transport"}') >= 3,
            60,
            "retries against the down ground",
        )
        assert all(
            v["state"] in ("queued", "downlinking")
            for v in wait_states(client, ids, ("queued", "downlinking"), 30)
        )
        second_door = ServerThread(injector, port, lifespan=False).start()  # the ground comes up
        try:
            assert_delivered_once(client, server.url, ids)
        finally:
            second_door.stop()


def test_a_ground_answering_5xx_or_stalling_delays_delivery_and_loses_nothing(
    ground: tuple[ServerThread, FaultInjector], tmp_path: Path
) -> None:
    server, injector = ground
    settings = satellite_settings(
        tmp_path, server.url, chunk_bytes=SMALL_CHUNK, request_timeout_s=0.5
    )
    injector.delay_s = 1.0
    injector.plan = [
        "503",
        "ok",
        "slow",
        "500-after",
        "503",
        "ok",
        "ok",
        "slow",
        "500-after",
        "ok",
        "503",
    ]
    try:
        with TestClient(create_app(settings)) as client:
            response = upload(client, raster_for("building", 20), "building", lossless="true")
            scene_id = response.json()["scene_id"]
            assert_delivered_once(client, server.url, [scene_id])
            assert metric(client, 'eodl_sat_retries_total{reason="http_5xx"}') >= 5
            assert metric(client, 'eodl_sat_retries_total{reason="timeout"}') >= 2
    finally:
        injector.plan = []
    assert injector.injected.count("503") == 3


def test_an_alert_uploaded_mid_transfer_goes_out_next(
    ground: tuple[ServerThread, FaultInjector], tmp_path: Path
) -> None:
    server, _ = ground
    settings = satellite_settings(tmp_path, server.url, link_rate_bps=1e6, chunk_bytes=SMALL_CHUNK)
    with TestClient(create_app(settings)) as client:
        bulk = [
            upload(client, raster_for("building", 30 + i), "building", lossless="true").json()[
                "scene_id"
            ]
            for i in range(2)
        ]
        wait_for(
            lambda: any(
                t and t[0]["received_chunks"] >= 2 for t in transfers_of(server.url, bulk).values()
            ),
            60,
            "the first building tile to be mid-transfer",
        )
        alert = upload(client, raster_for("fire", 31), "fire", bpp="4").json()["scene_id"]
        assert_delivered_once(client, server.url, [alert, *bulk])
        views = {v["scene_id"]: v for v in client.get("/v1/scenes").json()["scenes"]}
        assert views[alert]["priority"] == "alert"
        assert views[alert]["delivered_at"] < min(views[b]["delivered_at"] for b in bulk)
        assert metric(client, "eodl_sat_preemptions_total") >= 1
        held = transfers_of(server.url, [alert, *bulk])  # the protocol: higher is more urgent
        assert held[alert][0]["priority"] > max(held[b][0]["priority"] for b in bulk)


def test_a_restarted_node_resumes_without_loss_or_duplication(
    ground: tuple[ServerThread, FaultInjector], tmp_path: Path
) -> None:
    server, _ = ground
    slow = satellite_settings(tmp_path, server.url, link_rate_bps=1e6, chunk_bytes=SMALL_CHUNK)
    with TestClient(create_app(slow)) as client:
        sending = upload(client, raster_for("building", 40), "building", lossless="true")
        sending_id = sending.json()["scene_id"]
        wait_for(
            lambda: (
                (t := transfers_of(server.url, [sending_id])[sending_id])
                and t[0]["received_chunks"] >= 3
            ),
            60,
            "a partial transfer",
        )
    held_before = transfers_of(server.url, [sending_id])[sending_id][0]
    assert held_before["state"] == "receiving" and held_before["missing"]
    stalled = satellite_settings(tmp_path, server.url, run_worker=False, run_sender=False)
    with TestClient(create_app(stalled)) as client:  # a scene left in `received`
        waiting_id = upload(client, raster_for("fire", 41), "fire").json()["scene_id"]
    with TestClient(create_app(satellite_settings(tmp_path, server.url))) as client:
        assert client.get(f"/v1/scenes/{sending_id}").json()["state"] == "downlinking"
        assert_delivered_once(client, server.url, [sending_id, waiting_id])
        missing = held_before["chunk_count"] - held_before["received_chunks"]
        chunks_fire = client.get(f"/v1/scenes/{waiting_id}").json()["container_bytes"]
        fire_chunks = -(-chunks_fire // (1024 * 1024))
        assert metric(client, "eodl_sat_chunks_sent_total") == missing + fire_chunks
