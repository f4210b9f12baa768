"""The fault proxy: exact relay, corruption, resets, latency and stalls against a tiny real HTTP
server; then the real downlink through it, where every damaged chunk must be refused and
re-sent and no damaged container ever decoded."""

from __future__ import annotations

import hashlib
import io
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn

from shared.errors import ConfigurationError
from workbench.link_proxy import FaultProfile, LinkProxy, ProxyThread

BODY = bytes(range(256)) * 1024  # 256 KiB


class _DigestHandler(BaseHTTPRequestHandler):
    """Answers every PUT with the SHA-256 of the body it received."""

    protocol_version = "HTTP/1.1"
    received: list[bytes] = []

    def do_PUT(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(body)
        answer = hashlib.sha256(body).hexdigest().encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def digest_server() -> Iterator[ThreadingHTTPServer]:
    _DigestHandler.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DigestHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _proxied(server: ThreadingHTTPServer, **faults: Any) -> ProxyThread:
    return ProxyThread(LinkProxy("127.0.0.1", server.server_port, FaultProfile(seed=1, **faults)))


def test_relays_bytes_exactly_over_keep_alive(digest_server: ThreadingHTTPServer) -> None:
    with (
        _proxied(digest_server) as link,
        httpx.Client(base_url=f"http://127.0.0.1:{link.proxy.port}") as client,
    ):
        answers = [client.put(f"/v1/transfers/t/chunks/{i}", content=BODY) for i in range(5)]
    assert all(a.text == hashlib.sha256(BODY).hexdigest() for a in answers)
    counts = link.proxy.counters.snapshot()
    assert counts["requests"] == 5 and counts["connections"] == 1
    assert counts["corrupted"] == counts["resets"] == 0


def test_corrupts_only_body_bytes_of_matching_requests(digest_server: ThreadingHTTPServer) -> None:
    with (
        _proxied(digest_server, corrupt_rate=1.0, corrupt_bytes=3) as link,
        httpx.Client(base_url=f"http://127.0.0.1:{link.proxy.port}") as client,
    ):
        damaged = client.put("/v1/transfers/t/chunks/0", content=BODY)
        intact = client.put("/v1/transfers/t/commit", content=BODY)
    assert damaged.status_code == 200 and damaged.text != hashlib.sha256(BODY).hexdigest()
    assert intact.text == hashlib.sha256(BODY).hexdigest()
    first = _DigestHandler.received[0]
    assert len(first) == len(BODY)
    assert sum(a != b for a, b in zip(first, BODY, strict=True)) == 3
    counts = link.proxy.counters.snapshot()
    assert counts["corrupted"] == 1
    assert counts["answers_to_corrupted"] == {200: 1}
    assert counts["clean_success_paths"] == {"/v1/transfers/t/commit"}


def test_resets_mid_body(digest_server: ThreadingHTTPServer) -> None:
    with (
        _proxied(digest_server, reset_rate=1.0) as link,
        httpx.Client(base_url=f"http://127.0.0.1:{link.proxy.port}") as client,
    ):
        with pytest.raises(httpx.TransportError):
            client.put("/v1/transfers/t/chunks/0", content=BODY)
        after = client.put("/v1/transfers/t/other", content=BODY)  # a fresh connection
    assert after.text == hashlib.sha256(BODY).hexdigest()
    assert all(body == BODY for body in _DigestHandler.received), "a cut body was answered"
    assert link.proxy.counters.snapshot()["resets"] == 1


@pytest.mark.parametrize(
    ("faults", "at_least_s"),
    [
        ({"latency_s": 0.1}, 0.2),  # one way each direction
        ({"stall_rate": 1.0, "stall_s": 0.3}, 0.3),
    ],
)
def test_delays(
    digest_server: ThreadingHTTPServer, faults: dict[str, float], at_least_s: float
) -> None:
    with (
        _proxied(digest_server, **faults) as link,
        httpx.Client(base_url=f"http://127.0.0.1:{link.proxy.port}") as client,
    ):
        started = time.monotonic()
        answer = client.put("/v1/transfers/t/chunks/0", content=b"x" * 100)
        elapsed = time.monotonic() - started
    assert answer.text == hashlib.sha256(b"x" * 100).hexdigest()
    assert elapsed >= at_least_s


def test_stop_ends_open_connections(digest_server: ThreadingHTTPServer) -> None:
    link = _proxied(digest_server).start()
    with socket.create_connection(("127.0.0.1", link.proxy.port), timeout=5) as idle:
        idle.sendall(b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12")
        time.sleep(0.2)
        started = time.monotonic()
        link.stop()
        try:
            assert idle.recv(1) == b""
        except ConnectionResetError:
            pass
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "bad", [{"corrupt_rate": 1.5}, {"latency_s": -1}, {"corrupt_bytes": 0}, {"path_pattern": "("}]
)
def test_refuses_bad_profiles(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        FaultProfile(**bad)


# --- the real downlink through the proxy ----------------------------------------------------

LINK_KEY = "proxy-test-link-key-0123456789"


class _Served:
    """An ASGI app on a real uvicorn on loopback, in a thread (lifespan included)."""

    def __init__(self, app: Any) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _Served:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _npy(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    raster = (3000 + rng.integers(0, 1024, (1, 256, 256))).astype(np.uint16)
    buffer = io.BytesIO()
    np.save(buffer, raster, allow_pickle=False)
    return buffer.getvalue()


def _ground_app(tmp_path: Path) -> Any:
    from ground_station.app import create_app
    from ground_station.settings import GroundSettings

    return create_app(
        GroundSettings(
            data_dir=tmp_path / "ground",
            link_key=LINK_KEY,
            min_free_bytes=0,
            device="cpu",
            segmenter_dir=tmp_path / "no-segmenters",
            public_reads=True,
        )
    )


def _satellite_app(tmp_path: Path, ground_url: str) -> Any:
    from satellite_node.app import create_app
    from satellite_node.settings import SatelliteSettings

    return create_app(
        SatelliteSettings(
            data_dir=tmp_path / "sat",
            ground_url=ground_url,
            link_key=LINK_KEY,
            insecure_no_auth=True,
            link_rate_bps=50e6,
            chunk_bytes=16384,
            request_timeout_s=5.0,
            connect_timeout_s=1.0,
            backoff_cap_s=0.2,
        )
    )


def _until(predicate: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def _metric(text: str, sample: str) -> float:
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(sample))


@pytest.mark.integration
def test_damaged_chunks_are_refused_and_resent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EODL_RECONSTRUCTION_CHECK", "always")  # every decode proven
    profile = FaultProfile(corrupt_rate=0.25, reset_rate=0.15, latency_s=0.002, seed=7)
    with _Served(_ground_app(tmp_path)) as ground:
        proxy = LinkProxy("127.0.0.1", ground.port, profile)
        with (
            ProxyThread(proxy) as link,
            _Served(_satellite_app(tmp_path, f"http://127.0.0.1:{link.proxy.port}")) as sat,
        ):
            scene_ids = []
            with httpx.Client(base_url=sat.url, timeout=30) as client:
                for seed in range(3):
                    answer = client.post(
                        "/v1/scenes",
                        files={"raster": ("s.npy", _npy(seed))},
                        data={"task": "cloud", "codec": "jpeg2000", "lossless": "true"},
                    )
                    assert answer.status_code == 202, answer.text
                    scene_ids.append(answer.json()["scene_id"])

                def delivered() -> list[dict[str, Any]] | None:
                    views = [client.get(f"/v1/scenes/{s}").json() for s in scene_ids]
                    return views if all(v["state"] == "delivered" for v in views) else None

                scenes = _until(delivered, 90, "every scene delivered")
            with httpx.Client(base_url=ground.url, timeout=30) as client:

                def processed() -> list[dict[str, Any]] | None:
                    items = client.get("/v1/transfers", params={"limit": 100}).json()["items"]
                    done = len(items) == 3 and all(
                        t["state"] in ("processed", "failed") for t in items
                    )
                    return items if done else None

                transfers = _until(processed, 90, "every transfer processed")
                metrics = client.get("/metrics").text
    counts = proxy.counters.snapshot()

    by_scene = {t["scene_id"]: t for t in transfers}
    assert sorted(by_scene) == sorted(scene_ids), "a scene is missing or recorded twice"
    for scene in scenes:
        transfer = by_scene[scene["scene_id"]]
        assert transfer["state"] == "processed", transfer["reason"]
        assert transfer["digest_verified"] is True
        assert transfer["sha256"] == scene["container_sha256"] == scene["receipt"]["sha256"]
        assert transfer["attempts"] == 1

    assert counts["corrupted"] >= 1 and counts["resets"] >= 1, counts
    answers = counts["answers_to_corrupted"]
    assert sum(answers.values()) == counts["corrupted"], "a corrupted chunk went unanswered"
    # the signed headers are intact, the body is not: an integrity fault (422), not a 401
    assert set(answers) == {422}, f"a corrupted chunk was not refused as damaged: {answers}"
    resent = set(counts["corrupted_paths"]) | set(counts["reset_paths"])
    assert resent <= counts["clean_success_paths"], "a damaged chunk was never re-sent intact"
    crc_faults = _metric(metrics, 'eodl_ground_chunks_total{outcome="crc_fault"}')
    auth_refusals = _metric(metrics, "eodl_ground_auth_failures_total")
    assert crc_faults >= counts["corrupted"]
    print(
        f"\nproxy: {counts['requests']} requests, {counts['corrupted']} corrupted (answers "
        f"{answers}), {counts['resets']} reset mid-chunk; ground: {crc_faults:.0f} CRC faults, "
        f"{auth_refusals:.0f} body-digest/signature refusals"
    )


def test_command_line_serves_until_sigterm(digest_server: ThreadingHTTPServer) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workbench.link_proxy",
            "--listen",
            "127.0.0.1:0",
            "--target",
            f"127.0.0.1:{digest_server.server_port}",
            "--corrupt-rate",
            "1",
            "--seed",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        port = int(re.search(r"on 127\.0\.0\.1:(\d+)", banner).group(1))  # type: ignore[union-attr]
        answer = httpx.put(f"http://127.0.0.1:{port}/v1/transfers/t/chunks/0", content=BODY)
        assert answer.text != hashlib.sha256(BODY).hexdigest()  # corrupted on the way
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=10)[0]
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert "'corrupted': 1" in output
