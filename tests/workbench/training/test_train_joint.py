"""Joint training: three optimisers, before/after figures on real bitstreams, loadable outputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from shared.errors import ConfigurationError
from shared.models.segmentation import load_segmenter_checkpoint
from workbench.training.joint import JointTrainConfig, joint_terms, scenario_weights, train_joint


def _config(
    data: Path, codec: Path, segmenter: Path, tmp_path: Path, **overrides: object
) -> JointTrainConfig:
    """A two-step low-quality-start run on the fire patches."""
    fields: dict = dict(
        task="fire",
        data=data,
        codec=codec,
        segmenter=segmenter,
        out=tmp_path / "joint",
        lmbda=10.0,
        gamma=1e-2,
        scenario="low-quality",
        epochs=1,
        max_steps=2,
        device="cpu",
        command="test",
    )
    return JointTrainConfig(**{**fields, **overrides})


def test_joint_run_reports_before_and_after(
    fire_dir: Path, fire_codec: tuple[Path, dict], fire_segmenter: Path, tmp_path: Path
) -> None:
    from shared.codecs.learned.checkpoint import load_checkpoint

    config = _config(fire_dir, fire_codec[0], fire_segmenter, tmp_path, batch_size=8, seed=0)
    report = train_joint(config)
    for phase in ("before", "after"):
        figures = report[phase]
        assert figures["bpp"] > 0 and math.isfinite(figures["psnr_db"])
        assert 0.0 <= figures["f1_positive"] <= 1.0 and figures["scenes"] >= 1
    assert json.loads((tmp_path / "joint" / "report.json").read_text())["after"] == report["after"]
    codec, manifest = load_checkpoint(tmp_path / "joint" / "codec")
    assert manifest.lmbda == 10.0 and manifest.trained
    segmenter = load_segmenter_checkpoint(tmp_path / "joint" / "segmenter", device="cpu")
    assert segmenter.manifest["joint"] == {"lmbda": 10.0, "gamma": 1e-2}


def test_gamma_weights_the_segmentation_term(
    fire_codec: tuple[Path, dict], fire_segmenter: Path
) -> None:
    from shared.codecs.learned.checkpoint import load_checkpoint

    codec, _ = load_checkpoint(fire_codec[0])
    unet = load_segmenter_checkpoint(fire_segmenter, device="cpu").model
    x = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    mask = (x[:, 0] > 0.5).float()
    with torch.inference_mode():
        standalone, figures, _ = joint_terms(codec, unet, x, mask, lmbda=10.0, gamma=0.0)
        joint, _, _ = joint_terms(codec, unet, x, mask, lmbda=10.0, gamma=0.5)
    assert float(joint - standalone) == pytest.approx(0.5 * figures["bce"], rel=1e-5)


def test_paper_scenarios_and_unknown_names() -> None:
    assert scenario_weights("high-quality") == (10.0, 1e-3)
    assert scenario_weights("low-quality") == (10.0, 1e-2)
    with pytest.raises(ConfigurationError, match="high-quality, low-quality"):
        scenario_weights("medium")


FIRE_CODEC = (
    Path(__file__).resolve().parents[3] / "shared/assets/checkpoints/codec/fire/cheng2020-gmm"
)


def test_a_variable_rate_codec_trains_jointly_at_one_level_only(
    fire_dir: Path, fire_segmenter: Path, tmp_path: Path
) -> None:
    from shared.codecs.learned.checkpoint import load_checkpoint

    # the gamma-0 control of Table 2, at the variable-rate model's lowest quality
    config = _config(
        fire_dir, FIRE_CODEC, fire_segmenter, tmp_path, gamma=0.0, eval_limit=3, quality=1
    )
    report = train_joint(config)
    before, _ = load_checkpoint(FIRE_CODEC)
    after, manifest = load_checkpoint(tmp_path / "joint" / "codec")
    assert manifest.rate_lmbdas and len(manifest.rate_lmbdas) == 8
    gains_before, gains_after = before.rate_gains.log_gain, after.rate_gains.log_gain
    assert not torch.equal(gains_before[7], gains_after[7])  # quality 1: the last level trained
    assert torch.equal(gains_before[:6], gains_after[:6])  # levels no step touched
    assert report["before"]["bpp"] > 0 and report["after"]["scenes"] == 3
    with pytest.raises(ConfigurationError, match="--quality 1..6"):
        train_joint(JointTrainConfig(**{**config.__dict__, "quality": None}))
