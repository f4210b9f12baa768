"""The decode worker, forked from the preloaded server: the same bytes out as an in-process
decode, and a decode over its memory cap or its time limit fails alone, without taking the
next decode with it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gs_support import decode_limits, make_scene

from ground_station.processing.decode import WorkerFailure, run_decode_worker
from shared.codecs.base import RateTarget
from shared.codecs.tiling import TilingPolicy
from shared.compression import compress_raster, decompress_container


def _container(tmp_path: Path) -> tuple[Path, bytes]:
    scene = make_scene("cloud", side=64, seed=3)
    path = tmp_path / "scene.eodl"
    path.write_bytes(scene.data)
    return path, scene.data


def test_worker_decodes_what_an_in_process_decode_gives(tmp_path: Path) -> None:
    path, data = _container(tmp_path)
    expected = decompress_container(data)
    for attempt in range(2):  # the second child comes from the already running server
        outcome = run_decode_worker(path, tmp_path / f"out-{attempt}", decode_limits())
        assert np.array_equal(outcome.raster, expected.raster)
        assert outcome.raster.dtype == expected.raster.dtype
        assert outcome.result["digest_matches"] is True


def test_decode_over_the_memory_cap_fails_alone(tmp_path: Path) -> None:
    path, _data = _container(tmp_path)
    with pytest.raises(WorkerFailure) as failed:  # far below what torch alone maps
        run_decode_worker(path, tmp_path / "capped", decode_limits(memory_mb=256))
    assert failed.value.kind in ("error", "crash")
    assert failed.value.reason
    outcome = run_decode_worker(path, tmp_path / "after", decode_limits())
    assert outcome.result["digest_matches"] is True


def test_decode_past_the_time_limit_is_killed_and_named(tmp_path: Path) -> None:
    path, _data = _container(tmp_path)
    with pytest.raises(WorkerFailure) as failed:
        run_decode_worker(path, tmp_path / "slow", decode_limits(timeout_s=0.001))
    assert failed.value.kind == "timeout"
    assert "GS_DECODE_TIMEOUT_S" in failed.value.reason


def test_worker_decodes_a_tiled_container_tile_by_tile(tmp_path: Path) -> None:
    # the worker is a daemonic process: it may not start tile workers, so it decodes the tiles
    # itself (shared.codecs.tiling.pool); a 300 x 200 scene in 128-pixel tiles stands for a
    # large one
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:300, 0:200]
    field = 6000 + 3000 * np.sin(xx / 9.0) * np.cos(yy / 13.0) + rng.normal(0, 60, xx.shape)
    raster = np.clip(field, 0, 16383).astype(np.uint16)[None]
    scene = compress_raster(
        raster,
        codec="cheng2020-gmm",
        target=RateTarget(quality=2),
        scale=16383.0,
        bit_depth=14,
        tiling=TilingPolicy(tile_side=128, workers=2),
    )
    assert scene.header.tiled
    path = tmp_path / "tiled.eodl"
    path.write_bytes(scene.container)
    outcome = run_decode_worker(path, tmp_path / "out", decode_limits())
    assert outcome.result["digest_matches"] is True
    assert np.array_equal(outcome.raster, scene.reconstruction)


def test_the_decoders_temporary_files_live_in_the_output_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # OpenJPEG decodes through files; a worker killed mid-decode (past its time limit) must not
    # leave them in /tmp: they go under the transfer's output folder, which the ground removes
    import tempfile

    from ground_station.processing.worker import SCRATCH_NAME, run_request

    made: list[Path] = []
    real_mkdtemp = tempfile.mkdtemp

    def recording_mkdtemp(*args: object, **kwargs: object) -> str:
        path = real_mkdtemp(*args, **kwargs)  # type: ignore[arg-type]
        made.append(Path(path))
        return path

    path, _data = _container(tmp_path)  # encoding makes temporary folders of its own
    out = tmp_path / "out"
    out.mkdir()
    from ground_station.processing.decode import decode_request

    before = tempfile.tempdir
    monkeypatch.setattr(tempfile, "mkdtemp", recording_mkdtemp)
    assert run_request(decode_request(path, out, decode_limits()), cap=False) == 0
    assert made, "the JPEG 2000 decode made no temporary folder"
    assert all(p.parent == out / SCRATCH_NAME for p in made), made
    assert tempfile.tempdir == before  # the process's own setting is back
