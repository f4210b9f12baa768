"""`kill -9` of a real `eodl satellite serve` process, again and again, in every state: after a
restart on the same data dir every accepted scene is delivered exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sat_harness import (
    LINK_KEY,
    ServerThread,
    free_port,
    ground_app,
    ground_transfers,
    npy,
    raster_for,
    wait_for,
)

pytestmark = pytest.mark.integration


class Satellite:
    """`eodl satellite serve` as a child process on loopback."""

    def __init__(self, data_dir: Path, ground_url: str, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            sys.executable,
            "-m",
            "workbench.cli.main",
            "satellite",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--ground-url",
            ground_url,
            "--data-dir",
            str(data_dir),
            "--link-rate",
            "1000000",
            "--log-level",
            "warning",
        ]
        self.env = {
            **os.environ,
            "SAT_LINK_KEY": LINK_KEY,
            "SAT_INSECURE_NO_AUTH": "true",
            "SAT_CHUNK_BYTES": "16384",
            "SAT_REQUEST_TIMEOUT_S": "5",
            "SAT_BACKOFF_CAP_S": "0.5",
            "OMP_NUM_THREADS": "1",
        }
        self.log = log_path.open("ab")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.args, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"satellite exited with {self.process.returncode}")
            try:
                return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, 120, "the satellite to be ready", every_s=0.2)

    def kill9(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def upload(self, task: str, seed: int, **fields: str) -> str | None:
        files = {"raster": ("scene.npy", npy(raster_for(task, seed)), "application/octet-stream")}
        data = {"task": task, "codec": "jpeg2000", **fields}
        try:
            response = httpx.post(f"{self.url}/v1/scenes", data=data, files=files, timeout=30)
        except httpx.HTTPError:
            return None  # the kill came first: not accepted, so not owed
        assert response.status_code == 202, response.text
        return str(response.json()["scene_id"])

    def states(self) -> dict[str, str]:
        scenes = httpx.get(f"{self.url}/v1/scenes", timeout=10).json()["scenes"]
        return {s["scene_id"]: s["state"] for s in scenes}


@pytest.fixture
def ground(tmp_path: Path) -> Iterator[ServerThread]:
    server = ServerThread(ground_app(tmp_path / "ground")).start()
    yield server
    server.stop()


def test_kill9_in_every_state_then_exactly_once_delivery(
    ground: ServerThread, tmp_path: Path
) -> None:
    sat = Satellite(tmp_path / "sat", ground.url, tmp_path / "satellite.log")
    accepted: list[str] = []
    seen_states: set[str] = set()
    sat.start()
    try:
        # Round 1: kill right after uploads (scenes in received / compressed / queued).
        accepted += [s for i in range(3) if (s := sat.upload("building", i, lossless="true"))]
        sat.kill9()
        for round_no, pause_s in enumerate((1.5, 0.7, 2.5, 1.1)):
            sat.start()
            seen_states |= set(sat.states().values())
            if round_no < 2:
                accepted += [
                    s for i in range(2) if (s := sat.upload("fire", 10 * round_no + i, bpp="4"))
                ]
            time.sleep(pause_s)  # kill mid-compression, mid-chunk, mid-commit, ...
            seen_states |= set(sat.states().values())
            sat.kill9()
        sat.start()
        wait_for(
            lambda: set((st := sat.states()).values()) == {"delivered"} and st,
            180,
            "every scene to be delivered",
        )
        states = sat.states()
    finally:
        sat.kill9()
    assert sorted(states) == sorted(accepted) and len(accepted) >= 5
    assert "downlinking" in seen_states
    held = [t for t in ground_transfers(ground.url) if t["scene_id"] in states]
    assert sorted(t["scene_id"] for t in held) == sorted(accepted)  # one transfer per scene
    assert all(t["state"] != "receiving" and t["missing"] == [] for t in held)
    assert list((tmp_path / "sat" / "containers").glob("*.eodl")) == []
