"""`eodl train ...` and `eodl evaluate ...`: the issue's CLI contract and its --json shapes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from shared.errors import ConfigurationError
from workbench.cli.train_cmds import register

TINY_SEGMENTER = [
    "--encoder",
    "mobilenet_v2",
    "--encoder-depth",
    "3",
    "--decoder-channels",
    "16,8,8",
]


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    application = typer.Typer(name="eodl", pretty_exceptions_enable=False)

    @application.callback()
    def _root() -> None:
        """eodl"""

    register(application)
    return application


@pytest.fixture(scope="module")
def fire_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from workbench.datasets.generate import write_dataset

    out = tmp_path_factory.mktemp("fire-data")
    write_dataset("fire", 20, 8, out)
    return out


def _run(app: typer.Typer, *args: str) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def segmenter_ckpt(
    app: typer.Typer, fire_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("seg") / "fire"
    stdout = _run(
        app,
        "train",
        "segmenter",
        "--task",
        "fire",
        "--data",
        fire_data,
        *TINY_SEGMENTER,
        "--out",
        out,
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--device",
        "cpu",
        "--json",
    )
    manifest = json.loads(stdout)
    assert manifest["task"] == "fire" and manifest["command"].startswith("eodl train segmenter")
    assert "--max-minutes" not in manifest["command"] and "--json" not in manifest["command"]
    return out


def test_train_segmenter_records_the_exact_command(segmenter_ckpt: Path) -> None:
    manifest = json.loads(segmenter_ckpt.with_suffix(".json").read_text())
    assert f"--out {segmenter_ckpt}" in manifest["command"]
    assert "--encoder mobilenet_v2" in manifest["command"] and "--seed 0" in manifest["command"]


def test_evaluate_segmenter_json_shape(
    app: typer.Typer, fire_data: Path, segmenter_ckpt: Path
) -> None:
    result = json.loads(
        _run(app, "evaluate", "segmenter", "--ckpt", segmenter_ckpt, "--data", fire_data, "--json")
    )
    assert set(result) == {"f1_positive", "f1_macro", "scenes"}
    assert isinstance(result["f1_positive"], float) and isinstance(result["f1_macro"], float)
    assert result["scenes"] == 20


def test_evaluate_segmenter_through_jpeg2000(
    app: typer.Typer, fire_data: Path, segmenter_ckpt: Path
) -> None:
    result = json.loads(
        _run(
            app,
            "evaluate",
            "segmenter",
            "--ckpt",
            segmenter_ckpt,
            "--data",
            fire_data,
            "--codec",
            "jpeg2000",
            "--bpp",
            "2",
            "--limit",
            "5",
            "--json",
        )
    )
    assert result["scenes"] == 5 and 0.0 <= result["f1_positive"] <= 1.0


def test_evaluate_segmenter_through_the_learned_codec_at_a_quality(
    app: typer.Typer, fire_data: Path, segmenter_ckpt: Path
) -> None:
    args = ["evaluate", "segmenter", "--ckpt", segmenter_ckpt, "--data", fire_data]
    low, high = (
        json.loads(
            _run(app, *args, "--codec", "cheng2020-gmm", "--quality", q, "--limit", "3", "--json")
        )
        for q in ("1", "6")
    )
    assert low["scenes"] == high["scenes"] == 3
    assert low["bpp"] < high["bpp"]  # the quality reached the codec
    with pytest.raises(ConfigurationError, match="--quality"):
        _run(app, *args, "--codec", "jpeg2000")


def test_evaluate_segmenter_refuses_a_weights_folder_without_the_codec(
    app: typer.Typer, fire_data: Path, segmenter_ckpt: Path, tmp_path: Path
) -> None:
    # the store would fall back to the shipped weights: the figures would silently be theirs
    args = ["evaluate", "segmenter", "--ckpt", segmenter_ckpt, "--data", fire_data]
    with pytest.raises(ConfigurationError, match="holds no cheng2020-gmm checkpoint"):
        _run(app, *args, "--codec", "cheng2020-gmm", "--quality", "6", "--checkpoints", tmp_path)


def test_evaluate_codec_json_shape_for_jpeg2000(
    app: typer.Typer, fire_data: Path, tmp_path: Path
) -> None:
    out = json.loads(
        _run(
            app,
            "evaluate",
            "codec",
            "--codec",
            "jpeg2000",
            "--data",
            fire_data,
            "--checkpoints",
            tmp_path,
            "--limit",
            "3",
            "--json",
        )
    )
    points = out["points"]
    assert len(points) >= 2 and out["bd"] == []  # JPEG 2000 against itself: no deltas
    for point in points:
        assert set(point) == {
            "codec",
            "quality",
            "payload_bpp",
            "bpp",
            "bits_per_sample",
            "psnr_db",
            "scenes",
            "set",
        }
        assert point["codec"] == "jpeg2000" and point["quality"] is None
        assert point["set"] == "held-out" and point["scenes"] == 3
        # container bpp is below the codestream's: version 2 leaves the main header to the ground
        assert 0 < point["bpp"] < point["payload_bpp"] and math.isfinite(point["psnr_db"])
    rates = [p["bpp"] for p in points]
    assert rates == sorted(rates)  # targets span low to high rate


def test_train_codec_then_evaluate_its_rate_point(
    app: typer.Typer, fire_data: Path, tmp_path: Path
) -> None:
    ckpt = tmp_path / "cheng2020-gmm-q1"
    manifest = json.loads(
        _run(
            app,
            "train",
            "codec",
            "--task",
            "fire",
            "--data",
            fire_data,
            "--model",
            "cheng2020-gmm",
            "--quality",
            "1",
            "--lmbda",
            "100",
            "--N",
            "8",
            "--out",
            ckpt,
            "--epochs",
            "1",
            "--max-steps",
            "2",
            "--device",
            "cpu",
            "--json",
        )
    )
    assert manifest["metrics"]["bpp"] > 0 and manifest["command"].startswith("eodl train codec")
    result = json.loads(
        _run(
            app,
            "evaluate",
            "codec",
            "--codec",
            "cheng2020-gmm",
            "--data",
            fire_data,
            "--checkpoints",
            tmp_path,
            "--limit",
            "2",
            "--against",
            "none",
            "--json",
        )
    )
    points = result["points"]
    assert [p["quality"] for p in points] == [1] and result["bd"] == []
    assert points[0]["bits_per_sample"] == pytest.approx(points[0]["bpp"])


def test_evaluate_segmenter_refuses_task_and_ckpt_together(
    app: typer.Typer, fire_data: Path, segmenter_ckpt: Path
) -> None:
    with pytest.raises(ConfigurationError, match="exactly one of --task"):
        CliRunner().invoke(
            app,
            [
                "evaluate",
                "segmenter",
                "--task",
                "fire",
                "--ckpt",
                str(segmenter_ckpt),
                "--data",
                str(fire_data),
            ],
            catch_exceptions=False,
        )


def test_joint_needs_weights_or_a_scenario(
    app: typer.Typer, fire_data: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError, match="--scenario high-quality"):
        CliRunner().invoke(
            app,
            [
                "train",
                "joint",
                "--task",
                "fire",
                "--data",
                str(fire_data),
                "--codec",
                str(tmp_path / "c"),
                "--segmenter",
                str(tmp_path / "s"),
                "--out",
                str(tmp_path / "j"),
            ],
            catch_exceptions=False,
        )


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("2e5", "2 or more"),
        ("1000,4000", "strictly decreasing"),
        ("4000,-1", "positive"),
        ("4000,high", "comma-separated numbers"),
        ("4000,4000", "strictly decreasing"),
    ],
)
def test_rate_lmbdas_are_refused_unless_a_decreasing_list(text: str, needle: str) -> None:
    from workbench.cli.train_cmds import _lambda_list

    with pytest.raises(ConfigurationError, match=needle):
        _lambda_list(text)
    assert _lambda_list("2e5,5e4,1.25e4") == (200000.0, 50000.0, 12500.0)
