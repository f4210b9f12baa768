"""`eodl codecs|encode|decode|inspect` on real files, through Typer's runner and the real script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import glymur
import numpy as np
import pytest
import tifffile
import typer
from typer.testing import CliRunner

from shared.codecs.base import ModelRef, RasterSpec, RateTarget
from shared.codecs.jpeg2000 import Jpeg2000Codec
from shared.codecs.registry import all_codecs
from shared.compression import compress_raster
from shared.errors import (
    ConfigurationError,
    InvalidRasterError,
    RateTargetError,
    UnknownNameError,
)
from shared.wire import HEADER_SIZE, pack_container
from workbench.cli import codec_cmds

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    codec_cmds.register(app)
    return app


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "200"})  # keep typer's boxed usage errors on one line


@pytest.fixture()
def thermal(tmp_path: Path) -> tuple[Path, np.ndarray]:
    raster = np.random.default_rng(7).integers(0, 2**14, (1, 24, 40), dtype=np.uint16)
    path = tmp_path / "scene.npy"
    np.save(path, raster)
    return path, raster


def _json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def test_codecs_lists_every_registered_codec(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["codecs", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["name"], r["wire_id"], r["kind"]) for r in rows] == [
        (i.name, i.wire_id, i.kind) for i in all_codecs()
    ]
    assert all(r["min_bands"] == 1 and r["max_bands"] >= 10 for r in rows)
    text = runner.invoke(app, ["codecs"]).output
    assert "jpeg2000" in text and "cheng2020-gmm" in text


def test_encode_decode_lossless_round_trip(
    app: typer.Typer, runner: CliRunner, thermal: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    src, raster = thermal
    out = tmp_path / "scene.eodl"
    result = runner.invoke(
        app,
        [
            "encode",
            str(src),
            str(out),
            "--codec",
            "jpeg2000",
            "--lossless",
            "--bit-depth",
            "14",
            "--check",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = _json(result.output)
    assert report["size_bytes"] == out.stat().st_size and report["psnr_db"] == "inf"
    assert report["bpp"] == pytest.approx(out.stat().st_size * 8 / (24 * 40), abs=1e-5)
    decoded = tmp_path / "decoded.npy"
    result = runner.invoke(app, ["decode", str(out), str(decoded)])
    assert result.exit_code == 0, result.output
    assert "digest matched: yes" in result.output
    back = np.load(decoded)
    assert back.dtype == np.uint16 and back.shape == (1, 24, 40)
    np.testing.assert_array_equal(back, raster)


def test_geotiff_input_and_mask_sidecar(
    app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    image = np.random.default_rng(8).integers(0, 256, (16, 16), dtype=np.uint8)
    mask = (image > 128).astype(np.uint8)
    tifffile.imwrite(tmp_path / "tile.tif", image)
    np.save(tmp_path / "mask.npy", mask)
    out = tmp_path / "tile.eodl"
    result = runner.invoke(
        app,
        [
            "encode",
            str(tmp_path / "tile.tif"),
            str(out),
            "--codec",
            "jpeg2000",
            "--bpp",
            "4",
            "--mask",
            str(tmp_path / "mask.npy"),
            "--scene-id",
            "tile-1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "bpp:" in result.output and "psnr_db:" in result.output
    result = runner.invoke(
        app, ["decode", str(out), str(tmp_path / "r.npy"), "--mask", str(tmp_path / "m.npy")]
    )
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "r.npy").shape == (1, 16, 16)
    np.testing.assert_array_equal(np.load(tmp_path / "m.npy"), mask)


def test_inspect_reports_header_and_extracts_a_standard_codestream(
    app: typer.Typer, runner: CliRunner, thermal: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    src, raster = thermal
    out = tmp_path / "scene.eodl"
    runner.invoke(
        app,
        [
            "encode",
            str(src),
            str(out),
            "--codec",
            "jpeg2000",
            "--lossless",
            "--bit-depth",
            "14",
            "--scene-id",
            "fire-7",
        ],
    )
    j2k = tmp_path / "payload.j2k"
    result = runner.invoke(app, ["inspect", str(out), "--json", "--payload", str(j2k)])
    assert result.exit_code == 0, result.output
    report = _json(result.output)
    assert report["checksum_ok"] and report["intact"]
    assert report["header"]["codec"] == "jpeg2000" and report["header"]["bit_depth"] == 14
    assert report["metadata"]["scene_id"] == "fire-7"
    # the link carried the tile data; the file is the standard codestream rebuilt around it
    assert report["header"]["frame_elided"]
    pixels = report["header"]["height"] * report["header"]["width"]
    assert j2k.stat().st_size == pytest.approx(report["payload_bpp"] * pixels / 8, abs=0.01)
    assert j2k.stat().st_size > report["carried_payload_bytes"]
    np.testing.assert_array_equal(glymur.Jp2k(str(j2k))[:], raster[0])  # OpenJPEG reads it


def test_inspect_flags_a_corrupted_container(
    app: typer.Typer, runner: CliRunner, thermal: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    src, _ = thermal
    out = tmp_path / "scene.eodl"
    runner.invoke(app, ["encode", str(src), str(out), "--codec", "jpeg2000", "--bpp", "2"])
    raw = bytearray(out.read_bytes())
    raw[HEADER_SIZE + 5] ^= 0xFF
    out.write_bytes(bytes(raw))
    result = runner.invoke(app, ["inspect", str(out), "--json"])
    assert result.exit_code == 1
    assert _json(result.output)["checksum_ok"] is False


def test_decode_exits_3_when_the_digest_differs(
    app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    raster = np.arange(64, dtype=np.uint8).reshape(1, 8, 8)
    spec = RasterSpec(1, 8, 8, "uint8", 8, 255.0)
    payload = Jpeg2000Codec().encode(raster, spec, RateTarget(lossless=True)).payload
    container = tmp_path / "wrong.eodl"
    container.write_bytes(
        pack_container(
            codec="jpeg2000",
            spec=spec,
            model=ModelRef(),
            payload=payload,
            metadata={},
            digest="a" * 64,
        )
    )
    result = runner.invoke(app, ["decode", str(container), str(tmp_path / "o.npy")])
    assert result.exit_code == 3
    assert "digest matched: no" in result.output
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), raster)


def test_usage_and_domain_errors(
    app: typer.Typer, runner: CliRunner, thermal: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    src, _ = thermal
    out = str(tmp_path / "x.eodl")
    result = runner.invoke(
        app, ["encode", str(src), out, "--codec", "jpeg2000", "--bpp", "1", "--lossless"]
    )
    assert isinstance(result.exception, RateTargetError)
    result = runner.invoke(app, ["encode", str(src), out, "--codec", "jpg", "--lossless"])
    assert isinstance(result.exception, UnknownNameError)
    assert "valid codecs: jpeg2000" in str(result.exception)
    result = runner.invoke(app, ["decode", str(src), str(tmp_path / "o.tif")])
    assert isinstance(result.exception, ConfigurationError)
    assert "must end in .npy" in str(result.exception)
    result = runner.invoke(
        app,
        ["encode", str(src), str(tmp_path / "no" / "x.eodl"), "--codec", "jpeg2000", "--lossless"],
    )
    assert isinstance(result.exception, ConfigurationError)
    assert "does not exist" in str(result.exception)
    result = runner.invoke(app, ["encode", str(src), out, "--lossless"])
    assert result.exit_code == 2 and "--codec" in result.output  # typer's own usage error
    assert not (tmp_path / "x.eodl").exists()


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding one real (untrained) 1-band factorized-prior checkpoint."""
    checkpoint = pytest.importorskip("shared.codecs.learned.checkpoint")
    architectures = pytest.importorskip("shared.codecs.learned.architectures")
    import torch

    torch.manual_seed(1)
    root = tmp_path_factory.mktemp("cli-checkpoints")
    model = architectures.build_model("factorized-prior", 1, 1)
    fields = {"architecture": "factorized-prior", "quality": 1}
    checkpoint.save_checkpoint(model, root / "fp-q1", fields)
    return root


def _building_tile() -> np.ndarray:
    from workbench.datasets.generate import generate_scene

    return generate_scene("building", 3).image


def test_task_applies_the_sensor_profile_to_a_learned_codec(
    app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    # A building tile is 14-bit reflectance x 10000; without its profile a uint16 raster is
    # read as 16-bit with full scale 65535, and the learned codec sees it 6.5x too dark.
    image = _building_tile()
    np.save(tmp_path / "tile.npy", image)
    args = ["encode", str(tmp_path / "tile.npy"), "--codec", "cheng2020-gmm", "--quality", "1"]
    with_task = runner.invoke(
        app, [*args[:2], str(tmp_path / "a.eodl"), *args[2:], "--task", "building", "--json"]
    )
    assert with_task.exit_code == 0, with_task.output
    row = _json(with_task.output)
    assert (row["scale"], row["bit_depth"]) == (10000.0, 14)
    expected = compress_raster(
        image, codec="cheng2020-gmm", target=RateTarget(quality=1), scale=10000.0, bit_depth=14
    )
    assert row["psnr_db"] == pytest.approx(expected.psnr_db, abs=1e-3)
    without = runner.invoke(app, [*args[:2], str(tmp_path / "b.eodl"), *args[2:], "--json"])
    assert _json(without.output)["scale"] == 65535.0


@pytest.mark.parametrize(
    ("raster", "needle"),
    [
        (np.full((10, 32, 32), 20000, np.uint16), "above the profile's 14-bit full scale"),
        (np.zeros((3, 32, 32), np.uint16), "the profile has 10"),
    ],
)
def test_task_refuses_a_raster_that_breaks_the_profile(
    app: typer.Typer, runner: CliRunner, tmp_path: Path, raster: np.ndarray, needle: str
) -> None:
    np.save(tmp_path / "bad.npy", raster)
    out = tmp_path / "bad.eodl"
    result = runner.invoke(
        app,
        [
            "encode",
            str(tmp_path / "bad.npy"),
            str(out),
            "--codec",
            "jpeg2000",
            "--bpp",
            "2",
            "--task",
            "building",
        ],
    )
    assert isinstance(result.exception, InvalidRasterError) and needle in str(result.exception)
    assert not out.exists()


def test_learned_codec_with_checkpoints_folder(
    app: typer.Typer,
    runner: CliRunner,
    thermal: tuple[Path, np.ndarray],
    tmp_path: Path,
    checkpoint_dir: Path,
) -> None:
    src, _ = thermal
    out = tmp_path / "learned.eodl"
    ckpt = ["--checkpoints", str(checkpoint_dir)]
    result = runner.invoke(
        app, ["encode", str(src), str(out), "--codec", "factorized-prior", "--quality", "1", *ckpt]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["decode", str(out), str(tmp_path / "d.npy"), *ckpt])
    assert result.exit_code == 0, result.output
    assert "digest matched: yes" in result.output
    assert np.load(tmp_path / "d.npy").shape == (1, 24, 40)
    result = runner.invoke(
        app,
        ["decode", str(out), str(tmp_path / "e.npy"), "--checkpoints", str(tmp_path / "missing")],
    )
    assert isinstance(result.exception, ConfigurationError)


def test_console_script_end_to_end(thermal: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    src, raster = thermal
    eodl = [sys.executable, "-m", "workbench.cli.main"]
    out = tmp_path / "s.eodl"
    ok = subprocess.run(
        [
            *eodl,
            "encode",
            str(src),
            str(out),
            "--codec",
            "jpeg2000",
            "--lossless",
            "--bit-depth",
            "14",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    ok = subprocess.run(
        [*eodl, "decode", str(out), str(tmp_path / "d.npy")],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "d.npy"), raster)
    bad = subprocess.run(
        [*eodl, "inspect", str(src)], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120
    )
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: bad magic")


def test_patches_encode_together_and_one_decodes_alone(
    app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    patches = np.random.default_rng(3).integers(2000, 9000, (6, 32, 32), dtype=np.uint16)
    masks = (patches > 5500).astype(np.uint8)
    np.save(tmp_path / "p.npy", patches)
    np.save(tmp_path / "m.npy", masks)
    container, grid, one = tmp_path / "p.eodl", tmp_path / "g.npy", tmp_path / "one.npy"
    args = ["encode", str(tmp_path / "p.npy"), str(container), "--codec", "jpeg2000"]
    result = runner.invoke(
        app, [*args, "--lossless", "--task", "fire", "--patches", "--mask", str(tmp_path / "m.npy")]
    )
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["decode", str(container), str(grid)]).exit_code == 0
    assert np.load(grid).shape == (1, 64, 96)
    result = runner.invoke(app, ["decode", str(container), str(one), "--patch", "4"])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.load(one), patches[4][None])  # lossless, patch 4 alone
    bad = runner.invoke(app, ["decode", str(container), str(tmp_path / "x.npy"), "--patch", "6"])
    assert "patches 0..5" in str(bad.exception)
    np.save(tmp_path / "flat.npy", patches[0])
    bad = runner.invoke(app, ["encode", str(tmp_path / "flat.npy"), str(tmp_path / "f.eodl"),
                              "--codec", "jpeg2000", "--bpp", "2", "--patches"])  # fmt: skip
    assert isinstance(bad.exception, InvalidRasterError) and "(N, C, h, w)" in str(bad.exception)


def test_a_geotiff_encoded_keeps_its_georeference(
    app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    rasterio = pytest.importorskip("rasterio", reason="rasterio is a dependency")
    from rasterio.transform import from_origin

    raster = np.random.default_rng(2).integers(0, 2**14, (1, 32, 32), dtype=np.uint16)
    path = tmp_path / "fire.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=32, height=32, count=1, dtype="uint16",
        crs="EPSG:32610", transform=from_origin(478880.0, 6439940.0, 20.0, 20.0),
    ) as out:  # fmt: skip
        out.write(raster)
    out_path = tmp_path / "fire.eodl"
    args = ["encode", str(path), str(out_path), "--codec", "jpeg2000", "--lossless", "--json"]
    result = runner.invoke(app, [*args, "--task", "fire"])
    assert result.exit_code == 0, result.output
    assert _json(result.output)["georef"] == "EPSG:32610, 20 m pixels"
    shown = _json(runner.invoke(app, ["inspect", str(out_path), "--json"]).output)
    header = shown.get("header", shown)
    assert header["georef"]["crs"] == "EPSG:32610"
    assert header["georef"]["transform"] == [20.0, 0.0, 478880.0, 0.0, -20.0, 6439940.0]
