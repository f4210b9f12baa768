"""Widening a cheng2020-gmm's latents: old channels compute what they did; coding stays exact."""

from __future__ import annotations

import pytest
import torch

from shared.codecs.learned.architectures import build_model
from shared.codecs.learned.coding import deterministic_coding
from shared.errors import CheckpointError, ConfigurationError
from workbench.training.widen import widen_latents


def _narrow(levels: int = 3) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model("cheng2020-gmm", 3, 2, N=8, rate_levels=levels)
    with torch.no_grad():  # trained-looking gains: distinct per level and channel
        model.rate_gains.log_gain.normal_(0.0, 0.5)
        model.rate_gains.log_inverse.normal_(0.0, 0.5)
    return model.eval()


def test_the_widened_model_reconstructs_and_prices_the_old_latents_as_before() -> None:
    narrow = _narrow()
    wide = build_model("cheng2020-gmm", 3, 2, N=8, M=12, rate_levels=3).eval()
    widen_latents(narrow, wide)
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        for level in (0.0, 1.5, 2.0):
            before, after = narrow(x, level=level), wide(x, level=level)
            torch.testing.assert_close(after["x_hat"], before["x_hat"], atol=1e-5, rtol=0)
            old_y = after["likelihoods"]["y"][:, :8]
            torch.testing.assert_close(old_y, before["likelihoods"]["y"], atol=1e-6, rtol=1e-5)
            assert torch.equal(after["likelihoods"]["z"], before["likelihoods"]["z"])
            assert (after["likelihoods"]["y"][:, 8:] > 0).all()  # every new latent has a price
    _assert_codes_exactly(wide)


def test_a_model_with_more_latent_than_transform_channels_codes_exactly() -> None:
    torch.manual_seed(1)
    model = build_model("cheng2020-gmm", 3, 2, N=8, M=12).eval()
    assert (model.N, model.M) == (8, 12)
    _assert_codes_exactly(model)


def _assert_codes_exactly(model: torch.nn.Module) -> None:
    model.update(force=True)
    x = torch.rand(1, 3, 64, 128)
    with deterministic_coding():
        out = model.compress(x)
        x_hat = model.decompress(out["strings"], out["shape"], out["symbol_bound"])["x_hat"]
        expected = model.g_s(torch.round(model.g_a(x))).clamp_(0, 1)
    assert torch.equal(x_hat, expected)


def test_only_a_wider_latent_is_accepted() -> None:
    narrow = _narrow()
    with pytest.raises(CheckpointError, match="only M may grow"):
        widen_latents(narrow, build_model("cheng2020-gmm", 3, 2, N=10, M=12, rate_levels=3))
    with pytest.raises(CheckpointError, match="only M may grow"):
        widen_latents(narrow, build_model("cheng2020-gmm", 3, 2, N=8, M=12, rate_levels=2))
    with pytest.raises(CheckpointError, match="only M may grow"):
        widen_latents(narrow, build_model("cheng2020-gmm", 3, 2, N=8, rate_levels=3))


def test_other_cheng2020_models_keep_one_width() -> None:
    with pytest.raises(ConfigurationError, match="pass only N"):
        build_model("cheng2020-attn", 3, 2, N=8, M=12)
