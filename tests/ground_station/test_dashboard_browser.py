"""End to end: headless Chromium (Debian's, through Playwright) against a real uvicorn ground
station on loopback holding transfers uploaded through the signed protocol. The table shows
every transfer and updates live, sorting and filtering work, every quicklook, mask, chart and
panel image loads, the console stays clean, and screenshots are kept in test-artifacts/."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gs_support import LINK_KEY, Link
from test_dashboard import task_container, write_segmenters

from shared.wire.georef import Georef

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
LAPTOP = {"width": 1366, "height": 768}
WALL = {"width": 2560, "height": 1440}
SCENES = (("fire", 1, 2.0), ("fire", 2, 4.0), ("cloud", 3, 0.5), ("cloud", 4, 1.0),
          ("building", 5, 0.5), ("building", 6, 1.0))  # fmt: skip
# Serve the dashboard ahead of any other page create_app put on "/" (until app.py includes it).
DRIVER = """
import sys, uvicorn
from ground_station import dashboard
from ground_station.app import create_app
app = create_app()
if not any(getattr(r, "path", None) == "/dashboard/static/{name}" for r in app.routes):
    before = list(app.router.routes)
    app.include_router(dashboard.router)
    app.router.routes[:] = app.router.routes[len(before):] + before
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""
ALL_IMAGES_LOADED = """(selector) => {
  const images = [...document.querySelectorAll(selector)];
  return images.length > 0 && images.every((img) => img.complete && img.naturalWidth > 0);
}"""

SHOWN = [f"{task}-{seed}" for task, seed, _ in SCENES] + ["fire-geo"]  # what the table lists
GEOREF = Georef("EPSG:32610", (20.0, 0.0, 478880.0, 0.0, -20.0, 6439940.0), "2023-05-14T19:20:00Z")

pytestmark = pytest.mark.integration


def _sync_playwright() -> Any:
    if not CHROMIUM.is_file():
        pytest.skip(
            f"{CHROMIUM} is absent: install Debian's chromium (scripts/system-deps.sh browser)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is absent: pip install -e '.[dev]'")
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(client: httpx.Client, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            output = server.stdout.read().decode() if server.stdout else ""
            raise AssertionError(f"ground station exited: {output[-2000:]}")
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError("ground station not ready within 90 s")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Link]]:
    """A real uvicorn ground station with six processed transfers (three tasks, two rates)."""
    sync_playwright = _sync_playwright()  # skip before any work when the browser is absent
    del sync_playwright
    root = tmp_path_factory.mktemp("dashboard-e2e")
    port = _free_port()
    env = {
        **os.environ,
        "GS_LINK_KEY": LINK_KEY,
        "GS_DATA_DIR": str(root / "ground"),
        "GS_DEVICE": "cpu",
        "GS_SEGMENTER_DIR": str(write_segmenters(root / "seg")),
        "GS_MIN_FREE_BYTES": "0",
        "GS_PUBLIC_READS": "true",
        "OMP_NUM_THREADS": "1",
    }
    server = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30.0) as client:
            _wait_ready(client, server)
            link = Link(client)  # type: ignore[arg-type]  # httpx speaks the same API
            for task, seed, rate in SCENES:
                link.upload(f"{task}-{seed}", task_container(task, seed, rate), task)
            link.upload("fire-geo", task_container("fire", 1, 4.0, GEOREF), "fire")
            for transfer_id in [f"{task}-{seed}" for task, seed, _ in SCENES] + ["fire-geo"]:
                view = link.wait(transfer_id, timeout_s=120)
                assert view["state"] == "processed", view["reason"]
            yield base, link
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(served: tuple[str, Link], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Debian's Chromium, headless, with a fresh profile and no network beyond loopback."""
    with _sync_playwright()() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=LAPTOP,
        )
        try:
            yield context
        finally:
            context.close()


class Console:
    """Console errors, uncaught exceptions and failed requests of one page.

    A reload cancels the old document's requests still in flight (a live poll, a
    thumbnail): Chromium reports those as net::ERR_ABORTED. They are the test's
    doing, not the dashboard's, so `reload` forgives exactly those; every other
    failed request, and any abort outside a reload, is an error.
    """

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self._page = page
        self._reloads = 0
        self._reloading = False
        self._issued_after: dict[Any, int] = {}
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("request", lambda r: self._issued_after.setdefault(r, self._reloads))
        page.on("requestfailed", self._failed)

    def reload(self) -> None:
        self._reloading = True
        try:
            self._page.reload()
        finally:
            self._reloading = False
            self._reloads += 1

    def _failed(self, request: Any) -> None:
        old_document = self._issued_after.get(request, self._reloads) < self._reloads
        if request.failure == "net::ERR_ABORTED" and (self._reloading or old_document):
            return
        self.errors.append(f"failed: {request.url} {request.failure}")


def _wait_images(page: Any, selector: str) -> None:
    page.wait_for_function(ALL_IMAGES_LOADED, arg=selector, timeout=60_000)


def _no_page_overflow(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_transfers_page_lists_sorts_filters_and_updates(served, browser, artifacts_dir) -> None:  # type: ignore[no-untyped-def]
    base, link = served
    page = browser.new_page()
    console = Console(page)
    started = time.perf_counter()
    page.goto(f"{base}/?poll=500")
    rows = f"document.querySelectorAll('#transfers tbody tr').length === {len(SHOWN)}"
    page.wait_for_function(rows)
    table_s = time.perf_counter() - started
    _wait_images(page, "#transfers img.thumb")
    thumbs_s = time.perf_counter() - started
    _wait_images(page, "img.chart")
    load_s = time.perf_counter() - started
    navigation = page.evaluate("performance.getEntriesByType('navigation')[0].toJSON()")
    shown = page.eval_on_selector_all(
        "#transfers tbody tr", "rows => rows.map(r => r.dataset.transferId)"
    )
    assert sorted(shown) == sorted(SHOWN)
    thumbs = page.eval_on_selector_all("#transfers img.thumb", "imgs => imgs.map(i => i.src)")
    assert len(thumbs) == 2 * len(SHOWN)  # a quicklook and a mask per transfer
    assert sum("/quicklook.png" in src for src in thumbs) == len(SHOWN)
    assert _no_page_overflow(page)
    page.screenshot(path=str(artifacts_dir / "dashboard-transfers.png"), full_page=True)
    started = time.perf_counter()
    console.reload()
    page.wait_for_function(rows)
    _wait_images(page, "img.chart")
    warm_s = time.perf_counter() - started  # charts come from the server's cache now

    page.click("th button[data-key=bpp]")
    bpp = page.eval_on_selector_all(
        "#transfers tbody tr", "rows => rows.map(r => Number(r.cells[5].textContent))"
    )
    assert bpp == sorted(bpp)
    page.click("th button[data-key=bpp]")
    bpp = page.eval_on_selector_all(
        "#transfers tbody tr", "rows => rows.map(r => Number(r.cells[5].textContent))"
    )
    assert bpp == sorted(bpp, reverse=True)

    page.select_option("#filter-task", "fire")
    page.wait_for_function(
        "[...document.querySelectorAll('#transfers tbody tr')]"
        ".every(r => r.cells[1].textContent === 'fire')"
    )
    assert page.locator("#transfers tbody tr").count() == 3  # fire-1, fire-2, fire-geo
    page.select_option("#filter-task", "")
    page.select_option("#filter-codec", "jpeg2000")
    page.wait_for_function(
        f"document.querySelectorAll('#transfers tbody tr').length === {len(SHOWN)}"
    )
    page.select_option("#filter-codec", "")

    link.create("late-1", task_container("fire", 9, 4.0), "fire")  # a new transfer, live
    page.wait_for_selector("tr[data-transfer-id='late-1']", timeout=15_000)

    page.set_viewport_size(WALL)
    assert _no_page_overflow(page)
    page.screenshot(path=str(artifacts_dir / "dashboard-transfers-wall.png"), full_page=True)
    timing = {
        "table_rows_s": table_s,
        "thumbnails_s": thumbs_s,
        "charts_s": load_s,
        "reload_with_cached_charts_s": warm_s,
        "navigation": navigation,
    }
    (artifacts_dir / "dashboard-timing.json").write_text(json.dumps(timing, indent=2))
    print(
        f"\ndashboard load: table {table_s:.2f} s, thumbnails {thumbs_s:.2f} s, "
        f"charts {load_s:.2f} s (reload {warm_s:.2f} s); "
        f"DOMContentLoaded {navigation['domContentLoadedEventEnd']:.0f} ms, "
        f"load {navigation['loadEventEnd']:.0f} ms"
    )
    assert console.errors == []


@pytest.mark.parametrize("transfer_id, panels", [("building-6", 7), ("fire-2", 6)])
def test_transfer_page_shows_imagery_metrics_and_header(  # type: ignore[no-untyped-def]
    served, browser, artifacts_dir, transfer_id: str, panels: int
) -> None:
    base, _ = served
    page = browser.new_page()
    console = Console(page)
    started = time.perf_counter()
    page.goto(f"{base}/transfers/{transfer_id}")
    page.wait_for_selector("body[data-loaded=true]", timeout=90_000)
    _wait_images(page, "#panels img")
    load_s = time.perf_counter() - started
    assert page.locator("#panels img").count() == panels
    captions = " ".join(page.locator("#panels figcaption").all_inner_texts())
    for expected in ("Predicted mask", "Truth mask", "Error map", "Quicklook"):
        assert expected in captions
    if transfer_id.startswith("building"):
        assert "True colour" in captions and "False colour" in captions
    metrics = page.locator("#metrics").inner_text()
    assert "bpp (container)" in metrics and "F1 positive class" in metrics
    header = page.locator("#header").inner_text()
    assert "jpeg2000" in header and "crc32c" in header
    assert _no_page_overflow(page)
    page.screenshot(path=str(artifacts_dir / f"dashboard-{transfer_id}.png"), full_page=True)
    print(f"\ntransfer page {transfer_id}: {load_s:.2f} s to all panels (first view decodes)")
    assert console.errors == []


def test_transfer_page_shows_where_the_scene_lies_and_links_its_products(  # type: ignore[no-untyped-def]
    served, browser, artifacts_dir
) -> None:
    base, link = served
    view = link.wait("fire-geo")
    page = browser.new_page()
    console = Console(page)
    page.goto(f"{base}/transfers/fire-geo")
    page.wait_for_selector("body[data-loaded=true]", timeout=90_000)
    page.wait_for_selector("#footprint polygon", timeout=30_000)
    place = page.locator("#place").inner_text()
    assert "Centre (lat, lon)" in place and "58.0" in place and "-123.3" in place
    assert page.locator("#footprint circle").count() == view["detections"]
    links = {a.inner_text(): a.get_attribute("href") for a in page.locator("#products a").all()}
    assert links["Decoded raster (Cloud-Optimized GeoTIFF)"].endswith("/files/raster.tif")
    assert links["STAC item"] == "/v1/stac/items/fire-geo.json"
    for href in links.values():  # every link answers
        assert httpx.get(base + href).status_code == 200, href
    assert "georeferenced: EPSG:32610" in page.locator("#place-note").inner_text()
    page.screenshot(path=str(artifacts_dir / "dashboard-fire-geo.png"), full_page=True)
    assert console.errors == []


def test_transfers_page_shows_the_satellites_latest_plan(  # type: ignore[no-untyped-def]
    served, browser, artifacts_dir
) -> None:
    from test_gs_plans import satellite_report

    base, link = served
    page = browser.new_page()
    console = Console(page)
    page.goto(f"{base}/?poll=500")
    page.wait_for_function(
        "document.getElementById('plan-summary').textContent.startsWith('No plan received')"
    )
    report = satellite_report("pass-42.000", scenes=3)
    answer = link.post_json("/v1/plans", report)  # the satellite's report, signed
    assert answer.status_code == 200, answer.text
    page.wait_for_function("document.querySelectorAll('#plan tbody tr').length === 3")
    shown = page.eval_on_selector_all("#plan tbody tr", "rows => rows.map(r => r.dataset.sceneId)")
    assert shown == [s["scene_id"] for s in report["scenes"]]
    first = page.locator("#plan tbody tr").first.inner_text()
    assert "alert" in first and "jpeg2000 (re-encoded)" in first and "0.250" in first
    summary = page.locator("#plan-summary").inner_text()
    assert "budget 16000 bytes" in summary and "1 deferred" in summary and "pass-42.000" in summary
    assert _no_page_overflow(page)
    page.screenshot(path=str(artifacts_dir / "dashboard-plan.png"), full_page=True)
    assert console.errors == []


def test_a_browser_signs_in_once_and_the_session_stays_out_of_scripts(  # type: ignore[no-untyped-def]
    browser, tmp_path: Path
) -> None:
    from shared.protocol.tokens import new_token

    token, entry = new_token("browser-reader", "reader")
    port = _free_port()
    env = {
        **os.environ,
        "GS_LINK_KEY": LINK_KEY,
        "GS_DATA_DIR": str(tmp_path / "ground"),
        "GS_DEVICE": "cpu",
        "GS_SEGMENTER_DIR": str(tmp_path / "none"),
        "GS_MIN_FREE_BYTES": "0",
        "GS_PUBLIC_READS": "false",
        "GS_READ_TOKENS": f"[{entry.model_dump_json()}]",
    }
    server = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(port)], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30.0) as client:
            _wait_ready(client, server)
        page = browser.new_page()
        page.goto(f"{base}/")
        assert page.url == f"{base}/signin?next=/"  # sent to sign in, not shown a 401
        page.fill("input[name=token]", "a-guess")
        page.click("button[type=submit]")
        assert page.locator("#failed").is_visible()
        page.fill("input[name=token]", token)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        page.wait_for_function("document.getElementById('status').textContent !== 'loading...'")
        assert page.evaluate("document.cookie") == ""  # HttpOnly: no script can read it
        cookies = {c["name"]: c for c in page.context.cookies(base)}
        assert (
            cookies["eodl_session"]["httpOnly"] and cookies["eodl_session"]["sameSite"] == "Strict"
        )
        assert page.evaluate("fetch('/v1/summary').then(r => r.status)") == 200
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
