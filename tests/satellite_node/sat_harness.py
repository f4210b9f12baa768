"""Helpers for the satellite node's tests and benchmark: a real ground on loopback, rasters,
uploads and polling. Imported by the tests beside it and by ``bench_link.py``."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import uvicorn

LINK_KEY = "test-link-key-0123456789abcdef"

ASGIApp = Callable[..., Any]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerThread:
    """An ASGI app served by a real uvicorn on 127.0.0.1, in a thread (lifespan included)."""

    def __init__(self, app: ASGIApp, port: int | None = None, *, lifespan: bool = True) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on" if lifespan else "off",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"uvicorn on port {self.port} did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def ground_app(data_dir: Path, **overrides: Any) -> Any:
    from ground_station.app import create_app
    from ground_station.settings import GroundSettings

    settings = GroundSettings(
        data_dir=data_dir,
        link_key=LINK_KEY,
        min_free_bytes=0,
        device="cpu",
        public_reads=True,  # asked for: reads are authenticated in test_gs_read_access.py
        **overrides,
    )
    return create_app(settings)


@contextmanager
def running_ground(
    data_dir: Path, *, port: int | None = None, wrap: Callable[[Any], Any] | None = None
) -> Iterator[ServerThread]:
    """A real ground station app on loopback (optionally wrapped by a fault injector)."""
    app = ground_app(data_dir)
    server = ServerThread(wrap(app) if wrap else app, port).start()
    try:
        yield server
    finally:
        server.stop()


def satellite_settings(data_dir: Path, ground_url: str, **overrides: Any) -> Any:
    from satellite_node.settings import SatelliteSettings

    values: dict[str, Any] = {
        "data_dir": data_dir,
        "ground_url": ground_url,
        "link_key": LINK_KEY,
        "insecure_no_auth": True,  # the API's tokens are tested in test_api_auth.py
        "link_rate_bps": 50e6,
        "request_timeout_s": 5.0,
        "connect_timeout_s": 1.0,
        "backoff_cap_s": 0.5,
    }
    values.update(overrides)
    return SatelliteSettings(**values)


def raster_for(task: str, seed: int, side: int | None = None) -> np.ndarray:
    """A raster that fits the task's profile: smooth field plus noise (compresses like data)."""
    from shared.sensors.profiles import get_profile

    profile = get_profile(task)
    height, width = (side, side) if side else profile.tile
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    base = 0.3 + 0.2 * np.sin(6 * yy + seed) * np.cos(5 * xx)
    bands = [
        base + 0.02 * b + 0.05 * rng.standard_normal((height, width)) for b in range(profile.bands)
    ]
    counts = np.clip(np.stack(bands) * profile.global_max, 0, profile.max_count)
    return np.rint(counts).astype(profile.dtype)


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def upload(
    client: Any,
    raster: np.ndarray,
    task: str,
    *,
    mask: np.ndarray | None = None,
    filename: str = "scene.npy",
    **fields: str,
) -> Any:
    """POST /v1/scenes with the spec's multipart field names."""
    files: dict[str, Any] = {"raster": (filename, npy(raster), "application/octet-stream")}
    if mask is not None:
        files["mask"] = ("mask.npy", npy(mask), "application/octet-stream")
    data = {"task": task, "codec": "jpeg2000", **fields}
    return client.post("/v1/scenes", data=data, files=files)


def wait_for(
    predicate: Callable[[], Any], timeout_s: float, what: str, every_s: float = 0.1
) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def scene_state(client: Any, scene_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/scenes/{scene_id}")
    response.raise_for_status()
    return dict(response.json())


def wait_states(
    client: Any, scene_ids: list[str], states: tuple[str, ...], timeout_s: float
) -> list[dict[str, Any]]:
    def done() -> list[dict[str, Any]] | None:
        views = [scene_state(client, s) for s in scene_ids]
        return views if all(v["state"] in states for v in views) else None

    return list(wait_for(done, timeout_s, f"scenes to reach {states}"))


def ground_transfers(ground_url: str) -> list[dict[str, Any]]:
    """Every transfer the ground holds (its public query API)."""
    response = httpx.get(f"{ground_url}/v1/transfers", params={"limit": 1000}, timeout=10)
    response.raise_for_status()
    return list(response.json()["items"])
