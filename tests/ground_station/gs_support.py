"""Helpers of the ground station tests: real containers and a signed in-process client.

A uniquely named module (not ``conftest``) so that test folders never shadow each other.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from ground_station.settings import GroundSettings
from shared.codecs.base import RateTarget
from shared.compression import CompressedScene, compress_raster
from shared.protocol.chunks import HEADER_CHUNK_CRC32C, chunk_bounds, chunk_count, crc32c_hex
from shared.protocol.messages import ONBOARD_KEY
from shared.protocol.signing import sign_request

LINK_KEY = "test-link-key-0123456789abcdef"
CHUNK = 1024


@dataclass(frozen=True)
class Scene:
    """A real container and what went into it."""

    raster: np.ndarray
    truth: np.ndarray
    compressed: CompressedScene
    task: str

    @property
    def data(self) -> bytes:
        return self.compressed.container

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def make_scene(
    task: str = "cloud", bands: int = 1, side: int = 64, seed: int = 0, version: int = 2
) -> Scene:
    """A smooth 14-bit raster with a thresholded truth mask, JPEG 2000 at 2 bpp, in a container
    of ``version`` that carries the reconstruction check (the ground verifies it)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side] / side
    base = 6000 + 4000 * np.sin(6 * xx) * np.cos(4 * yy)
    cube = np.stack([base * (1 + 0.05 * b) for b in range(bands)])
    cube = cube + rng.normal(0, 80, cube.shape)
    raster = np.clip(cube, 0, 16383).astype(np.uint16)
    truth = (base > 8000).astype(np.uint8)
    scale = 10000.0 if task == "building" else 16383.0
    compressed = compress_raster(
        raster,
        codec="jpeg2000",
        target=RateTarget(bpp=2.0 * bands),
        scale=scale,
        bit_depth=14,
        metadata={"scene_id": f"{task}-{seed}", "task": task},
        truth_mask=truth,
        container_version=version,
        reconstruction_check=True,
    )
    return Scene(raster, truth, compressed, task)


class Link:
    """A signed client to one in-process ground station, like the satellite's sender."""

    def __init__(self, client: TestClient, key: str = LINK_KEY, key_id: str = "sat-1") -> None:
        self.client = client
        self.key = key.encode()
        self.key_id = key_id
        self.closed = False

    def close(self) -> None:
        """Shut the ground station down (its lifespan ends), once."""
        if not self.closed:
            self.closed = True
            self.client.__exit__(None, None, None)

    def request(self, method: str, path: str, body: bytes = b"", **headers: str) -> Any:
        signed = sign_request(self.key, self.key_id, method, path, body)
        return self.client.request(method, path, content=body, headers={**signed, **headers})

    def post_json(self, path: str, payload: dict[str, Any]) -> Any:
        return self.request(
            "POST", path, json.dumps(payload).encode(), **{"Content-Type": "application/json"}
        )

    def create(self, transfer_id: str, data: bytes, task: str = "cloud", **over: Any) -> Any:
        body = {
            "transfer_id": transfer_id,
            "scene_id": f"scene-{transfer_id}",
            "total_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "chunk_bytes": CHUNK,
            "priority": 1,
            "task": task,
            "codec": "jpeg2000",
            "header": {},
        }
        body.update(over)
        return self.post_json("/v1/transfers", body)

    def put_chunk(self, transfer_id: str, index: int, data: bytes, crc: str | None = None) -> Any:
        headers = {HEADER_CHUNK_CRC32C: crc if crc is not None else crc32c_hex(data)}
        return self.request("PUT", f"/v1/transfers/{transfer_id}/chunks/{index}", data, **headers)

    def send_all(self, transfer_id: str, data: bytes) -> None:
        for index in range(chunk_count(len(data), CHUNK)):
            start, stop = chunk_bounds(index, len(data), CHUNK)
            answer = self.put_chunk(transfer_id, index, data[start:stop])
            assert answer.status_code == 200, answer.text

    def commit(self, transfer_id: str, sha256: str) -> Any:
        return self.post_json(f"/v1/transfers/{transfer_id}/commit", {"sha256": sha256})

    def upload(
        self, transfer_id: str, data: bytes, task: str = "cloud", psnr_db: float | None = None
    ) -> dict[str, Any]:
        """Create (announcing ``psnr_db`` as the satellite does), send every chunk, commit;
        return the receipt."""
        header = {} if psnr_db is None else {ONBOARD_KEY: {"psnr_db": psnr_db}}
        assert self.create(transfer_id, data, task, header=header).status_code in (200, 201)
        self.send_all(transfer_id, data)
        answer = self.commit(transfer_id, hashlib.sha256(data).hexdigest())
        assert answer.status_code == 200, answer.text
        return answer.json()

    def wait(self, transfer_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
        """Poll until the transfer is processed or failed."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            view = self.client.get(f"/v1/transfers/{transfer_id}").json()
            if view["state"] in ("processed", "failed"):
                return view
            time.sleep(0.1)
        raise AssertionError(f"transfer {transfer_id} still {view['state']} after {timeout_s} s")


def decode_limits(**overrides: float) -> Any:
    """The decode worker's limits as the ground's defaults set them, with ``overrides``."""
    from ground_station.processing.decode import WorkerLimits

    values = {
        "timeout_s": 120.0,
        "memory_mb": 6144,
        "max_pixels": 1 << 24,
        "max_bands": 16,
        "max_payload_bytes": 1 << 26,
    }
    values.update(overrides)
    return WorkerLimits(**values)


def ground_settings(data_dir: Path, **overrides: Any) -> GroundSettings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "link_key": LINK_KEY,
        "device": "cpu",
        "min_free_bytes": 0,
        "public_reads": True,  # asked for: the read tokens and sign-in are tested on their own
    }
    values.update(overrides)
    return GroundSettings(**values)
