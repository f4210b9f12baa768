"""Load (guarantee 6): 50 concurrent uploads, and a backlog of 1,000 queued scenes (slow); the
services stay responsive (p99 latency of the status endpoints printed) and memory stays bounded:
both services run as their own processes and the peak resident memory of them and of every
child they start (decode workers) is sampled from /proc and held to a stated bound."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
from rel_support import (
    Service,
    TreeRss,
    fire_raster,
    ground_service,
    npy,
    percentile_ms,
    satellite_service,
    transfers,
    wait_for,
)

pytestmark = pytest.mark.integration
LINK_DOWN = {"rate_bps": 5e6, "windows": [{"start_s": 1e6, "end_s": 1e6 + 1}]}


#: Both services and their workers together, at their peak, in proportional set size (what the
#: tree takes, shared pages split between their sharers; docs/guarantees.md row 6). The
#: resident-set sum is printed beside it: it counts the forkserver's torch once per decode
#: process, and the long-lived decode workers made it an overstatement by a gigabyte.
SERVICES_PEAK_MIB = 3584


@contextmanager
def _services(tmp_path: Path, **sat_env: str) -> Iterator[tuple[Service, Service, TreeRss]]:
    ground = ground_service(tmp_path / "ground", tmp_path / "ground.log").start()
    sat = satellite_service(
        tmp_path / "sat", ground.url, tmp_path / "sat.log", link_rate_bps=50_000_000, **sat_env
    ).start()
    try:
        assert ground.process is not None and sat.process is not None
        with TreeRss([ground.process.pid, sat.process.pid]) as rss:
            yield sat, ground, rss
    finally:
        sat.kill9()
        ground.kill9()


def _upload(url: str, seed: int) -> tuple[int, float]:
    files = {"raster": ("scene.npy", npy(fire_raster(seed)), "application/octet-stream")}
    data = {"task": "fire", "codec": "jpeg2000", "bpp": "4"}
    started = time.perf_counter()
    answer = httpx.post(f"{url}/v1/scenes", data=data, files=files, timeout=60)
    return answer.status_code, time.perf_counter() - started


class Prober:
    """Polls the status endpoints in a thread and records each latency (bounded in count)."""

    def __init__(self, urls: list[str], max_samples: int = 5000) -> None:
        self.urls, self.max_samples = urls, max_samples
        self.samples: list[float] = []
        self.failures = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set() and len(self.samples) < self.max_samples:
                for url in self.urls:
                    started = time.perf_counter()
                    try:
                        ok = client.get(url).status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    self.samples.append(time.perf_counter() - started)
                    self.failures += not ok
                self.stop.wait(0.02)

    def __enter__(self) -> Prober:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join(30)


def _report(name: str, prober: Prober, rss: TreeRss, extra: str) -> dict[str, float]:
    figures = {q: percentile_ms(prober.samples, q) for q in (50, 99)}
    print(
        f"\n{name}: {extra}; status endpoints p50 {figures[50]:.1f} ms, p99 {figures[99]:.1f} ms "
        f"over {len(prober.samples)} probes ({prober.failures} failed); peak memory of both "
        f"services and their workers {rss.peak_pss_mib:.0f} MiB proportional, "
        f"{rss.peak_mib:.0f} MiB resident (up to {rss.most_processes} "
        f"processes, {rss.samples} samples)"
    )
    return figures


def _status_urls(sat: str, ground: str, scene_id: str = "") -> list[str]:
    urls = [f"{sat}/v1/link", f"{sat}/healthz", f"{ground}/v1/transfers?limit=10"]
    return urls + ([f"{sat}/v1/scenes/{scene_id}"] if scene_id else [])


def test_fifty_concurrent_uploads_all_delivered_and_status_stays_fast(tmp_path: Path) -> None:
    with _services(tmp_path) as (sat, ground, rss):
        with Prober(_status_urls(sat.url, ground.url)) as prober:
            with ThreadPoolExecutor(max_workers=50) as pool:
                results = list(pool.map(lambda s: _upload(sat.url, s), range(50)))
            wait_for(
                lambda: len([t for t in transfers(ground.url) if t["state"] == "processed"]) == 50,
                150,
                "all 50 transfers to be processed",
                0.5,
            )
            views = _first_views(ground.url, [t["transfer_id"] for t in transfers(ground.url)])
    codes = [code for code, _ in results]
    upload_p99 = percentile_ms([s for _, s in results], 99)
    _report("50 concurrent uploads", prober, rss, f"upload p99 {upload_p99:.0f} ms")
    assert codes == [202] * 50
    assert prober.failures == 0  # latency is printed above, never asserted
    assert rss.samples > 10 and rss.most_processes >= 3  # the decode workers were seen
    assert rss.peak_pss_mib < SERVICES_PEAK_MIB
    print(f"30 concurrent first views of transfer pages: {sorted(views.items())}")
    assert set(views) <= {200, 503} and views.get(200, 0) >= 2  # busy is 503, never a crash


def _first_views(ground_url: str, transfer_ids: list[str]) -> dict[int, int]:
    """30 first views of transfer pages at once (each renders its panels): answers by status."""

    def view(transfer_id: str) -> int:
        url = f"{ground_url}/dashboard/transfers/{transfer_id}/panels"
        return httpx.get(url, timeout=120).status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        codes = list(pool.map(view, transfer_ids[:30]))
    return {code: codes.count(code) for code in set(codes)}


def _queued_count(url: str) -> int:
    listing = httpx.get(f"{url}/v1/scenes", params={"limit": 2000}, timeout=30)
    states = [s["state"] for s in listing.json()["scenes"]]
    # compressed and waiting for the link: queued, or held by the pass plan (the link is down,
    # so the plan holds what no pass can carry); one may be on the wire
    return sum(states.count(state) for state in ("queued", "held", "downlinking"))


@pytest.mark.slow
def test_a_backlog_of_a_thousand_scenes_keeps_status_fast(tmp_path: Path) -> None:
    with _services(tmp_path) as (sat, ground, rss):
        httpx.put(f"{sat.url}/v1/link", json=LINK_DOWN, timeout=10).raise_for_status()
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            codes = [c for c, _ in pool.map(lambda s: _upload(sat.url, s), range(1000))]
        # the bound follows this machine's measured compression rate, not a fixed wall clock
        wait_for(lambda: _queued_count(sat.url) >= 50, 300, "the first 50 scenes queued", 1.0)
        rate = 50 / max(1e-3, time.monotonic() - started)
        wait_for(lambda: _queued_count(sat.url) == 1000, 3 * 1000 / rate + 60, "1,000 queued", 1.0)
        probe_id = httpx.get(f"{sat.url}/v1/scenes", params={"limit": 1}).json()["scenes"]
        urls = _status_urls(sat.url, ground.url, probe_id[0]["scene_id"])
        urls.append(f"{sat.url}/metrics")
        with Prober(urls, max_samples=800) as prober:
            wait_for(lambda: len(prober.samples) >= 800, 120, "800 probes")
    _report("1,000 queued scenes", prober, rss, f"{codes.count(202)} accepted, {rate:.1f}/s")
    assert codes == [202] * 1000
    assert prober.failures == 0  # latency is printed above, never asserted
    assert rss.peak_pss_mib < SERVICES_PEAK_MIB


#: The ground (and its decode workers) while it processes the largest accepted scene, a
#: 4096 x 4096 cloud scene: measured 2,450 MiB (segmentation window by window; the whole scene
#: at once took the main process to 7.8-8.2 GiB).
LARGEST_SCENE_GROUND_MIB = 3072


@pytest.mark.slow
def test_the_largest_accepted_scene_is_processed_within_its_memory_bound(tmp_path: Path) -> None:
    from workbench.datasets.generate import generate_scene

    scene = generate_scene("cloud", 3)
    raster, mask = np.tile(scene.image, (1, 16, 16)), np.tile(scene.mask, (16, 16))
    ground = ground_service(tmp_path / "ground", tmp_path / "ground.log").start()
    sat = satellite_service(
        tmp_path / "sat",
        ground.url,
        tmp_path / "sat.log",
        link_rate_bps=200_000_000,
        SAT_CHUNK_BYTES=str(1024**2),
    ).start()
    try:
        assert ground.process is not None
        with TreeRss([ground.process.pid]) as rss:
            files = {"raster": ("big.npy", npy(raster)), "mask": ("mask.npy", npy(mask))}
            form = {"task": "cloud", "codec": "jpeg2000", "bpp": "1"}
            answer = httpx.post(f"{sat.url}/v1/scenes", data=form, files=files, timeout=300)
            assert answer.status_code == 202, answer.text
            done = wait_for(
                lambda: [t for t in transfers(ground.url) if t["state"] in ("processed", "failed")],
                900,
                "the 4096 x 4096 scene to be processed",
                1.0,
            )
    finally:
        sat.kill9()
        ground.kill9()
    record = done[0]
    print(
        f"\nlargest scene {record['width']}x{record['height']}: {record['state']}, segmentation "
        f"{record['segment_ms'] / 1000:.1f} s, F1+ {record['f1_positive']:.3f}; ground peak RSS "
        f"with its workers {rss.peak_mib:.0f} MiB (up to {rss.most_processes} processes)"
    )
    assert record["state"] == "processed" and record["f1_positive"] is not None
    assert rss.peak_mib < LARGEST_SCENE_GROUND_MIB
