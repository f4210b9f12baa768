"""The dashboard in process: pages and assets are served, the imagery matches an independent
decode (band order, TP/FP/FN counts), charts are PNGs, and bad requests are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gs_support import Link, ground_settings

from ground_station import dashboard
from ground_station.app import create_app
from ground_station.dashboard import imagery
from ground_station.dashboard.panels import read_mask_png
from ground_station.processing.product import PRODUCT_NAME, load_product
from shared.codecs.base import RateTarget
from shared.compression import compress_raster, decompress_container
from shared.models.segmentation import UnetConfig, build_unet, save_segmenter
from shared.sensors.profiles import PROFILES
from shared.wire.georef import Georef
from workbench.datasets.generate import generate_scene

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_segmenters(root: Path) -> Path:
    """A real (untrained, seeded) U-Net checkpoint per task, in the shipped format."""
    root.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    for task, profile in PROFILES.items():
        config = UnetConfig("mobilenet_v2", profile.bands, 3, (32, 16, 8))
        fields = {"task": task, "threshold": 0.5}
        save_segmenter(build_unet(config), root / f"{task}.json", config, fields)
    return root


def task_container(
    task: str, seed: int, bpp_per_band: float, georef: Georef | None = None
) -> bytes:
    """A generated scene of ``task`` with its truth mask, JPEG 2000 at a rate per band (placed
    on the Earth by ``georef``)."""
    scene = generate_scene(task, seed)
    profile = PROFILES[task]
    compressed = compress_raster(
        scene.image,
        codec="jpeg2000",
        target=RateTarget(bpp=bpp_per_band * profile.bands),
        scale=profile.global_max,
        bit_depth=profile.bit_depth,
        metadata={"scene_id": scene.scene_id, "task": task, "rate_target": f"{bpp_per_band:g}"},
        truth_mask=scene.mask,
        reconstruction_check=True,
        georef=georef,
    )
    return compressed.container


def with_dashboard(app: FastAPI) -> FastAPI:
    """Serve this dashboard, ahead of any other page the ground's ``create_app`` put on ``/``.

    (Until ``create_app`` includes ``ground_station.dashboard.router`` itself.)
    """
    if any(getattr(route, "path", None) == "/dashboard/static/{name}" for route in app.routes):
        return app
    before = list(app.router.routes)
    app.include_router(dashboard.router)
    app.router.routes[:] = app.router.routes[len(before) :] + before
    return app


@pytest.fixture(scope="module")
def ground(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One ground station with a processed fire and building transfer and the containers."""
    root = tmp_path_factory.mktemp("dashboard")
    app = with_dashboard(
        create_app(ground_settings(root / "gs", segmenter_dir=write_segmenters(root / "seg")))
    )
    containers = {
        "fire": task_container("fire", 1, 4.0),
        "building": task_container("building", 2, 1.0),
    }
    with TestClient(app) as client:
        link = Link(client)
        for task, data in containers.items():
            link.upload(f"{task}-1", data, task)
        for task in containers:
            assert link.wait(f"{task}-1")["state"] == "processed"
        yield link, containers


def test_pages_and_assets_are_served(ground) -> None:  # type: ignore[no-untyped-def]
    link, _ = ground
    index = link.client.get("/")
    assert index.status_code == 200 and "text/html" in index.headers["content-type"]
    assert "/dashboard/static/table.js" in index.text
    assert "transfer.js" in link.client.get("/transfers/fire-1").text
    for name in ("table.js", "transfer.js", "common.js", "dashboard.css"):
        assert link.client.get(f"/dashboard/static/{name}").status_code == 200
    assert "http://" not in index.text and "https://" not in index.text  # no CDN


def test_unknown_or_escaping_asset_is_refused(ground) -> None:  # type: ignore[no-untyped-def]
    link, _ = ground
    for name in ("nope.js", "panels.py", "..%2Fpanels.py", "..%2F..%2Fdb.py", "%2e%2e%2Froutes.py"):
        assert link.client.get(f"/dashboard/static/{name}").status_code == 404, name
    assert "table.js" in link.client.get("/dashboard/static/nope.js").json()["detail"]


def test_building_panels_use_the_profile_band_order(ground) -> None:  # type: ignore[no-untyped-def]
    link, containers = ground
    index = link.client.get("/dashboard/transfers/building-1/panels").json()
    names = [panel["name"] for panel in index["panels"]]
    assert names == ["true-colour", "false-colour", "overlay", "truth", "errors"]
    assert index["header"]["bands"] == 10 and index["header"]["codec"] == "jpeg2000"
    assert index["metadata"]["scene_id"] == "building-2"
    for panel in index["panels"]:
        png = link.client.get(panel["url"])
        assert png.status_code == 200 and png.content.startswith(PNG_MAGIC)
    decoded = decompress_container(containers["building"]).raster
    rgb = imagery.composite(decoded, "building", imagery.TRUE_COLOUR)
    names_in_order = PROFILES["building"].band_names
    red = decoded[names_in_order.index("B04")].astype(np.float64)
    assert np.corrcoef(rgb[..., 0].ravel(), red.ravel())[0, 1] > 0.95
    nir = imagery.composite(decoded, "building", imagery.FALSE_COLOUR)[..., 0]
    b08 = decoded[names_in_order.index("B08")].astype(np.float64)
    assert np.corrcoef(nir.ravel(), b08.ravel())[0, 1] > 0.95


def test_error_map_counts_match_an_independent_count(ground) -> None:  # type: ignore[no-untyped-def]
    link, containers = ground
    index = link.client.get("/dashboard/transfers/fire-1/panels").json()
    assert [p["name"] for p in index["panels"]] == ["scene", "overlay", "truth", "errors"]
    truth = decompress_container(containers["fire"]).truth_mask
    assert truth is not None
    store = link.client.app.state.context.store
    predicted = read_mask_png(store.artefact("fire-1", "mask.png"))
    truth_hw = np.asarray(truth).reshape(predicted.shape) > 0
    expected = {
        "tp": int(np.sum(truth_hw & (predicted > 0))),
        "fp": int(np.sum(~truth_hw & (predicted > 0))),
        "fn": int(np.sum(truth_hw & (predicted == 0))),
        "tn": int(np.sum(~truth_hw & (predicted == 0))),
    }
    assert index["notes"]["errors"] == expected
    view = link.client.get("/v1/transfers/fire-1").json()
    f1 = imagery.count_errors(imagery.error_classes(truth_hw, predicted)).f1_positive
    assert f1 is not None and abs(f1 - view["f1_positive"]) < 1e-9


def test_the_product_holds_what_processing_decoded_and_predicted(ground) -> None:  # type: ignore[no-untyped-def]
    link, containers = ground
    store = link.client.app.state.context.store
    product = load_product(store.artefact("fire-1", PRODUCT_NAME))
    independent = decompress_container(containers["fire"])
    assert product.raster.dtype == independent.raster.dtype
    assert np.array_equal(product.raster, independent.raster)
    assert product.predicted is not None and product.truth is not None
    assert np.array_equal(product.predicted, read_mask_png(store.artefact("fire-1", "mask.png")))
    truth = np.asarray(independent.truth_mask).reshape(product.truth.shape) > 0
    assert np.array_equal(product.truth > 0, truth)
    assert product.header["codec"] == "jpeg2000" and product.digest_matches


def _hidden_while(path: Path, fetch: Any) -> Any:
    hidden = path.with_name(f"{path.name}.hidden")
    path.replace(hidden)
    try:
        return fetch()
    finally:
        hidden.replace(path)


def test_panels_come_from_the_product_without_decoding_again(ground) -> None:  # type: ignore[no-untyped-def]
    link, containers = ground
    link.upload("fire-2", containers["fire"], "fire")
    assert link.wait("fire-2")["state"] == "processed"
    store = link.client.app.state.context.store
    answer = _hidden_while(  # with the container gone, only the product can feed the panels
        store.container_path("fire-2"),
        lambda: link.client.get("/dashboard/transfers/fire-2/panels"),
    )
    assert answer.status_code == 200, answer.text
    first = link.client.get("/dashboard/transfers/fire-1/panels").json()
    assert answer.json()["notes"] == first["notes"]
    assert answer.json()["header"] == first["header"]


def test_a_transfer_without_a_product_is_decoded_again(ground) -> None:  # type: ignore[no-untyped-def]
    link, containers = ground
    link.upload("fire-3", containers["fire"], "fire")
    assert link.wait("fire-3")["state"] == "processed"
    store = link.client.app.state.context.store
    store.artefact("fire-3", PRODUCT_NAME).unlink()  # as a ground older than products left it
    answer = link.client.get("/dashboard/transfers/fire-3/panels")
    assert answer.status_code == 200, answer.text
    first = link.client.get("/dashboard/transfers/fire-1/panels").json()
    assert [p["name"] for p in answer.json()["panels"]] == [p["name"] for p in first["panels"]]
    assert answer.json()["notes"] == first["notes"]


def test_first_views_over_the_render_limit_wait_then_get_503(make_link, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    link = make_link(
        tmp_path / "gs",
        segmenter_dir=tmp_path / "none",
        panel_renders=1,
        panel_wait_s=0.2,
    )
    with_dashboard(link.client.app)
    link.upload("fire-9", task_container("fire", 9, 4.0), "fire")
    assert link.wait("fire-9")["state"] == "processed"
    slots = link.client.app.state.context.dashboard.renders
    assert slots.acquire(timeout=1)  # another page is rendering
    try:
        busy = link.client.get("/dashboard/transfers/fire-9/panels")
    finally:
        slots.release()
    assert busy.status_code == 503, busy.text
    assert busy.headers["retry-after"] == "5" and "GS_PANEL_RENDERS" in busy.json()["detail"]
    assert link.client.get("/dashboard/transfers/fire-9/panels").status_code == 200
    assert slots.acquire(timeout=1)  # a rendered page is a cached file: it needs no slot
    try:
        assert link.client.get("/dashboard/transfers/fire-9/panels").status_code == 200
    finally:
        slots.release()


def test_thermal_scale_is_brightness_temperature() -> None:
    scene = generate_scene("fire", 3)
    kelvin = imagery.brightness_temperature_k(scene.image, "fire")
    assert kelvin.shape == scene.image.shape[1:]
    assert 270.0 < float(np.median(kelvin)) < 330.0  # the 280-320 K background


def test_charts_are_pngs(ground) -> None:  # type: ignore[no-untyped-def]
    link, _ = ground
    for name in ("psnr-bpp", "f1-bpp", "link", "queue"):
        answer = link.client.get(f"/dashboard/charts/{name}.png")
        assert answer.status_code == 200 and answer.content.startswith(PNG_MAGIC), name
    assert link.client.get("/dashboard/charts/pie.png").status_code == 422


def test_panels_of_unknown_or_unprocessed_transfers_are_refused(ground) -> None:  # type: ignore[no-untyped-def]
    link, containers = ground
    assert link.client.get("/dashboard/transfers/nope/panels").status_code == 404
    assert link.create("pending-1", containers["fire"], "fire").status_code == 201
    answer = link.client.get("/dashboard/transfers/pending-1/panels")
    assert answer.status_code == 409 and "receiving" in answer.json()["detail"]
    assert link.client.get("/dashboard/transfers/fire-1/panels/true-colour.png").status_code == 404


def test_unsigned_reads_are_refused_when_public_reads_are_off(make_link) -> None:  # type: ignore[no-untyped-def]
    link: Link = make_link(public_reads=False)
    with_dashboard(link.client.app)
    page = link.client.get("/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/signin")
    assert link.client.get("/dashboard/charts/link.png").status_code == 401


def _point(tid: str, start_s: float, stop_s: float, done_s: float | None, size: int) -> Any:
    from datetime import UTC, datetime, timedelta

    from ground_station.dashboard.series import TransferPoint

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    at = lambda s: None if s is None else t0 + timedelta(seconds=s)  # noqa: E731
    state = "processed" if done_s is not None else "committed"
    return TransferPoint(tid, "fire", "jpeg2000", state, None, size, 1.0, 40.0, 0.5,
                         t0, at(start_s), at(stop_s), at(done_s))  # fmt: skip


def test_link_series_keeps_every_bit_and_splits_passes_at_gaps() -> None:
    from ground_station.dashboard.series import link_activity

    points = [
        _point("a", 0, 4, 5, 4000),
        _point("b", 4.5, 8, 9, 7000),
        _point("c", 20, 22, 23, 500),
    ]
    activity = link_activity(points, bins=40)
    assert activity is not None
    received_bits = sum(k * 1000 * activity.bin_seconds for k in activity.kbit_s)
    assert abs(received_bits - 8 * (4000 + 7000 + 500)) < 1e-6
    t0 = activity.bin_starts[0]
    spans = [((a - t0).total_seconds(), (b - t0).total_seconds()) for a, b in activity.contacts]
    assert spans == [(0.0, 8.0), (20.0, 22.0)]  # the 12 s gap is between two passes


def test_queue_depth_counts_transfers_awaiting_processing() -> None:
    from datetime import UTC, datetime, timedelta

    from ground_station.dashboard.series import queue_depth

    points = [_point("a", 0, 1, 5, 10), _point("b", 0, 2, None, 10)]
    now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=9)
    times, receiving, waiting = queue_depth(points, now)
    assert max(receiving) == 2 and receiving[-1] == 0
    assert max(waiting) == 2 and waiting[-1] == 0
    at_3s = max(i for i, t in enumerate(times) if t <= now - timedelta(seconds=6))
    assert (receiving[at_3s], waiting[at_3s]) == (0, 2)


def test_rate_curves_average_per_target_and_skip_unprocessed() -> None:
    from dataclasses import replace

    from ground_station.dashboard.series import rate_curves

    base = _point("a", 0, 1, 2, 10)
    points = [
        replace(base, transfer_id="a", rate_target="1", bpp=1.0, psnr_db=30.0),
        replace(base, transfer_id="b", rate_target="1", bpp=1.2, psnr_db=32.0),
        replace(base, transfer_id="c", rate_target="4", bpp=4.0, psnr_db=50.0),
        replace(base, transfer_id="d", rate_target="4", bpp=9.0, psnr_db=1.0, state="failed"),
        replace(base, transfer_id="e", rate_target=None, bpp=2.0, psnr_db=40.0),
    ]
    (curve,) = rate_curves(points, "psnr_db")["fire"]
    assert curve.mean_bpp == pytest.approx([1.1, 2.0, 4.0])
    assert curve.mean_values == pytest.approx([31.0, 40.0, 50.0])
    assert sorted(curve.bpp) == [1.0, 1.2, 2.0, 4.0]  # the failed transfer is not drawn
