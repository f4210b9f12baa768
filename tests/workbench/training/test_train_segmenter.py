"""Segmenter training: the loss falls, a seed repeats a run bit for bit, a run resumes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from shared.errors import DatasetError
from shared.models.segmentation import load_segmenter_checkpoint
from workbench.training.loops import state_path
from workbench.training.segmenter import SegmenterTrainConfig, train_segmenter
from workbench.training.thresholds import ProbabilityHistogram


def _config(data: Path, out: Path, **overrides: object) -> SegmenterTrainConfig:
    fields: dict = dict(
        task="fire",
        data=data,
        out=out,
        encoder="mobilenet_v2",
        encoder_depth=3,
        decoder_channels=(16, 8, 8),
        epochs=4,
        batch_size=8,
        lr=3e-3,
        seed=3,
        device="cpu",
    )
    fields.update(overrides)
    return SegmenterTrainConfig(**fields)


def test_training_lowers_loss_and_writes_a_loadable_checkpoint(
    fire_dir: Path, tmp_path: Path
) -> None:
    manifest = train_segmenter(_config(fire_dir, tmp_path / "fire", patience=10))
    losses = torch.load(state_path(tmp_path / "fire"), weights_only=True)["losses"]
    assert len(losses) == 4 and losses[-1] < 0.8 * losses[0]
    assert 0.05 <= manifest["threshold"] <= 0.95
    assert set(manifest["metrics"]) >= {"f1_positive", "f1_macro"}
    segmenter = load_segmenter_checkpoint(tmp_path / "fire", device="cpu")
    mask = segmenter.predict(np.zeros((1, 32, 32), np.float32))
    assert mask.shape == (32, 32)


def test_same_seed_same_weights(fire_dir: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    first = train_segmenter(_config(fire_dir, tmp_path / "a", epochs=1, max_steps=2))
    second = train_segmenter(_config(fire_dir, tmp_path / "b", epochs=1, max_steps=2))
    other = train_segmenter(_config(fire_dir, tmp_path / "c", epochs=1, max_steps=2, seed=4))
    assert first["sha256"] == second["sha256"]
    assert other["sha256"] != first["sha256"]


def test_resume_continues_from_the_saved_epoch(fire_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "fire"
    train_segmenter(_config(fire_dir, out, epochs=1, max_steps=1))
    assert state_path(out).is_file()
    resumed = train_segmenter(
        _config(fire_dir, out, epochs=2, max_steps=1, resume=True, patience=10)
    )
    saved = torch.load(state_path(out), weights_only=True)
    assert saved["epoch"] == 1 and len(saved["losses"]) == 2
    assert json.loads(out.with_suffix(".json").read_text())["sha256"] == resumed["sha256"]


def test_wrong_task_folder_is_refused(fire_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="--task fire"):
        train_segmenter(_config(fire_dir, tmp_path / "x", task="cloud"))


def test_threshold_sweep_matches_direct_f1() -> None:
    from shared.metrics.segmentation import f1_macro, f1_positive

    rng = np.random.default_rng(0)
    truth = rng.random((4, 16, 16)) < 0.2
    probs = np.clip(truth * 0.6 + rng.random((4, 16, 16)) * 0.5, 0, 1).astype(np.float32)
    histogram = ProbabilityHistogram()
    histogram.add(torch.from_numpy(probs), torch.from_numpy(truth))
    choice = histogram.best()
    pred = probs >= choice.threshold
    assert choice.f1_positive == pytest.approx(f1_positive(truth, pred), abs=1e-9)
    assert choice.f1_macro == pytest.approx(f1_macro(truth, pred), abs=1e-9)
    assert choice.f1_positive >= max(histogram.scores(t)[0] for t in (0.1, 0.5, 0.9))
