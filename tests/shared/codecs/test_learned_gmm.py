"""The Gaussian-mixture coder of cheng2020-gmm: valid CDFs and exact latents."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from shared.codecs.learned.architectures import build_model
from shared.codecs.learned.coding import deterministic_coding
from shared.codecs.learned.gmm_coding import (
    MAX_SYMBOL_BOUND,
    PARAM_STEP,
    mixture_cdfs,
    quantise_mixture,
)


def _check_cdfs(cdfs: Tensor, bound: int) -> None:
    assert cdfs.shape[-1] == 2 * bound + 3
    assert (cdfs[:, 0] == 0).all()
    assert (cdfs[:, -2] == 2**16 - 1).all() and (cdfs[:, -1] == 2**16).all()
    assert (cdfs.diff(dim=-1) >= 1).all()  # every symbol and the escape stay codable


def test_mixture_cdfs_are_valid_even_for_extreme_parameters() -> None:
    means = torch.tensor(
        [[0.0, 3.3, 500.0], [-2.0, 0.1, -500.0], [1.0, 0.0, 900.0]], dtype=torch.float64
    )
    scales = torch.tensor(
        [[0.11, 2.0, 0.11], [5.0, 64.0, 0.11], [1.0, 0.5, 0.11]], dtype=torch.float64
    )
    weights = torch.tensor(
        [[0.2, 0.5, 1.0], [0.3, 0.25, 0.0], [0.5, 0.25, 0.0]], dtype=torch.float64
    )
    cdfs = mixture_cdfs(means, scales, weights, bound=8)
    _check_cdfs(cdfs, 8)
    pmf = cdfs.diff(dim=-1)[:, :-1]
    assert pmf[0].argmax() == 8  # mode at symbol 0 for the first latent
    assert pmf[2].max() - pmf[2].min() <= pmf.shape[-1]  # all mass outside: flat fallback


def test_mixture_parameters_are_rounded_to_the_grid() -> None:
    raw = torch.tensor([0.123456, -1.5, 2.0e-5, 700.0, 0.01, 0.3], dtype=torch.float32)
    means, scales, weights = quantise_mixture(raw, raw.abs(), raw.abs(), k=3)
    assert means.shape == (3, 2) and means.dtype == torch.float64
    for t in (means, weights):
        assert torch.equal(t, torch.round(t / PARAM_STEP) * PARAM_STEP)
    assert scales.min() >= 0.11 and scales.max() <= 64.0


class _Gain(nn.Module):
    def __init__(self, gain: float) -> None:
        super().__init__()
        self.gain = gain

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gain


def test_coded_latents_are_exactly_round_y_including_escapes() -> None:
    torch.manual_seed(0)
    model = build_model("cheng2020-gmm", 3, 2, N=16).eval()
    model.g_a = nn.Sequential(model.g_a, _Gain(400.0))  # latents far beyond the CDF range
    model.update(force=True)
    x = torch.rand(1, 3, 64, 128)
    with deterministic_coding():
        out = model.compress(x)
        y = torch.round(model.g_a(x))
        assert y.abs().max() > MAX_SYMBOL_BOUND and out["symbol_bound"] == MAX_SYMBOL_BOUND
        x_hat = model.decompress(out["strings"], out["shape"], out["symbol_bound"])["x_hat"]
        expected = model.g_s(y).clamp_(0, 1)
    assert torch.equal(x_hat, expected)


def test_coding_pins_one_thread_and_restores_the_callers() -> None:
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with deterministic_coding():
            assert torch.get_num_threads() == 1 and not torch.is_grad_enabled()
        assert torch.get_num_threads() == 2 and torch.is_grad_enabled()
    finally:
        torch.set_num_threads(previous)
