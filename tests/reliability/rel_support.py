"""Helpers of the reliability tests: both services as real child processes on loopback, a
signed client, small fire rasters, and latency figures.

A uniquely named module (not ``conftest``) so that test folders never shadow each other.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np

LINK_KEY = "test-link-key-0123456789abcdef"
REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    predicate: Callable[[], Any], timeout_s: float, what: str, every_s: float = 0.1
) -> Any:
    """Poll ``predicate`` until it is truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def fire_raster(seed: int, side: int = 32) -> np.ndarray:
    """A 1 x side x side 14-bit MWIR-like patch with a hot spot (compresses like data)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side] / side
    base = 3000 + 800 * np.sin(6 * yy + seed) * np.cos(5 * xx)
    cy, cx = rng.integers(4, side - 4, size=2)
    base[cy - 2 : cy + 2, cx - 2 : cx + 2] += 9000
    counts = np.clip(base + 40 * rng.standard_normal((side, side)), 0, 16383)
    return np.rint(counts)[None].astype(np.uint16)


def npy(array: np.ndarray) -> bytes:
    """``array`` as the bytes of a ``.npy`` file."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def percentile_ms(samples_s: Sequence[float], q: float) -> float:
    """The ``q``-th percentile of latencies in seconds, in milliseconds."""
    return float(np.percentile(np.asarray(samples_s) * 1000.0, q))


class Service:
    """An ``eodl`` service as a child process on 127.0.0.1 (``kill -9`` and restart at will).

    Args:
        args: the ``eodl`` sub-command and its options (``--host``/``--port`` are added).
        env: extra environment variables.
        log_path: where stdout and stderr go (appended across restarts).
        prefix: a command the service runs under (e.g. ``unshare -m sh -c ...``), or none.
    """

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        log_path: Path,
        prefix: Callable[[list[str]], list[str]] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        base = [sys.executable, "-m", "workbench.cli.main", *args]
        self.command = base + ["--host", "127.0.0.1", "--port", str(self.port)]
        if prefix is not None:
            self.command = prefix(self.command)
        self.env = {**os.environ, "OMP_NUM_THREADS": "1", **env}
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self, timeout_s: float = 120.0) -> Service:
        """Start the process and wait until ``/readyz`` answers 200."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT
            )
        wait_for(self.ready, timeout_s, f"{self.command[3:5]} to be ready", every_s=0.2)
        return self

    def ready(self) -> bool:
        """True when ``/readyz`` answers 200; raises if the process died."""
        if self.process is not None and self.process.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise AssertionError(f"service exited with {self.process.returncode}: {tail}")
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill9(self) -> None:
        """SIGKILL the process (no clean-up runs) and reap it."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
            self.kills += 1


def ground_service(data_dir: Path, log_path: Path, **env: str) -> Service:
    """``eodl ground serve`` on ``data_dir`` (CPU, no disk reserve unless ``env`` says)."""
    values = {
        "GS_LINK_KEY": LINK_KEY,
        "GS_DEVICE": "cpu",
        "GS_MIN_FREE_BYTES": "0",
        "GS_PUBLIC_READS": "true",  # asked for: reads are tested on their own
        **env,
    }
    return Service(
        ["ground", "serve", "--data-dir", str(data_dir), "--log-level", "warning"],
        values,
        log_path,
    )


def satellite_service(
    data_dir: Path, ground_url: str, log_path: Path, *, link_rate_bps: int = 2_000_000, **env: str
) -> Service:
    """``eodl satellite serve`` on ``data_dir``, sending to ``ground_url``."""
    values = {
        "SAT_LINK_KEY": LINK_KEY,
        "SAT_INSECURE_NO_AUTH": "true",  # the API's tokens are tested in test_api_auth.py
        "SAT_CHUNK_BYTES": "1024",
        "SAT_REQUEST_TIMEOUT_S": "5",
        "SAT_CONNECT_TIMEOUT_S": "1",
        "SAT_BACKOFF_CAP_S": "0.5",
        **env,
    }
    args = ["satellite", "serve", "--ground-url", ground_url, "--data-dir", str(data_dir)]
    args += ["--link-rate", str(link_rate_bps), "--log-level", "warning"]
    return Service(args, values, log_path)


def upload_fire(url: str, seed: int, *, timeout_s: float = 30.0, **fields: str) -> httpx.Response:
    """POST one fire patch (JPEG 2000 at 4 bpp unless ``fields`` say otherwise)."""
    files = {"raster": ("scene.npy", npy(fire_raster(seed)), "application/octet-stream")}
    data = {"task": "fire", "codec": "jpeg2000", "bpp": "4", **fields}
    return httpx.post(f"{url}/v1/scenes", data=data, files=files, timeout=timeout_s)


def scenes(url: str) -> dict[str, dict[str, Any]]:
    """Every scene the satellite holds, by scene id."""
    answer = httpx.get(f"{url}/v1/scenes", params={"limit": 5000}, timeout=30)
    answer.raise_for_status()
    return {s["scene_id"]: s for s in answer.json()["scenes"]}


def transfers(url: str) -> list[dict[str, Any]]:
    """Every transfer the ground holds (its public query API, paged)."""
    items: list[dict[str, Any]] = []
    while True:
        answer = httpx.get(
            f"{url}/v1/transfers", params={"limit": 200, "offset": len(items)}, timeout=30
        )
        answer.raise_for_status()
        page = answer.json()
        items += page["items"]
        if not page["items"] or len(items) >= page["total"]:
            return items


def fire_container(seed: int, *, scene_id: str | None = None) -> bytes:
    """A real JPEG 2000 container of one fire patch (lossless), as the satellite makes it."""
    from shared.codecs.base import RateTarget
    from shared.compression import compress_raster

    raster = fire_raster(seed)
    compressed = compress_raster(
        raster,
        codec="jpeg2000",
        target=RateTarget(lossless=True),
        scale=16383.0,
        bit_depth=14,
        metadata={"scene_id": scene_id or f"fire-{seed}", "task": "fire"},
        truth_mask=(raster[0] > 9000).astype(np.uint8),
    )
    return bytes(compressed.container)


class SignedClient:
    """A client signing every request with the satellite's key, like the downlink sender.

    Args:
        client: an httpx-compatible client (a ``TestClient`` or ``httpx.Client``).
        key: the HMAC key.
    """

    def __init__(self, client: Any, key: str = LINK_KEY, key_id: str = "sat-1") -> None:
        self.client, self.key, self.key_id = client, key.encode(), key_id

    def signed(self, method: str, path: str, body: bytes = b"", **headers: str) -> dict[str, str]:
        """The headers of a freshly signed request (keep them to replay it)."""
        from shared.protocol.signing import sign_request

        return {**sign_request(self.key, self.key_id, method, path, body), **headers}

    def send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
        """Send exactly these bytes and headers (a replay sends the same twice)."""
        return self.client.request(method, path, content=body, headers=headers)

    def request(self, method: str, path: str, body: bytes = b"", **headers: str) -> Any:
        """Sign and send."""
        return self.send(method, path, body, self.signed(method, path, body, **headers))

    def create_body(self, transfer_id: str, data: bytes, chunk_bytes: int = 1024) -> bytes:
        """The JSON body of ``POST /v1/transfers`` for ``data``."""
        import hashlib
        import json

        body = {
            "transfer_id": transfer_id,
            "scene_id": f"scene-{transfer_id}",
            "total_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "chunk_bytes": chunk_bytes,
            "priority": 0,
            "task": "fire",
            "codec": "jpeg2000",
            "header": {},
        }
        return json.dumps(body).encode()


class ServerThread:
    """An ASGI app served by a real uvicorn on 127.0.0.1 in a thread (lifespan included)."""

    def __init__(self, app: Any) -> None:
        import threading

        import uvicorn

        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        wait_for(lambda: self.server.started or not self.thread.is_alive(), 120, "uvicorn")
        if not self.thread.is_alive():
            raise AssertionError(f"uvicorn on port {self.port} did not start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def ground_app(data_dir: Path, **overrides: Any) -> Any:
    """A ground station app on ``data_dir`` (CPU, no disk reserve unless overridden)."""
    from ground_station.app import create_app
    from ground_station.settings import GroundSettings

    values: dict[str, Any] = {"min_free_bytes": 0, "device": "cpu", **overrides}
    values.setdefault("public_reads", True)  # asked for: reads are tested on their own
    return create_app(GroundSettings(data_dir=data_dir, link_key=LINK_KEY, **values))


def satellite_app(data_dir: Path, ground_url: str, **overrides: Any) -> Any:
    """A satellite app on ``data_dir`` sending to ``ground_url`` (1 KiB chunks, short backoff)."""
    from satellite_node.app import create_app
    from satellite_node.settings import SatelliteSettings

    values: dict[str, Any] = {
        "link_rate_bps": 5e6,
        "chunk_bytes": 1024,
        "request_timeout_s": 5.0,
        "connect_timeout_s": 1.0,
        "backoff_cap_s": 0.3,
        **overrides,
    }
    return create_app(
        SatelliteSettings(
            data_dir=data_dir,
            ground_url=ground_url,
            link_key=LINK_KEY,
            insecure_no_auth=True,
            **values,
        )
    )


def post_fire(client: Any, seed: int, **fields: str) -> Any:
    """POST one fire patch through an in-process client (lossless JPEG 2000 by default)."""
    files = {"raster": ("scene.npy", npy(fire_raster(seed)), "application/octet-stream")}
    data = {"task": "fire", "codec": "jpeg2000", "lossless": "true", **fields}
    return client.post("/v1/scenes", data=data, files=files)


class TreeRss:
    """Peak memory of some processes and every descendant (decode workers, tile workers),
    sampled from ``/proc`` every ``every_s`` in a thread, two ways:

    - ``peak_mib``: the sum of resident sets, which counts a page shared by several processes
      (the forkserver's torch in every decode process it forks) once per process: an upper
      bound;
    - ``peak_pss_mib``: the sum of proportional set sizes (``smaps_rollup``), each shared page
      split between its sharers: the memory the tree really takes.
    """

    def __init__(self, pids: list[int], every_s: float = 0.05) -> None:
        self.roots, self.every_s = set(pids), every_s
        self.peak_bytes, self.samples, self.most_processes = 0, 0, 0
        self.peak_pss_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._page = os.sysconf("SC_PAGE_SIZE")

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / 1024**2

    @property
    def peak_pss_mib(self) -> float:
        return self.peak_pss_bytes / 1024**2

    def _tree(self) -> set[int]:
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                parents[int(entry.name)] = int(fields[1])
        tree, grew = set(self.roots), True
        while grew:
            children = {pid for pid, parent in parents.items() if parent in tree} - tree
            grew = bool(children)
            tree |= children
        return tree

    def _resident(self, pid: int) -> int:
        try:
            return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * self._page
        except (OSError, IndexError, ValueError):
            return 0  # the process ended between listing and reading

    @staticmethod
    def _proportional(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
        except (OSError, IndexError, ValueError):
            pass
        return 0  # the process ended between listing and reading

    def _run(self) -> None:
        while not self._stop.is_set():
            tree = self._tree()
            self.peak_bytes = max(self.peak_bytes, sum(self._resident(p) for p in tree))
            self.peak_pss_bytes = max(self.peak_pss_bytes, sum(self._proportional(p) for p in tree))
            self.most_processes = max(self.most_processes, len(tree))
            self.samples += 1
            self._stop.wait(self.every_s)

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(10)
