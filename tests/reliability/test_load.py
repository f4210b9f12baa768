"""Load (guarantee 6): 50 concurrent uploads, and a backlog of 1,000 queued scenes (slow); the
services stay responsive (p99 latency of the status endpoints printed) and memory
stays bounded (peak RSS growth of this process, which hosts both services)."""

from __future__ import annotations

import resource
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from rel_support import (
    ServerThread,
    fire_raster,
    ground_app,
    npy,
    percentile_ms,
    satellite_app,
    transfers,
    wait_for,
)

pytestmark = pytest.mark.integration
LINK_DOWN = {"rate_bps": 5e6, "windows": [{"start_s": 1e6, "end_s": 1e6 + 1}]}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


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


def _report(name: str, prober: Prober, extra: str) -> dict[str, float]:
    figures = {q: percentile_ms(prober.samples, q) for q in (50, 99)}
    print(
        f"\n{name}: {extra}; status endpoints p50 {figures[50]:.1f} ms, p99 {figures[99]:.1f} ms "
        f"over {len(prober.samples)} probes ({prober.failures} failed); "
        f"peak RSS {_peak_rss_mb():.0f} MiB"
    )
    return figures


def _status_urls(sat: str, ground: str, scene_id: str = "") -> list[str]:
    urls = [f"{sat}/v1/link", f"{sat}/healthz", f"{ground}/v1/transfers?limit=10"]
    return urls + ([f"{sat}/v1/scenes/{scene_id}"] if scene_id else [])


def test_fifty_concurrent_uploads_all_delivered_and_status_stays_fast(tmp_path: Path) -> None:
    rss_before = _peak_rss_mb()
    with ServerThread(ground_app(tmp_path / "ground")) as ground:
        with ServerThread(satellite_app(tmp_path / "sat", ground.url)) as sat:
            with Prober(_status_urls(sat.url, ground.url)) as prober:
                with ThreadPoolExecutor(max_workers=50) as pool:
                    results = list(pool.map(lambda s: _upload(sat.url, s), range(50)))
                wait_for(
                    lambda: (
                        len([t for t in transfers(ground.url) if t["state"] == "processed"]) == 50
                    ),
                    150,
                    "all 50 transfers to be processed",
                    0.5,
                )
    codes = [code for code, _ in results]
    upload_p99 = percentile_ms([s for _, s in results], 99)
    _report("50 concurrent uploads", prober, f"upload p99 {upload_p99:.0f} ms")
    assert codes == [202] * 50
    assert prober.failures == 0  # latency is printed above, never asserted
    assert _peak_rss_mb() - rss_before < 1024.0


@pytest.mark.slow
def test_a_backlog_of_a_thousand_scenes_keeps_status_fast(tmp_path: Path) -> None:
    rss_before = _peak_rss_mb()
    with ServerThread(ground_app(tmp_path / "ground")) as ground:
        with ServerThread(satellite_app(tmp_path / "sat", ground.url)) as sat:
            httpx.put(f"{sat.url}/v1/link", json=LINK_DOWN, timeout=10).raise_for_status()
            with ThreadPoolExecutor(max_workers=8) as pool:
                codes = [c for c, _ in pool.map(lambda s: _upload(sat.url, s), range(1000))]

            def queued() -> dict[str, Any] | None:
                listing = httpx.get(f"{sat.url}/v1/scenes", params={"limit": 2000}, timeout=30)
                states = [s["state"] for s in listing.json()["scenes"]]
                waiting = states.count("queued") + states.count("downlinking")
                return {"n": len(states)} if waiting == 1000 else None  # one may be on the wire

            wait_for(queued, 300, "1,000 scenes to be queued", 1.0)
            probe_id = httpx.get(f"{sat.url}/v1/scenes", params={"limit": 1}).json()["scenes"]
            urls = _status_urls(sat.url, ground.url, probe_id[0]["scene_id"])
            urls.append(f"{sat.url}/metrics")
            with Prober(urls, max_samples=800) as prober:
                wait_for(lambda: len(prober.samples) >= 800, 120, "800 probes")
    _report("1,000 queued scenes", prober, f"{codes.count(202)} accepted")
    assert codes == [202] * 1000
    assert prober.failures == 0  # latency is printed above, never asserted
    assert _peak_rss_mb() - rss_before < 1024.0
