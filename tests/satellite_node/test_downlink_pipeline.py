"""The sender's chunk pipeline against a real ground station on loopback: the next chunk goes out
while the ground is still answering the last one, no more chunk PUTs are at the ground at once
than the link's bandwidth-delay product needs (two on a short link; many on a long one),
nothing is sent twice, and probes tell a ground that answers from one that cannot be
reached."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sat_harness import (
    LINK_KEY,
    ServerThread,
    free_port,
    ground_app,
    ground_transfers,
    raster_for,
    satellite_settings,
    upload,
    wait_states,
)

from satellite_node.app import create_app
from satellite_node.downlink.client import GroundClient
from satellite_node.downlink.pipeline import MAX_IN_FLIGHT, ChunkPipeline
from satellite_node.downlink.stats import SenderStats

CHUNK = 16 * 1024


class ChunkRecorder:
    """Wraps the real ground app: records chunk PUTs as they start and end, and keeps the
    answer to the first PUT of chunk ``hold_index`` back for ``hold_s`` (a slow fsync)."""

    def __init__(self, app: Any, hold_index: int = 0, hold_s: float = 1.0) -> None:
        self.app, self.hold_index, self.hold_s = app, hold_index, hold_s
        self.events: list[tuple[str, int]] = []
        self.active = self.peak = 0
        self._held = False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] != "PUT" or "/chunks/" not in path:
            await self.app(scope, receive, send)
            return
        index = int(path.rsplit("/", 1)[1])
        self.active += 1
        self.peak = max(self.peak, self.active)
        self.events.append(("start", index))
        try:
            if index == self.hold_index and not self._held:
                self._held = True
                await asyncio.sleep(self.hold_s)
            await self.app(scope, receive, send)
        finally:
            self.active -= 1
            self.events.append(("end", index))


@pytest.fixture
def recorded_ground(tmp_path: Path) -> Iterator[tuple[ServerThread, ChunkRecorder]]:
    recorder = ChunkRecorder(ground_app(tmp_path / "ground"))
    server = ServerThread(recorder).start()
    yield server, recorder
    server.stop()


def _metric(client: TestClient, name: str) -> float:
    lines = client.get("/metrics").text.splitlines()
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(name + " "))


def test_the_next_chunk_goes_out_while_the_ground_answers_the_last(
    recorded_ground: tuple[ServerThread, ChunkRecorder], tmp_path: Path
) -> None:
    server, recorder = recorded_ground
    settings = satellite_settings(
        tmp_path / "sat", server.url, chunk_bytes=CHUNK, link_rate_bps=2e6
    )
    with TestClient(create_app(settings)) as client:
        raster = raster_for("cloud", 5, side=256)
        scene_id = upload(client, raster, "cloud", lossless="true").json()["scene_id"]
        (view,) = wait_states(client, [scene_id], ("delivered", "failed"), 60)
        resent = _metric(client, "eodl_sat_chunks_resent_total")
        sent = _metric(client, "eodl_sat_chunks_sent_total")
    assert view["state"] == "delivered", view
    assert view["receipt"]["sha256"] == view["container_sha256"]
    (transfer,) = [t for t in ground_transfers(server.url) if t["scene_id"] == scene_id]
    count = transfer["chunk_count"]
    assert count >= 4, "the scene must span several chunks for this test"
    events = recorder.events
    assert events.index(("start", 1)) < events.index(("end", 0)), (
        "chunk 1 waited for chunk 0's answer: the link idled while the ground answered"
    )
    starts = sorted(index for kind, index in events if kind == "start")
    assert starts == list(range(count)), "a chunk was sent twice or not at all"
    assert (sent, resent) == (count, 0)


def test_a_probe_tells_an_answering_ground_from_an_unreachable_one(
    recorded_ground: tuple[ServerThread, ChunkRecorder],
) -> None:
    server, _ = recorded_ground
    timeout = httpx.Timeout(5.0, connect=1.0)
    key = LINK_KEY.encode()
    answering = GroundClient(server.url, key=key, key_id="sat-1", timeout=timeout)
    silent = GroundClient(
        f"http://127.0.0.1:{free_port()}", key=key, key_id="sat-1", timeout=timeout
    )
    try:
        assert answering.probe("no-such-transfer") is True  # a 404 is an answer: the link is up
        assert silent.probe("no-such-transfer") is False
    finally:
        answering.close()
        silent.close()


def test_a_distant_link_gets_a_window_as_deep_as_its_bandwidth_delay_product(
    recorded_ground: tuple[ServerThread, ChunkRecorder], tmp_path: Path
) -> None:
    """0.3 s each way at 2 Mbit/s (a relay in geostationary orbit): 150 kB in flight, about
    nine 16 KiB chunks; two in flight would leave the link idle most of the time."""
    server, recorder = recorded_ground
    recorder.hold_index = -1  # no slow answer here
    settings = satellite_settings(
        tmp_path / "sat", server.url, chunk_bytes=CHUNK, link_rate_bps=2e6, link_latency_s=0.3
    )
    with TestClient(create_app(settings)) as client:
        raster = raster_for("cloud", 6, side=384)
        scene_id = upload(client, raster, "cloud", lossless="true").json()["scene_id"]
        (view,) = wait_states(client, [scene_id], ("delivered", "failed"), 90)
        window = _metric(client, "eodl_sat_window_chunks")
        peak = _metric(client, "eodl_sat_chunks_in_flight_peak")
        round_trip = _metric(client, "eodl_sat_round_trip_seconds")
        resent = _metric(client, "eodl_sat_chunks_resent_total")
    assert view["state"] == "delivered", view
    (transfer,) = [t for t in ground_transfers(server.url) if t["scene_id"] == scene_id]
    assert transfer["chunk_count"] >= 8, "the scene must span more chunks than the window"
    # the emulated 0.6 s plus the ground's answer time, measured: at least the product's 11
    assert window >= math.ceil(2e6 / 8 * 0.6 / CHUNK) + 1 == 11
    assert peak >= 8, f"only {peak} chunk PUTs in flight at a 0.6 s round trip"
    # the emulation checked against the sender's own ping: what it measured on the answers is
    # the configured 0.6 s plus the ground's answer time on loopback, never less
    assert 0.6 <= round_trip < 0.75, f"measured round trip {round_trip:.3f} s for 0.6 s emulated"
    starts = sorted(index for kind, index in recorder.events if kind == "start")
    assert starts == list(range(transfer["chunk_count"])) and resent == 0


def test_the_window_follows_rate_and_round_trip() -> None:
    stats = SenderStats()

    def pipeline(rate_bps: float, round_trip_s: float) -> ChunkPipeline:
        return ChunkPipeline(
            None,  # type: ignore[arg-type]  # window() never calls the ground
            stats,
            rate_bps=lambda: rate_bps,
            round_trip_s=lambda: round_trip_s,
        )

    assert pipeline(0.0, 0.6).window(CHUNK) == 2  # rate unknown: the floor
    assert pipeline(2e6, 0.0).window(CHUNK) == 2
    assert pipeline(2e6, 0.6).window(CHUNK) == 15  # 1.5 x 150 kB in flight, + 1
    assert pipeline(150e6, 0.6).window(4 << 20) == 6  # X-band through a relay, 4 MiB chunks
    assert pipeline(800e6, 0.6).window(CHUNK) == MAX_IN_FLIGHT
