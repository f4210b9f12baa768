"""The downlink through a real network-namespace link (``deploy/netns-link``): tbf-shaped at
2 Mbit/s, with passes as link down/up. Every scene must arrive and be processed exactly once,
with verified checksums; goodput, re-sent chunks and time to first byte are measured and
printed (never asserted: the machine's load is not the code's fault)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from netns_harness import (
    LINK_KEY,
    ByteSampler,
    LinkRun,
    eodl_command,
    namespace_skip_reason,
    namespaces,
    prometheus_value,
    start_link,
)

pytestmark = pytest.mark.integration

RATE_BPS = 2_000_000
WINDOWS = "6:16,20:30,34:"  # seconds after ready: two outages (16-20 s, 30-34 s) mid-transfer
SCENES, SIDE = 5, 1024  # about 1.4 MB each, lossless: ~30 s of link time in all


@pytest.fixture(scope="module")
def can_make_namespaces() -> None:
    reason = namespace_skip_reason()
    if reason is not None:
        pytest.skip(reason)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAT_", "GS_"))}
    env.update(
        {
            "SAT_LINK_KEY": LINK_KEY,
            "EODL": str(eodl_command(tmp_path)),
            "OMP_NUM_THREADS": "1",
            "GS_DEVICE": "cpu",
            "GS_SEGMENTER_DIR": str(tmp_path / "no-segmenters"),
            "GS_MIN_FREE_BYTES": "0",
            "SAT_REQUEST_TIMEOUT_S": "3",
            "SAT_CONNECT_TIMEOUT_S": "2",
        }
    )
    return env


def _rasters(folder: Path) -> list[Path]:
    """Noisy 10-bit cloud scenes: lossless J2K cannot shrink them much (bytes to carry)."""
    paths = []
    for seed in range(SCENES):
        rng = np.random.default_rng(seed)
        raster = (3000 + rng.integers(0, 1024, (1, SIDE, SIDE))).astype(np.uint16)
        path = folder / f"scene-{seed}.npy"
        np.save(path, raster, allow_pickle=False)
        paths.append(path)
    return paths


def _wait(predicate, timeout_s: float, what: str, run: LinkRun, every_s: float = 2.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}\n{run.log_tail()}")


def _scenes(run: LinkRun) -> list[dict]:
    ready = run.ready
    body = run.ns_client(ready["sat_ns"], "get", f"{ready['sat_url']}/v1/scenes")
    return list(json.loads(body)["scenes"])


def _transfers(run: LinkRun) -> list[dict]:
    ready = run.ready
    port = ready["ground_url"].rsplit(":", 1)[1]
    url = f"http://127.0.0.1:{port}/v1/transfers?limit=1000"
    return list(json.loads(run.ns_client(ready["gs_ns"], "get", url))["items"])


def _up_intervals(run: LinkRun, until: float) -> list[tuple[float, float]]:
    edges = sorted(
        [(t, "up") for t in run.times("link-up")] + [(t, "down") for t in run.times("link-down")]
    )
    intervals, start = [], None
    for t, kind in edges:
        if kind == "up" and start is None:
            start = t
        elif kind == "down" and start is not None:
            intervals.append((start, t))
            start = None
    if start is not None:
        intervals.append((start, until))
    return intervals


def _figures(
    run: LinkRun, samples: list[tuple[float, int]], app_bytes: int, resent: float
) -> dict[str, float]:
    base = samples[0][1]
    first = next(t for t, v in samples if v - base > 4096)
    last = max(t for (t, v), (_, prev) in zip(samples[1:], samples[:-1], strict=True) if v > prev)
    intervals = [
        (max(a, first), min(b, last)) for a, b in _up_intervals(run, last) if b > first and a < last
    ]
    up_s = sum(b - a for a, b in intervals)
    wire = next(v for t, v in reversed(samples) if t <= last) - base
    delays = []
    for up in run.times("link-up"):
        if up < last:
            at_up = next(v for t, v in samples if t >= up)
            delays.append(next(t for t, v in samples if t >= up and v - at_up > 4096) - up)
    outages = [t for t in run.times("link-down") if first < t < last]
    idle_s = sum(
        t1 - t0
        for (t0, v0), (t1, v1) in zip(samples[:-1], samples[1:], strict=True)
        if v1 == v0 and any(a <= t0 and t1 <= b for a, b in intervals)
    )
    return {
        "goodput_bps": app_bytes * 8 / up_s,
        "wire_bps": wire * 8 / up_s,
        "up_s": up_s,
        "idle_s": idle_s,
        "steady_bps": app_bytes * 8 / (up_s - sum(delays)),
        "outages": len(outages),
        "resent_per_outage": resent / max(1, len(outages)),
        "first_byte_delays_s": delays,  # type: ignore[dict-item]
    }


def test_scenes_cross_two_outages_exactly_once(can_make_namespaces, tmp_path: Path) -> None:
    files = _rasters(tmp_path)
    run = start_link(
        [
            "--rate",
            "2mbit",
            "--uplink-rate",
            "256kbit",
            "--windows",
            WINDOWS,
            "--data-dir",
            str(tmp_path / "link"),
            "--run-for",
            "175",
        ],  # a backstop
        _env(tmp_path),
    )
    try:
        ready = run.ready
        with ByteSampler(int(ready["sat_pid"]), ready["sat_dev"]) as sampler:
            scene_ids = json.loads(
                run.ns_client(
                    ready["sat_ns"], "upload", ready["sat_url"], "cloud", *map(str, files)
                )
            )
            _wait(
                lambda: all(s["state"] == "delivered" for s in _scenes(run)),
                150,
                "every scene delivered",
                run,
            )
            transfers = _wait(
                lambda: (
                    (t := _transfers(run))
                    and all(x["state"] == "processed" for x in t)
                    and len(t) >= SCENES
                    and t
                ),
                60,
                "every transfer processed",
                run,
            )
        scenes = {s["scene_id"]: s for s in _scenes(run)}
        metrics = run.ns_client(ready["sat_ns"], "get", f"{ready['sat_url']}/metrics")
    finally:
        code = run.stop()
    assert code == 143, f"netns-link did not end on SIGTERM cleanly:\n{run.log_tail()}"
    assert not {ready["sat_ns"], ready["gs_ns"]} & namespaces(), "namespaces left behind"

    assert sorted(scenes) == sorted(scene_ids)
    by_scene = {}
    for transfer in transfers:
        assert transfer["scene_id"] not in by_scene, "a scene was recorded twice on the ground"
        by_scene[transfer["scene_id"]] = transfer
    assert sorted(by_scene) == sorted(scene_ids)
    for scene_id, scene in scenes.items():
        transfer = by_scene[scene_id]
        assert scene["receipt"]["sha256"] == scene["container_sha256"] == transfer["sha256"]
        assert transfer["total_bytes"] == scene["container_bytes"]
        assert transfer["digest_verified"] is True, transfer.get("reason")
        assert transfer["attempts"] == 1, "processed more than once"

    app_bytes = sum(s["container_bytes"] for s in scenes.values())
    resent = prometheus_value(metrics, "eodl_sat_chunks_resent_total")
    figures = _figures(run, sampler.samples, app_bytes, resent)
    assert figures["outages"] >= 2, f"the transfer did not span two outages: {figures}"
    print(
        f"\nnetns link at {RATE_BPS / 1e6:.1f} Mbit/s: {SCENES} scenes, {app_bytes} container "
        f"bytes; goodput during passes {figures['goodput_bps'] / 1e6:.3f} Mbit/s "
        f"({100 * figures['goodput_bps'] / RATE_BPS:.1f}% of the shaped rate; wire "
        f"{100 * figures['wire_bps'] / RATE_BPS:.1f}%) over {figures['up_s']:.1f} s of passes; "
        f"link idle {figures['idle_s']:.1f} s of it; excluding the reconnect after each pass "
        f"start {100 * figures['steady_bps'] / RATE_BPS:.1f}%; "
        f"{figures['outages']} outages, {resent:.0f} chunks re-sent "
        f"({figures['resent_per_outage']:.1f} per outage); pass start to first byte: "
        + ", ".join(f"{d:.2f} s" for d in figures["first_byte_delays_s"])  # type: ignore[attr-defined]
    )


def _ns_python(ns: str, code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


RECEIVER = """
import socket, sys
server = socket.create_server(("0.0.0.0", int(sys.argv[1])))
print("listening", flush=True)
connection, _ = server.accept()
total = 0
while data := connection.recv(65536):
    total += len(data)
print(total, flush=True)
"""
SENDER = """
import socket, sys, time
connection = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
payload = bytes(int(sys.argv[3]))
started = time.monotonic()
connection.sendall(payload)
connection.shutdown(socket.SHUT_WR)
connection.recv(1)
print(time.monotonic() - started, flush=True)
"""


def test_link_is_shaped_and_torn_down_on_interrupt(can_make_namespaces, tmp_path: Path) -> None:
    run = start_link(
        ["--no-services", "--rate", "2mbit", "--data-dir", str(tmp_path), "--run-for", "120"],
        dict(os.environ),
        ready_timeout_s=30,
    )
    try:
        ready = run.ready
        receiver = _ns_python(ready["gs_ns"], RECEIVER, "9000")
        assert receiver.stdout is not None and receiver.stdout.readline().strip() == "listening"
        nbytes = 500_000
        sender = _ns_python(ready["sat_ns"], SENDER, ready["gs_addr"], "9000", str(nbytes))
        elapsed = float(sender.communicate(timeout=60)[0])
        received = int(receiver.communicate(timeout=10)[0])
        ours = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True)
        assert ready["gs_addr"] not in ours.stdout and ready["sat_addr"] not in ours.stdout
    finally:
        code = run.stop(signal.SIGINT)
    assert received == nbytes
    ideal = nbytes * 8 / RATE_BPS
    assert elapsed >= 0.8 * ideal, f"{elapsed:.2f} s for {nbytes} bytes: the link is not shaped"
    print(
        f"\nraw TCP through the tbf link: {nbytes * 8 / elapsed / 1e6:.3f} Mbit/s "
        f"({100 * ideal / elapsed:.1f}% of 2 Mbit/s)"
    )
    assert code == 130
    assert not {ready["sat_ns"], ready["gs_ns"]} & namespaces(), "namespaces left behind"
