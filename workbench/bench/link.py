"""``eodl bench link``: downlink goodput against the configured link rate, per chunk size.

The real stack on loopback: a ground station served by uvicorn in its own process (``eodl
ground serve``, started as the demo starts it) and the satellite's running parts (onboard store,
in-process link emulation, signed ground client, downlink sender) built from their settings as
the satellite app builds them. For each chunk size, a fresh onboard store is filled with copies
of one real container (a lossless JPEG 2000 mosaic of generated Sentinel-2 building tiles, about
3 MB, so every chunk size splits it into several chunks), the sender runs for about
``seconds`` of link time on an always-up link, and the bench reports the chunk bytes the ground
acknowledged over about ``seconds`` that start and end on an acknowledgement (so no chunk is
half counted), after a warm-up that leaves out the pass's start-up (reported apart) and the
token bucket's saved burst, and the HTTP requests made.

The ground runs without segmenters (an empty segmenter folder) so that its processing of
committed transfers does not take the CPU the sender and the ground's receiver need; decode
and segmentation throughput is ``eodl bench ground``. It measures and prints; it asserts nothing.
"""

from __future__ import annotations

import hashlib
import math
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from satellite_node.store import NewScene
from shared.errors import ConfigurationError, LinkError
from shared.protocol.chunks import DEFAULT_CHUNK_BYTES, REQUEST_OVERHEAD_BYTES

MOSAIC_TILES = 4  # 4 x 4 building tiles of 128 px: a 10 x 512 x 512 scene
BENCH_TASK = "building"
POLL_S = 0.005
WARM_UP_S = 0.5  # beyond the burst and two round trips, before the measured interval
GROUND_READY_S = 120.0
MIN_CHUNK_KIB, MAX_CHUNK_KIB = 1, 64 * 1024
DEFAULT_CHUNK_KIB = (16, 64, 256, 1024)
MAX_QUEUED_BYTES = 1 << 30  # disk the onboard store of one row may fill
DEFAULT_MAX_CHUNK_BYTES = 4 * DEFAULT_CHUNK_BYTES  # both services' default chunk cap


@dataclass(frozen=True)
class LinkBenchRow:
    """Goodput of one chunk size, rate and round trip (one row of ``eodl bench link --json``).

    ``ceiling`` is what the emulated link can carry as chunk bytes at best: each request is
    charged ``REQUEST_OVERHEAD_BYTES`` of headers beside its chunk (the in-process emulator
    paces bytes, not TCP/IP packets); ``of_ceiling`` is the efficiency over it. Goodput is the
    pass's steady state: the chunk bytes acknowledged over ``seconds`` that start on an
    acknowledgement after a warm-up (see :func:`_until_ack_after`); ``first_ack_s`` is how long
    the first acknowledgement took from the start (the pass's start-up: a create and a chunk,
    each a round trip).
    """

    chunk_kib: int
    rate_bps: float
    payload_bytes: int
    seconds: float
    goodput_bps: float
    efficiency: float
    requests: int
    rtt_ms: float = 0.0
    ceiling: float = 1.0
    window_chunks: int = 0
    first_ack_s: float = 0.0
    chunks_resent: int = 0
    retries: int = 0

    @property
    def of_ceiling(self) -> float:
        """Goodput over the framing ceiling."""
        return self.efficiency / self.ceiling

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "of_ceiling": self.of_ceiling}


@dataclass(frozen=True)
class BenchContainer:
    """The container every transfer carries, with what the onboard store records about it."""

    data: bytes
    sha256: str
    header: dict[str, Any]


class CountingTransport(httpx.HTTPTransport):
    """An httpx transport that counts the requests it sends (the sender's requests)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests += 1
        return super().handle_request(request)


def check_options(rate_bps: float, chunk_kibs: list[int], seconds: float) -> None:
    """Refuse options the bench cannot run with.

    Raises:
        ConfigurationError: a rate, chunk size or duration is out of range.
    """
    if not (0 < rate_bps <= 10e9) or not math.isfinite(rate_bps):
        raise ConfigurationError(f"--rate-bps must be in (0, 1e10] bit/s, got {rate_bps}")
    if not chunk_kibs:
        raise ConfigurationError("--chunk-kib needs at least one size, e.g. --chunk-kib 64,256")
    for kib in chunk_kibs:
        if not (MIN_CHUNK_KIB <= kib <= MAX_CHUNK_KIB):
            raise ConfigurationError(
                f"chunk size {kib} KiB is out of range; use {MIN_CHUNK_KIB}..{MAX_CHUNK_KIB} KiB"
            )
    if not (0.2 <= seconds <= 3600):
        raise ConfigurationError(f"--seconds must be in [0.2, 3600], got {seconds}")
    if queued_bytes(rate_bps, seconds, max(chunk_kibs) * 1024) > MAX_QUEUED_BYTES:
        raise ConfigurationError(
            f"{rate_bps:g} bit/s for {seconds:g} s needs more than {MAX_QUEUED_BYTES >> 20} MiB "
            "of queued containers on disk; lower --seconds or --rate-bps"
        )


def queued_bytes(rate_bps: float, seconds: float, chunk_bytes: int) -> float:
    """Container bytes to queue so that the sender never runs dry within ``seconds``."""
    return 1.5 * rate_bps * seconds / 8 + 2 * chunk_bytes


def bench_container(seed: int = 0) -> BenchContainer:
    """A lossless JPEG 2000 container of a mosaic of generated building tiles (about 3 MB)."""
    from shared.codecs.base import RateTarget
    from shared.compression import compress_raster
    from shared.sensors.profiles import get_profile
    from workbench.datasets.generate import generate_scenes

    profile = get_profile(BENCH_TASK)
    tiles = [s.image for s in generate_scenes(BENCH_TASK, MOSAIC_TILES**2, seed)]
    rows = [np.concatenate(tiles[r::MOSAIC_TILES], axis=2) for r in range(MOSAIC_TILES)]
    scene = compress_raster(
        np.concatenate(rows, axis=1),
        codec="jpeg2000",
        target=RateTarget(lossless=True),
        scale=profile.global_max,
        bit_depth=profile.bit_depth,
        metadata={"scene_id": "bench-link", "task": BENCH_TASK, "sensor": profile.sensor},
    )
    data = scene.container
    return BenchContainer(data, hashlib.sha256(data).hexdigest(), scene.header.to_dict())


@contextmanager
def running_ground(work: Path, key: str, max_chunk_bytes: int) -> Iterator[str]:
    """A ground station process on loopback (``eodl ground serve``); yields its URL.

    Raises:
        ServiceStartError: the ground did not become ready; the message has its log's tail.
    """
    from workbench.demo.processes import free_port, start_service, wait_ready

    port = free_port()
    no_segmenters = work / "no-segmenters"
    no_segmenters.mkdir(parents=True, exist_ok=True)
    env = {  # explicit values: the caller's GS_* variables must not change the bench
        "GS_DATABASE_URL": f"sqlite:///{(work / 'ground' / 'ground.db').resolve()}",
        "GS_LINK_KEY": key,
        "GS_MIN_FREE_BYTES": "0",
        "GS_MAX_CHUNK_BYTES": str(max_chunk_bytes),
        "GS_SEGMENTER_DIR": str(no_segmenters),
        "GS_DEVICE": "cpu",
        "GS_PUBLIC_READS": "true",  # loopback only, for the bench's own status reads
    }
    args = ["ground", "serve", "--port", str(port), "--data-dir", str(work / "ground")]
    ground = start_service("ground", [*args, "--log-level", "warning"], port, env, work / "logs")
    try:
        wait_ready(ground, GROUND_READY_S)
        yield ground.url
    finally:
        ground.stop()


def queue_copies(store: Any, container: BenchContainer, count: int) -> None:
    """Put ``count`` scenes carrying ``container`` in the onboard store's downlink queue."""
    from satellite_node.priority import PRIORITY_NAMES
    from satellite_node.store import ContainerInfo

    info = ContainerInfo(
        container=container.data,
        sha256=container.sha256,
        codec_used="jpeg2000",
        bpp=len(container.data) * 8 / (container.header["height"] * container.header["width"]),
        payload_bpp=0.0,
        bits_per_sample=0.0,
        psnr_db=None,
        header=container.header,
    )
    for _ in range(count):
        record = store.admit(
            NewScene(
                task=BENCH_TASK,
                codec="jpeg2000",
                rate={"lossless": True},
                priority=PRIORITY_NAMES["normal"],
                raster_name="bench-link.npy",
                raster=b"\0",
                mask=None,
            )
        )
        store.mark_compressed(record.scene_id, info)
        store.mark_queued(record.scene_id)


def measure_chunk_size(
    ground_url: str,
    key: str,
    container: BenchContainer,
    rate_bps: float,
    chunk_kib: int,
    seconds: float,
    work: Path,
    rtt_ms: float = 0.0,
) -> LinkBenchRow:
    """Run the satellite's sender at one chunk size for about ``seconds`` of link time, over an
    emulated link with a round trip of ``rtt_ms``.

    Raises:
        LinkError: no chunk was acknowledged in time, or the sender thread died.
    """
    from satellite_node.context import SatelliteContext
    from satellite_node.settings import SatelliteSettings

    chunk_bytes = chunk_kib * 1024
    settings = SatelliteSettings(
        data_dir=work,
        ground_url=ground_url,
        link_key=key,
        link_rate_bps=rate_bps,
        link_latency_s=rtt_ms / 2000.0,  # explicit values: SAT_* must not change the bench
        pass_period_s=None,
        pass_duration_s=None,
        capacity_bytes=2 * MAX_QUEUED_BYTES,
        checkpoints_dir=None,
        run_sender=True,
        chunk_bytes=chunk_bytes,
        max_chunk_bytes=max(chunk_bytes, DEFAULT_MAX_CHUNK_BYTES),
        backoff_cap_s=0.5,
        run_worker=False,
    )
    transport = CountingTransport()
    context = SatelliteContext.build(settings, key=key.encode(), ground_transport=transport)
    wanted = queued_bytes(rate_bps, seconds, chunk_bytes)
    queue_copies(context.store, container, math.ceil(wanted / len(container.data)) + 1)
    context.link.set_profile(context.link.profile)  # no credit from the set-up time
    try:
        start = time.monotonic()
        context.start()
        first_ack, first, last, acked, requests = _until_ack_after(
            context, transport, start, seconds, chunk_bytes
        )
    finally:
        context.stop()
    elapsed = last - first
    goodput = acked * 8 / elapsed
    ceiling = chunk_bytes / (chunk_bytes + REQUEST_OVERHEAD_BYTES)
    counters = context.stats.snapshot()
    window, resent = int(counters["window_chunks"]), int(counters["chunks_resent"])
    retries = sum(int(n) for n in counters["retries"].values())
    return LinkBenchRow(
        chunk_kib, rate_bps, acked, elapsed, goodput, goodput / rate_bps, requests,
        rtt_ms, ceiling, window, first_ack - start, resent, retries,
    )  # fmt: skip


def _until_ack_after(
    context: Any, transport: CountingTransport, start: float, seconds: float, chunk_bytes: int
) -> tuple[float, float, float, int, int]:
    """Poll the sender's counters: after the first acknowledgement, a warm-up (the token
    bucket's burst, saved while the first answers came, and two round trips drain), then from
    the next acknowledgement until the first one ``seconds`` or more after it.

    Returns:
        (monotonic time of the very first acknowledgement, of the first and the last measured
        ones, chunk bytes acknowledged between those two, requests sent until the last).
    """
    chunk_s = chunk_bytes * 8 / context.settings.link_rate_bps
    round_trip = 2 * context.settings.link_latency_s
    warm_up = max(context.link.profile.burst_s, 2 * round_trip) + WARM_UP_S
    deadline = start + seconds + warm_up + 4 * chunk_s + 2 * round_trip + 30.0
    first: tuple[float, int] | None = None
    acked_before, first_ack = 0, None
    while True:
        now = time.monotonic()
        acked = int(context.stats.snapshot()["bytes_sent"])
        if acked != acked_before:
            acked_before = acked
            first_ack = first_ack or now
            if first is None and now >= first_ack + warm_up:
                first = (now, acked)
            elif first is not None and now - first[0] >= seconds:
                return first_ack, first[0], now, acked - first[1], transport.requests
        if now > deadline or not context.alive():
            raise LinkError(
                f"the sender had {acked} bytes acknowledged after {now - start:.1f} s "
                f"(thread alive: {context.alive()}, retries: "
                f"{context.stats.snapshot()['retries']})"
            )
        time.sleep(POLL_S)


def auto_chunk_kib(rate_bps: float) -> int:
    """The chunk size the satellite picks for ``rate_bps`` by default, in KiB."""
    from satellite_node.settings import SatelliteSettings

    fields = SatelliteSettings.model_fields
    low, high = fields["min_chunk_bytes"].default, fields["max_chunk_bytes"].default
    one_second = int(rate_bps / 8) // 4096 * 4096
    return max(low, min(high, one_second)) // 1024


def run_link_grid(
    rates_bps: list[float], rtts_ms: list[float], seconds: float, work_dir: Path | None = None
) -> list[LinkBenchRow]:
    """Every rate against every round trip, at the chunk size the satellite picks for the rate."""
    rows = []
    for rate in rates_bps:
        rows += run_link_bench(rate, [auto_chunk_kib(rate)], seconds, work_dir, rtts_ms)
    return rows


def run_link_bench(
    rate_bps: float,
    chunk_kibs: list[int],
    seconds: float,
    work_dir: Path | None = None,
    rtts_ms: list[float] | None = None,
) -> list[LinkBenchRow]:
    """One ground process, then one fresh satellite store and sender per chunk size and round
    trip (``rtts_ms``, default 0).

    Raises:
        ConfigurationError: invalid options (see :func:`check_options`).
        ServiceStartError, LinkError: the ground did not start, or the downlink stalled.
    """
    import secrets

    check_options(rate_bps, chunk_kibs, seconds)
    container = bench_container()
    key = secrets.token_hex(32)
    with tempfile.TemporaryDirectory(prefix="eodl-bench-link-", dir=work_dir) as folder:
        work = Path(folder)
        max_chunk = max(chunk_kibs) * 1024
        with running_ground(work, key, max(max_chunk, DEFAULT_MAX_CHUNK_BYTES)) as ground_url:
            cases = [(kib, rtt) for kib in chunk_kibs for rtt in rtts_ms or [0.0]]
            try:
                return [  # a fresh onboard store per row, even for a repeated size
                    measure_chunk_size(
                        ground_url, key, container, rate_bps, kib, seconds, work / f"sat-{i}", rtt
                    )
                    for i, (kib, rtt) in enumerate(cases)
                ]
            except LinkError as exc:
                raise LinkError(f"{exc}\n{_log_tail(work / 'logs' / 'ground.log')}") from exc


def _log_tail(path: Path, lines: int = 10) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return "(the ground wrote no log)"
    return "last lines of the ground's log:\n" + "\n".join(text)


def link_table(rows: list[LinkBenchRow]) -> str:
    """One line per chunk size: goodput against the rate, and the requests it took."""
    lines = [
        f"{'chunk KiB':>9s} {'rate Mbit/s':>11s} {'RTT ms':>7s} {'payload MB':>10s} "
        f"{'seconds':>8s} {'goodput Mbit/s':>14s} {'efficiency':>10s} {'of ceiling':>10s} "
        f"{'window':>6s} {'requests':>8s} {'first ack s':>11s} {'resent':>6s} {'retries':>7s}"
    ]
    for row in rows:
        lines.append(
            f"{row.chunk_kib:9d} {row.rate_bps / 1e6:11.3f} {row.rtt_ms:7.0f} "
            f"{row.payload_bytes / 1e6:10.3f} {row.seconds:8.2f} {row.goodput_bps / 1e6:14.3f} "
            f"{row.efficiency:10.3f} {row.of_ceiling:10.3f} {row.window_chunks:6d} "
            f"{row.requests:8d} {row.first_ack_s:11.2f} {row.chunks_resent:6d} {row.retries:7d}"
        )
    return "\n".join(lines)
