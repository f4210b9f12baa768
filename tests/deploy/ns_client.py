"""A tiny HTTP client the netns tests run *inside* a namespace (``ip netns exec NS python ...``).

The test process lives in the caller's namespace and cannot reach the services' loopback, so it
asks this script, run in the right namespace, to upload scenes or fetch a URL. Imports only
httpx, so each call starts fast.

Usage:
    python ns_client.py get URL
    python ns_client.py upload SATELLITE_URL TASK FILE...   (prints the scene ids as JSON)
"""

from __future__ import annotations

import json
import sys
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


def main(argv: list[str]) -> None:
    if len(argv) >= 2 and argv[0] == "get":
        sys.stdout.write(get(argv[1]))
    elif len(argv) >= 4 and argv[0] == "upload":
        print(json.dumps(upload(argv[1], argv[2], [Path(p) for p in argv[3:]])))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
