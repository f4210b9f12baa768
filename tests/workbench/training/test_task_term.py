"""Task-aware codec training: the frozen segmenter's BCE joins the distortion, the segmenter
itself never moves, and a misconfigured run is refused before it trains."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from shared.errors import CheckpointError, ConfigurationError


def _config(fire_dir: Path, out: Path, **overrides: object):  # noqa: ANN202
    from workbench.training.codec import CodecTrainConfig

    fields: dict = {
        "task": "fire",
        "data": fire_dir,
        "out": out,
        "model": "cheng2020-gmm",
        "quality": 2,
        "N": 8,
        "epochs": 1,
        "max_steps": 2,
        "batch_size": 8,
        "seed": 0,
        "device": "cpu",
        "command": "test",
        "rate_lmbdas": (800.0, 200.0),
    }
    fields.update(overrides)
    return CodecTrainConfig(**fields)


def _batch(fire_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    from workbench.training.data import load_splits

    splits = load_splits(fire_dir, "fire")
    items = [splits.train[i] for i in range(4)]
    return torch.stack([x for x, _ in items]), torch.stack([m for _, m in items])


def test_the_loss_adds_lambda_times_weight_times_the_segmenters_loss(
    fire_dir: Path, fire_codec: tuple[Path, dict], fire_segmenter: Path
) -> None:
    from shared.codecs.learned.checkpoint import load_checkpoint
    from workbench.training.codec import batch_loss
    from workbench.training.task_term import load_task_term

    codec, _ = load_checkpoint(fire_codec[0])
    term = load_task_term(fire_segmenter, "fire", 0.5, "cpu")
    x, mask = _batch(fire_dir)
    plain, terms, none = batch_loss(codec, x, mask, 200.0, None, None)
    aware, _, task = batch_loss(codec, x, mask, 200.0, None, term)
    assert none is None and task is not None and float(task) > 0
    torch.testing.assert_close(aware, plain + 200.0 * 0.5 * task)
    torch.testing.assert_close(plain, terms.loss)
    aware.backward()
    # gradients reach the codec only: the segmenter is frozen
    assert all(p.grad is None for p in term.segmenter.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in codec.parameters())


def test_a_task_aware_run_keeps_the_segmenter_and_records_the_weight(
    fire_dir: Path, fire_codec: tuple[Path, dict], fire_segmenter: Path, tmp_path: Path
) -> None:
    from shared.models.segmentation import load_segmenter_checkpoint
    from workbench.training.codec import train_codec

    before = load_segmenter_checkpoint(fire_segmenter, device="cpu").model.state_dict()
    manifest = train_codec(
        _config(
            fire_dir,
            tmp_path / "aware",
            init=fire_codec[0],
            segmenter=fire_segmenter,
            task_weight=0.5,
        )
    )
    metrics = manifest["metrics"]
    assert metrics["task_weight"] == 0.5
    assert metrics["task_loss_L0"] > 0 and metrics["task_loss_L1"] > 0
    after = load_segmenter_checkpoint(fire_segmenter, device="cpu").model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_a_clean_target_is_the_segmenters_own_mask_of_the_clean_scene(
    fire_dir: Path, fire_segmenter: Path
) -> None:
    import numpy as np

    from shared.models.segmentation import load_segmenter_checkpoint
    from workbench.training.data import mask_batch
    from workbench.training.task_term import load_task_term

    x, mask = _batch(fire_dir)
    labels = mask_batch(mask)
    clean = load_task_term(fire_segmenter, "fire", 0.5, "cpu", target="clean")
    target = clean.target_mask(x, labels)
    segmenter = load_segmenter_checkpoint(fire_segmenter, device="cpu")
    expected = np.stack([segmenter.predict(scene.numpy()) for scene in x])
    np.testing.assert_array_equal(target.numpy().astype(np.uint8), expected)
    assert torch.equal(clean.target_mask(x, torch.zeros_like(labels)), target)  # labels unused
    assert not torch.equal(target, labels.float())  # the fixture's U-Net is not perfect
    labelled = load_task_term(fire_segmenter, "fire", 0.5, "cpu")
    assert torch.equal(labelled.target_mask(x, labels), labels.float())


def test_soft_dice_is_one_minus_the_soft_f1_of_the_positives() -> None:
    from workbench.training.task_term import soft_dice_loss

    target = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    perfect = soft_dice_loss(target.clone(), target, smooth=0.0)
    half = soft_dice_loss(torch.tensor([[1.0, 0.0, 1.0, 0.0]]), target, smooth=0.0)
    silent = soft_dice_loss(torch.zeros(1, 4), target, smooth=0.0)
    assert float(perfect) == 0.0 and float(half) == pytest.approx(0.5) and float(silent) == 1.0


def test_a_misconfigured_task_aware_run_is_refused(
    fire_dir: Path, building_dir: Path, fire_segmenter: Path, tmp_path: Path
) -> None:
    from workbench.training.codec import train_codec

    with pytest.raises(ConfigurationError, match="needs --segmenter"):
        train_codec(_config(fire_dir, tmp_path / "a", task_weight=0.5))
    with pytest.raises(ConfigurationError, match="must be positive"):
        train_codec(_config(fire_dir, tmp_path / "b", segmenter=fire_segmenter))
    with pytest.raises(ConfigurationError, match="--task-target must be one of mask, clean"):
        train_codec(
            _config(
                fire_dir,
                tmp_path / "d",
                segmenter=fire_segmenter,
                task_weight=0.5,
                task_target="labels",
            )
        )
    with pytest.raises(CheckpointError, match="not 'building'"):
        train_codec(
            _config(
                building_dir,
                tmp_path / "c",
                task="building",
                segmenter=fire_segmenter,
                task_weight=0.5,
            )
        )
    assert not list(tmp_path.iterdir())  # refused before anything was written
