"""Benchmark: the downlink's goodput during passes against the configured link rate.

Runs in process: a real ground station on loopback and the satellite's sender, store and link
emulation, at 2 Mbit/s and 50 Mbit/s with periodic passes (so transfers are interrupted), and
prints goodput (chunk bytes the ground acknowledged, over the up time) as a share of the rate
and the number of chunks re-sent per interruption. It measures and prints; it asserts nothing.

    OMP_NUM_THREADS=1 .venv/bin/python tests/satellite_node/bench_link.py [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sat_harness import ServerThread, ground_app, raster_for, satellite_settings  # noqa: E402

from satellite_node.context import SatelliteContext  # noqa: E402
from satellite_node.store import (
    ContainerInfo,  # noqa: E402
    NewScene,
)
from shared.codecs.base import RateTarget  # noqa: E402
from shared.compression import compress_raster  # noqa: E402


@dataclass(frozen=True)
class Case:
    rate_bps: float
    pass_period_s: float
    pass_duration_s: float
    total_bytes: int


@dataclass(frozen=True)
class Result:
    case: Case
    seconds: float
    up_seconds: float
    bytes_acked: int
    chunks: int
    resent: int
    interruptions: int

    @property
    def goodput_bps(self) -> float:
        return self.bytes_acked * 8 / self.up_seconds

    def line(self) -> str:
        c = self.case
        per = self.resent / self.interruptions if self.interruptions else 0.0
        return (
            f"rate {c.rate_bps / 1e6:5.1f} Mbit/s"
            f"  passes {c.pass_duration_s:g}/{c.pass_period_s:g} s"
            f"  sent {self.bytes_acked / 1e6:6.2f} MB in {self.seconds:5.1f} s"
            f" ({self.up_seconds:5.1f} s up)  goodput {self.goodput_bps / 1e6:6.2f} Mbit/s"
            f" = {100 * self.goodput_bps / c.rate_bps:5.1f}% of the rate  chunks {self.chunks}"
            f"  interruptions {self.interruptions}  re-sent {self.resent}"
            f" ({per:.2f} per interruption)"
        )


def sample_container() -> bytes:
    """A real container: a lossless 10-band 512x512 building scene (about 4 MB)."""
    scene = compress_raster(
        raster_for("building", 7, side=512),
        codec="jpeg2000",
        target=RateTarget(lossless=True),
        scale=10000.0,
        bit_depth=14,
        metadata={"scene_id": "bench", "task": "building"},
    )
    return scene.container


def queue_scenes(services: SatelliteContext, container: bytes, count: int) -> list[str]:
    store, ids = services.store, []
    for _ in range(count):
        record = store.admit(
            NewScene(
                task="building",
                codec="jpeg2000",
                rate={"lossless": True},
                priority=3,
                raster_name="bench.npy",
                raster=b"x",
                mask=None,
            )
        )
        store.mark_compressed(
            record.scene_id,
            ContainerInfo(
                container=container,
                sha256=hashlib.sha256(container).hexdigest(),
                codec_used="jpeg2000",
                bpp=0.0,
                payload_bpp=0.0,
                bits_per_sample=0.0,
                psnr_db=None,
                header={},
            ),
        )
        store.mark_queued(record.scene_id)
        ids.append(record.scene_id)
    return ids


def run_case(case: Case, ground_url: str, container: bytes, work: Path) -> Result:
    settings = satellite_settings(
        work,
        ground_url,
        link_rate_bps=case.rate_bps,
        pass_period_s=case.pass_period_s,
        pass_duration_s=case.pass_duration_s,
        run_worker=False,
        request_timeout_s=30.0,
    )
    services = SatelliteContext.build(settings, key=settings.link_key_bytes())
    ids = queue_scenes(services, container, max(1, case.total_bytes // len(container)))
    link, stats = services.link, services.stats
    link.set_profile(link.profile)  # empty the bucket: no credit from the idle set-up time
    start, wall = link.elapsed(), time.monotonic()
    thread = threading.Thread(target=services.sender.run, args=(services.stop_event,))
    thread.start()
    while services.store.list(state="delivered", limit=len(ids) + 1).__len__() < len(ids):
        time.sleep(0.05)
    end = link.elapsed()
    services.stop_event.set()
    thread.join()
    snap = stats.snapshot()
    result = Result(
        case,
        time.monotonic() - wall,
        link.profile.up_time_between(start, end),
        int(snap["bytes_sent"]),
        int(snap["chunks_sent"]),  # type: ignore[call-overload]
        int(snap["chunks_resent"]),
        link.interruptions,
    )  # type: ignore[call-overload]
    services.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller transfers")
    args = parser.parse_args()
    scale = 0.4 if args.quick else 1.0
    cases = [
        Case(2e6, 18.0, 15.0, int(scale * 6.5e6)),
        Case(50e6, 5.0, 4.0, int(scale * 60e6)),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        server = ServerThread(ground_app(root / "ground", processing_workers=1)).start()
        try:
            container = sample_container()
            print(
                f"container: {len(container)} bytes; chunks of ~1 s of link time (16 KiB .. 1 MiB)"
            )
            for i, case in enumerate(cases):
                print(run_case(case, server.url, container, root / f"sat{i}").line(), flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
