"""A tiny HTTP client the netns tests run *inside* a namespace (``ip netns exec NS python ...``).

The test process lives in the caller's namespace and cannot reach the services' loopback, so it
asks this script, run in the right namespace, to upload scenes or fetch a URL. Imports only
httpx, so each call starts fast.

Usage:
    python ns_client.py get URL
    python ns_client.py upload SATELLITE_URL TASK FILE...   (prints the scene ids as JSON)
    python ns_client.py queued SATELLITE_URL N TIMEOUT_S
        (polls every 0.1 s until N scenes are queued or further on; prints as JSON the unix
        times at which the first and the last of them were first seen so)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import httpx


def get(url: str) -> str:
    """The body of ``GET url`` (raises on a non-2xx answer)."""
    response = httpx.get(url, timeout=30.0)
    response.raise_for_status()
    return response.text


def upload(satellite_url: str, task: str, files: list[Path]) -> list[str]:
    """Upload each file as a scene, JPEG 2000 lossless; returns the scene ids in order."""
    scene_ids = []
    with httpx.Client(base_url=satellite_url, timeout=120.0) as client:
        for path in files:
            response = client.post(
                "/v1/scenes",
                data={"task": task, "codec": "jpeg2000", "lossless": "true"},
                files={"raster": (path.name, path.read_bytes(), "application/octet-stream")},
            )
            if response.status_code != 202:
                raise SystemExit(f"{path.name}: {response.status_code} {response.text}")
            scene_ids.append(str(response.json()["scene_id"]))
    return scene_ids


SENDABLE = {"queued", "downlinking", "delivered"}


def queued_times(
    satellite_url: str, count: int, timeout_s: float, headers: dict[str, str] | None = None
) -> dict[str, float]:
    """When the first and the last of ``count`` scenes were first seen ready to send
    (``headers``: e.g. the bearer token of a satellite that asks for one)."""
    seen: dict[str, float] = {}
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=satellite_url, timeout=10.0, headers=headers) as client:
        while len(seen) < count and time.monotonic() < deadline:
            now = time.time()
            for scene in client.get("/v1/scenes").json()["scenes"]:
                if scene["state"] in SENDABLE:
                    seen.setdefault(scene["scene_id"], now)
            time.sleep(0.1)
    if len(seen) < count:
        raise SystemExit(f"only {len(seen)} of {count} scenes queued after {timeout_s} s")
    return {"first": min(seen.values()), "last": max(seen.values())}


def main(argv: list[str]) -> None:
    if len(argv) >= 2 and argv[0] == "get":
        sys.stdout.write(get(argv[1]))
    elif len(argv) >= 4 and argv[0] == "upload":
        print(json.dumps(upload(argv[1], argv[2], [Path(p) for p in argv[3:]])))
    elif len(argv) == 4 and argv[0] == "queued":
        print(json.dumps(queued_times(argv[1], int(argv[2]), float(argv[3]))))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
