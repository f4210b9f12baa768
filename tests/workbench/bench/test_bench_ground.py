"""``eodl bench ground``: a tiny run decodes and segments for real and gives sane rows."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import typer
from typer.testing import CliRunner

from ground_station.processing.segmenters import load_segmenters
from satellite_node.codec_choice import choose_codec, open_checkpoints
from shared.codecs.base import RateTarget
from shared.compression import decompress_container
from shared.errors import ConfigurationError
from workbench.bench.ground import (
    GroundBenchRow,
    check_batches,
    ground_table,
    make_containers,
    resolve_devices,
    segment_in_batches,
)

ROW_KEYS = {
    "task",
    "codec",
    "device",
    "batch",
    "decode_scenes_s",
    "segment_scenes_s",
    "total_scenes_s",
}


def test_tiny_fire_run_gives_one_sane_row_per_batch_size(bench_app: typer.Typer) -> None:
    args = ["bench", "ground", "--task", "fire", "--batch", "1,2", "--device", "cpu", "--json"]
    result = CliRunner().invoke(bench_app, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    auto = choose_codec("auto", "fire", open_checkpoints(None), RateTarget(bpp=1.0)).name
    assert [(r["task"], r["device"], r["batch"]) for r in rows] == [
        ("fire", "cpu", 1),
        ("fire", "cpu", 2),
    ]
    assert [r["scenes"] for r in rows] == [4, 4]  # the default: at least 4 scenes per task
    for row in rows:
        assert ROW_KEYS <= set(row) and row["codec"] == auto
        assert min(row["decode_scenes_s"], row["segment_scenes_s"], row["total_scenes_s"]) > 0
        # decode then segment: the pipeline is slower than either stage alone
        assert row["total_scenes_s"] < min(row["decode_scenes_s"], row["segment_scenes_s"])
    table = ground_table([GroundBenchRow(**row) for row in rows])
    assert "fire" in table and len(table.splitlines()) == 3


def test_batched_segmentation_gives_the_masks_of_one_scene_at_a_time() -> None:
    checkpoints = open_checkpoints(None)
    prepared = make_containers("fire", 3, checkpoints)
    scenes = [decompress_container(c, checkpoints=checkpoints) for c in prepared.containers]
    assert all(scene.digest_matches for scene in scenes)
    units = [scene.raster.astype(np.float32) / scene.container.header.scale for scene in scenes]
    model, note = load_segmenters(("fire",), None, "cpu").get("fire")
    assert model is not None, note
    batched = segment_in_batches(model, units, 2)
    single = [model.predict(unit) for unit in units]
    assert len(batched) == 3
    assert all(np.array_equal(b, s) for b, s in zip(batched, single, strict=True))


def test_fewer_scenes_than_the_largest_batch_are_refused(bench_app: typer.Typer) -> None:
    args = ["bench", "ground", "--task", "fire", "--batch", "1,8", "--scenes", "4"]
    result = CliRunner().invoke(bench_app, args)
    assert isinstance(result.exception, ConfigurationError)
    assert "at least the largest batch (8)" in str(result.exception)


def test_bad_batches_and_devices_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="at least one size"):
        check_batches([])
    with pytest.raises(ConfigurationError, match="out of range"):
        check_batches([0])
    with pytest.raises(ConfigurationError, match="cpu, cuda"):
        resolve_devices("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigurationError, match="no GPU"):
            resolve_devices("cuda")


@pytest.mark.slow  # one fresh worker process per container: model loading each time
def test_worker_decode_runs_the_grounds_worker_processes(bench_app: typer.Typer) -> None:
    args = ["bench", "ground", "--task", "cloud", "--batch", "1", "--scenes", "1"]
    result = CliRunner().invoke(bench_app, [*args, "--device", "cpu", "--worker", "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert row["decode"] == "worker" and row["scenes"] == 1 and row["decode_scenes_s"] > 0
