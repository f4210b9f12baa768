"""Adding lower rate levels to a trained variable-rate codec: the trained levels stay as they
were, a new level starts one theoretical step below the last, a mismatched start is refused."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from shared.codecs.learned.rate_gain import RateGains
from shared.errors import CheckpointError, ConfigurationError


def test_new_levels_start_one_rate_distortion_step_below_the_last() -> None:
    source = RateGains(2, 4)
    with torch.no_grad():
        source.log_gain.copy_(torch.randn(2, 4))
        source.log_inverse.copy_(torch.randn(2, 4))
    target = RateGains(4, 4)
    target.extend_from(source, (800.0, 200.0, 50.0, 12.5))
    assert torch.equal(target.log_gain[:2], source.log_gain)
    assert torch.equal(target.log_inverse[:2], source.log_inverse)
    # lambda / 4 per level: quantisation step x2, gain / 2, inverse gain x 2, per channel
    for level, factor in ((2, 2.0), (3, 4.0)):
        torch.testing.assert_close(target.log_gain[level], source.log_gain[1] - math.log(factor))
        torch.testing.assert_close(
            target.log_inverse[level], source.log_inverse[1] + math.log(factor)
        )
    with pytest.raises(ConfigurationError, match="cannot extend"):
        RateGains(4, 5).extend_from(source, (800.0, 200.0, 50.0, 12.5))  # other channels
    with pytest.raises(ConfigurationError, match="cannot extend"):
        RateGains(3, 4).extend_from(source, (800.0, 200.0, 400.0))  # not decreasing


def test_a_run_with_more_levels_starts_from_a_trained_variable_rate_codec(
    fire_dir: Path, tmp_path: Path
) -> None:
    from shared.codecs.learned.checkpoint import load_checkpoint
    from workbench.training.codec import CodecTrainConfig, train_codec

    def run(out: str, lmbdas: tuple[float, ...], init: Path | None, lr: float) -> Path:
        config = CodecTrainConfig(
            task="fire",
            data=fire_dir,
            out=tmp_path / out,
            quality=2,
            N=8,
            epochs=1,
            max_steps=2,
            batch_size=8,
            lr=lr,
            aux_lr=0.0,
            init=init,
            seed=0,
            device="cpu",
            rate_lmbdas=lmbdas,
        )
        train_codec(config)
        return tmp_path / out

    two = run("two", (800.0, 200.0), None, 3e-3)
    three = run("three", (800.0, 200.0, 50.0), two, 0.0)  # lr 0: the start, unchanged
    before, _ = load_checkpoint(two)
    after, manifest = load_checkpoint(three)
    assert list(manifest.rate_lmbdas) == [800.0, 200.0, 50.0]
    old, new = before.rate_gains, after.rate_gains
    torch.testing.assert_close(new.log_gain[:2], old.log_gain)
    torch.testing.assert_close(new.log_gain[2], old.log_gain[1] - 0.5 * math.log(4.0))
    assert all(
        torch.equal(a, b)
        for a, b in zip(after.g_a.parameters(), before.g_a.parameters(), strict=True)
    )
    with pytest.raises(CheckpointError, match="keeps those first"):
        run("wrong", (800.0, 100.0, 50.0), two, 0.0)
