"""`eodl data generate` and `eodl data stats` through Typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from workbench.cli import data_cmds


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()
    data_cmds.register(app)
    return app


def test_generate_writes_scenes_masks_and_index(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "fire"
    args = ["data", "generate", "--task", "fire", "--count", "6", "--seed", "3", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    index = json.loads((out / "index.json").read_text())
    assert index["task"] == "fire" and len(index["scenes"]) == 6
    entry = index["scenes"][0]
    assert set(entry) >= {"id", "task", "shape", "dtype", "mask_fraction", "seed"}
    image = np.load(out / f"{entry['id']}.npy")
    mask = np.load(out / f"{entry['id']}.mask.npy")
    assert list(image.shape) == entry["shape"] == [1, 32, 32] and image.dtype == np.uint16
    assert mask.dtype == np.uint8 and mask.mean() == pytest.approx(entry["mask_fraction"], abs=1e-6)
    again = tmp_path / "again"
    CliRunner().invoke(app, args[:-1] + [str(again)])
    assert (again / f"{entry['id']}.npy").read_bytes() == (out / f"{entry['id']}.npy").read_bytes()


def test_stats_reports_and_flags(app: typer.Typer, tmp_path: Path) -> None:
    gen = ["data", "generate", "--task", "cloud", "--count", "3", "--seed", "0"]
    gen += ["--out", str(tmp_path)]
    assert CliRunner().invoke(app, gen).exit_code == 0
    result = CliRunner().invoke(app, ["data", "stats", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "profile: cloud" in result.output and "LWIR_11.5" in result.output
    assert "mask fraction" in result.output
    np.save(tmp_path / "cloud-s0-00000.npy", np.zeros((1, 256, 256), np.float32))
    result = CliRunner().invoke(app, ["data", "stats", str(tmp_path)])
    assert result.exit_code == 1 and "MISMATCH cloud-s0-00000.npy" in result.output


def test_generate_refuses_unknown_task_and_bad_count(app: typer.Typer, tmp_path: Path) -> None:
    base = ["data", "generate", "--seed", "0", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, base + ["--task", "flood", "--count", "2"])
    assert result.exit_code == 2 and "flood" in result.output
    result = CliRunner().invoke(app, base + ["--task", "fire", "--count", "0"])
    assert result.exit_code == 2


def test_generate_refuses_folder_of_another_task(app: typer.Typer, tmp_path: Path) -> None:
    common = ["data", "generate", "--count", "1", "--seed", "0", "--out", str(tmp_path)]
    first = common + ["--task", "fire"]
    assert CliRunner().invoke(app, first).exit_code == 0
    other = common + ["--task", "cloud"]
    result = CliRunner().invoke(app, other)
    assert result.exit_code != 0
    assert "already holds a 'fire' dataset" in str(result.exception)
