"""Disk full (guarantee 6 and 1): onboard, the store's capacity refuses new scenes with 507 and
keeps every old one; on the ground, a real 4 MiB tmpfs (private mount namespace) filled to the
last byte makes the ground refuse writes, and the satellite keeps its scenes and delivers them
all once space returns."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rel_support import (
    ServerThread,
    ground_app,
    ground_service,
    post_fire,
    satellite_app,
    transfers,
    wait_for,
)

pytestmark = pytest.mark.integration
LINK_DOWN = {"rate_bps": 5e6, "windows": [{"start_s": 1e6, "end_s": 1e6 + 1}]}
LINK_UP = {"rate_bps": 5e6}


def _states(sat: TestClient) -> dict[str, str]:
    return {s["scene_id"]: s["state"] for s in sat.get("/v1/scenes").json()["scenes"]}


def test_a_full_onboard_store_answers_507_and_drops_nothing(tmp_path: Path) -> None:
    with ServerThread(ground_app(tmp_path / "ground")) as ground:
        app = satellite_app(tmp_path / "sat", ground.url, capacity_bytes=40_000)
        with TestClient(app) as sat:
            assert sat.put("/v1/link", json=LINK_DOWN).status_code == 200
            accepted, refused = [], None
            for seed in range(40):
                answer = post_fire(sat, seed)
                if answer.status_code == 507:
                    refused = answer
                    break
                assert answer.status_code == 202, answer.text
                accepted.append(answer.json()["scene_id"])
            assert refused is not None and len(accepted) >= 2
            assert "full" in refused.text.lower() or "capacity" in refused.text.lower()
            assert set(_states(sat)) == set(accepted)  # nothing dropped to make room
            assert sat.put("/v1/link", json=LINK_UP).status_code == 200
            wait_for(
                lambda: set(_states(sat).values()) == {"delivered"}, 60, "deliveries to free space"
            )
            again = post_fire(sat, 99)
            assert again.status_code == 202, again.text  # space returned with the receipts
            accepted.append(again.json()["scene_id"])
            wait_for(lambda: set(_states(sat).values()) == {"delivered"}, 60, "the last one")
        held = sorted(t["scene_id"] for t in transfers(ground.url))
    print(f"\nonboard full: {len(accepted) - 1} accepted, then 507: {refused.json()}")
    assert held == sorted(accepted)


def _tmpfs_prefix(mount_dir: Path, size: str) -> Callable[[list[str]], list[str]]:
    """Wrap a command so that it runs with a private ``size`` tmpfs mounted on ``mount_dir``."""

    def prefix(command: list[str]) -> list[str]:
        script = f'mount -t tmpfs -o size={size} tmpfs "{mount_dir}" && exec "$@"'
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *command]

    return prefix


def _fill(path: Path) -> int:
    """Write zeros to ``path`` until the disk refuses (ENOSPC); return the bytes written."""
    written = 0
    with open(path, "wb", buffering=0) as ballast:
        block = b"\0" * 4096
        for _ in range(1 << 20):  # bounded: at most 4 GiB, far above the tmpfs size
            try:
                written += ballast.write(block)
            except OSError as exc:
                assert exc.errno == 28, exc
                break
    return written


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="needs root and unshare(1) for a private tmpfs",
)
def test_a_full_ground_disk_refuses_then_recovers_with_nothing_lost(tmp_path: Path) -> None:
    data_dir = tmp_path / "ground"
    data_dir.mkdir()
    ground = ground_service(data_dir, tmp_path / "ground.log")
    ground.command = _tmpfs_prefix(data_dir, "8m")(ground.command)
    ground.start()
    try:
        assert ground.process is not None
        inside = Path(f"/proc/{ground.process.pid}/root") / str(data_dir).lstrip("/")
        ballast = inside / "ballast.bin"
        filled = _fill(ballast)
        with TestClient(satellite_app(tmp_path / "sat", ground.url)) as sat:
            ids = [post_fire(sat, seed).json()["scene_id"] for seed in range(4)]
            wait_for(
                lambda: 'reason="ground_full"' in sat.get("/metrics").text,
                60,
                "the ground to refuse a write for lack of space",
            )
            metrics_full = sat.get("/metrics").text
            assert "delivered" not in set(_states(sat).values())  # kept onboard, not released
            ballast.unlink()  # space returns
            wait_for(lambda: set(_states(sat).values()) == {"delivered"}, 90, "delivery")
        held = wait_for(
            lambda: (
                (ts := transfers(ground.url)) and all(t["state"] == "processed" for t in ts) and ts
            ),
            90,
            "the ground to process them",
        )
    finally:
        ground.kill9()
    retries = [line for line in metrics_full.splitlines() if line.startswith("eodl_sat_retries")]
    print(f"\nground full: ballast {filled} bytes; sender retries while full: {retries}")
    assert sorted(t["scene_id"] for t in held) == sorted(ids)
    assert any("ground_full" in line for line in retries), retries
