"""`eodl upload` as a real client of a running satellite node, and `eodl satellite serve`'s
fail-fast checks."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "satellite_node"))
from sat_harness import ServerThread, raster_for, satellite_settings  # noqa: E402

from satellite_node.app import create_app  # noqa: E402
from shared.errors import ConfigurationError  # noqa: E402
from shared.protocol.tokens import hash_token, new_token  # noqa: E402
from workbench.cli import satellite_cmds  # noqa: E402


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    satellite_cmds.register(app)
    return app


UPLOADER_TOKEN, UPLOADER = new_token("cli-test", "uploader")


@pytest.fixture
def satellite(tmp_path: Path) -> Iterator[ServerThread]:
    settings = satellite_settings(
        tmp_path / "sat",
        "http://127.0.0.1:9",
        run_sender=False,
        insecure_no_auth=False,
        api_tokens=[UPLOADER],
    )
    server = ServerThread(create_app(settings)).start()
    yield server
    server.stop()


def test_upload_sends_every_file_and_reports_refusals(
    cli: typer.Typer, satellite: ServerThread, tmp_path: Path
) -> None:
    paths = []
    for i in range(3):
        path = tmp_path / f"fire{i}.npy"
        np.save(path, raster_for("fire", i))
        paths.append(str(path))
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((3, 32, 32), np.uint16))
    args = [
        "upload",
        *paths,
        str(bad),
        "--task",
        "fire",
        "--codec",
        "jpeg2000",
        "--bpp",
        "3",
        "--satellite",
        satellite.url,
    ]
    result = CliRunner().invoke(cli, args, env={"EODL_SATELLITE_TOKEN": UPLOADER_TOKEN})
    assert result.exit_code == 1, result.output
    assert "bad.npy: refused with 422" in result.output and "bands" in result.output
    ids = re.findall(r"fire\d\.npy\t([0-9a-f]{32})", result.output)
    assert len(ids) == 3
    import httpx

    auth = {"Authorization": f"Bearer {UPLOADER_TOKEN}"}
    scenes = httpx.get(f"{satellite.url}/v1/scenes", headers=auth).json()["scenes"]
    assert sorted(s["scene_id"] for s in scenes) == sorted(ids)
    assert {s["state"] for s in scenes} <= {"received", "compressed", "queued"} and {
        s["rate"]["bpp"] for s in scenes
    } == {3.0}


def test_upload_without_a_token_is_refused_and_says_how_to_get_one(
    cli: typer.Typer, satellite: ServerThread, tmp_path: Path
) -> None:
    path = tmp_path / "fire.npy"
    np.save(path, raster_for("fire", 1))
    args = ["upload", str(path), "--task", "fire", "--satellite", satellite.url]
    result = CliRunner().invoke(cli, args, env={"EODL_SATELLITE_TOKEN": ""})
    assert result.exit_code == 1 and "refused with 401" in result.output
    assert "eodl satellite token" in result.output


def test_the_token_command_prints_a_token_and_its_hashed_entry(cli: typer.Typer) -> None:
    args = ["satellite", "token", "--name", "ops", "--role", "uploader", "--alerts"]
    args += ["--store-share", "0.25", "--uploads-per-minute", "30"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    token = re.search(r"^token: (\S+)$", result.output, re.M)
    entry = re.search(r"^SAT_API_TOKENS entry: (\{.*\})$", result.output, re.M)
    assert token is not None and entry is not None
    assert json.loads(entry.group(1)) == {
        "name": "ops",
        "role": "uploader",
        "sha256": hash_token(token.group(1)),
        "alerts": True,
        "store_share": 0.25,
        "uploads_per_minute": 30,
        "upload_bytes_per_minute": None,
    }


def test_upload_to_a_satellite_that_is_not_there_says_so(cli: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "fire.npy"
    np.save(path, raster_for("fire", 1))
    result = CliRunner().invoke(
        cli, ["upload", str(path), "--task", "fire", "--satellite", "http://127.0.0.1:9"]
    )
    assert result.exit_code == 1 and "cannot reach the satellite" in result.output


def test_serve_fails_fast_without_a_link_key(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SAT_LINK_KEY", raising=False)
    result = CliRunner().invoke(cli, ["satellite", "serve", "--data-dir", str(tmp_path)])
    assert isinstance(result.exception, ConfigurationError)
    assert "SAT_LINK_KEY" in str(result.exception)
