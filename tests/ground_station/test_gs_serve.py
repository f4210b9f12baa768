"""``eodl ground serve``: refuses to start without a key; a real uvicorn serves signed uploads."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import typer
from gs_support import CHUNK, LINK_KEY, Scene
from typer.testing import CliRunner

from shared.errors import ConfigurationError
from shared.protocol.chunks import HEADER_CHUNK_CRC32C, chunk_bounds, chunk_count, crc32c_hex
from shared.protocol.signing import sign_request
from workbench.cli.ground_cmds import register

DRIVER = (
    "import typer; from workbench.cli.ground_cmds import register; "
    "app = typer.Typer(); register(app); app()"
)


def test_serve_without_link_key_fails_fast(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("GS_LINK_KEY", raising=False)
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["ground", "serve", "--data-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigurationError)
    assert "GS_LINK_KEY" in str(result.exception)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _signed(
    client: httpx.Client, method: str, path: str, body: bytes = b"", **headers: str
) -> httpx.Response:
    signed = sign_request(LINK_KEY.encode(), "sat-1", method, path, body)
    return client.request(method, path, content=body, headers={**signed, **headers})


@pytest.mark.integration
def test_real_uvicorn_on_loopback_accepts_a_signed_upload(tmp_path: Path, scene: Scene) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "GS_LINK_KEY": LINK_KEY,
        "GS_DEVICE": "cpu",
        "GS_SEGMENTER_DIR": str(tmp_path / "none"),
        "GS_MIN_FREE_BYTES": "0",
        "GS_PUBLIC_READS": "true",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            DRIVER,
            "ground",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "ground"),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as client:
            _wait_ready(client, server)
            _upload(client, scene)
            assert client.post("/v1/transfers", content=b"{}").status_code == 401
            deadline = time.monotonic() + 60
            while client.get("/v1/transfers/t1").json()["state"] not in ("processed", "failed"):
                assert time.monotonic() < deadline, "transfer not processed within 60 s"
                time.sleep(0.2)
            assert client.get("/v1/transfers/t1").json()["state"] == "processed"
    finally:
        server.terminate()
        server.wait(timeout=20)


def _wait_ready(client: httpx.Client, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            output = server.stdout.read().decode() if server.stdout else ""
            raise AssertionError(f"ground station exited: {output[-2000:]}")
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("ground station not ready within 60 s")


def _upload(client: httpx.Client, scene: Scene) -> None:
    data = scene.data
    create = {
        "transfer_id": "t1",
        "scene_id": "s1",
        "total_bytes": len(data),
        "sha256": scene.sha256,
        "chunk_bytes": CHUNK,
        "priority": 0,
        "task": "cloud",
        "codec": "jpeg2000",
        "header": {},
    }
    body = json.dumps(create).encode()
    assert (
        _signed(
            client, "POST", "/v1/transfers", body, **{"Content-Type": "application/json"}
        ).status_code
        == 201
    )
    for index in range(chunk_count(len(data), CHUNK)):
        start, stop = chunk_bounds(index, len(data), CHUNK)
        chunk = data[start:stop]
        answer = _signed(
            client,
            "PUT",
            f"/v1/transfers/t1/chunks/{index}",
            chunk,
            **{HEADER_CHUNK_CRC32C: crc32c_hex(chunk)},
        )
        assert answer.status_code == 200, answer.text
    commit = json.dumps({"sha256": hashlib.sha256(data).hexdigest()}).encode()
    receipt = _signed(
        client, "POST", "/v1/transfers/t1/commit", commit, **{"Content-Type": "application/json"}
    )
    assert receipt.status_code == 200 and receipt.json()["sha256"] == scene.sha256
