"""Variable rate for cheng2020-gmm: per-channel gains per level, interpolated between levels."""

from __future__ import annotations

import math

import pytest
import torch

from shared.codecs.learned.architectures import build_model
from shared.codecs.learned.rate_gain import RateGains
from shared.errors import ConfigurationError


def _model(levels: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("cheng2020-gmm", 1, 1, N=8, rate_levels=levels).eval()


def test_gains_are_geometric_between_levels_and_exact_at_them() -> None:
    gains = RateGains(3, 2)
    with torch.no_grad():
        gains.log_gain.copy_(torch.log(torch.tensor([[4.0, 2.0], [1.0, 1.0], [0.25, 0.5]])))
    assert gains.at(0)[0].flatten().tolist() == pytest.approx([4.0, 2.0])
    assert gains.at(2)[0].flatten().tolist() == pytest.approx([0.25, 0.5])
    assert gains.at(0.5)[0].flatten().tolist() == pytest.approx([2.0, math.sqrt(2.0)])
    assert gains.at(1.5)[1].flatten().tolist() == pytest.approx([1.0, 1.0])  # inverse untouched
    for level in (-0.1, 2.01, float("nan")):
        with pytest.raises(ConfigurationError, match="outside the trained range"):
            gains.at(level)


def test_gains_at_one_reproduce_the_fixed_rate_model() -> None:
    # a fixed-rate checkpoint loaded into a variable-rate model starts exactly where it was
    model = _model(2)
    x = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        plain, gained = model(x), model(x, level=1)
    torch.testing.assert_close(gained["x_hat"], plain["x_hat"])
    for name in ("y", "z"):
        torch.testing.assert_close(gained["likelihoods"][name], plain["likelihoods"][name])


def test_a_larger_gain_spends_more_bits_and_quantises_finer() -> None:
    model = _model(2)
    with torch.no_grad():  # level 0: step 1/4 (gain 4, inverse 1/4); level 1: step 1
        model.rate_gains.log_gain[0].fill_(math.log(4.0))
        model.rate_gains.log_inverse[0].fill_(-math.log(4.0))
    x = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        unquantised = model.g_s(model.g_a(x))
        fine, coarse = model(x, level=0), model(x, level=1)

    def bits(out: dict) -> float:
        return float(-torch.log2(out["likelihoods"]["y"]).sum())

    assert bits(fine) > bits(coarse)
    error = [float((o["x_hat"] - unquantised).abs().mean()) for o in (fine, coarse)]
    assert error[0] < error[1]


def test_only_the_mixture_model_takes_rate_levels() -> None:
    with pytest.raises(ConfigurationError, match="cheng2020-gmm only"):
        build_model("mean-scale-hyperprior", 1, 1, N=8, M=8, rate_levels=3)


def test_more_levels_than_the_payloads_byte_can_code_are_refused() -> None:
    from shared.codecs.learned.rate_gain import MAX_LEVELS, level_code

    assert level_code(1, MAX_LEVELS) <= 255  # the lowest quality of the largest model codes
    assert level_code(1, MAX_LEVELS + 1) > 255  # one level more would not
    RateGains(MAX_LEVELS, 2)
    with pytest.raises(ConfigurationError, match=f"2 to {MAX_LEVELS} levels"):
        RateGains(MAX_LEVELS + 1, 2)
