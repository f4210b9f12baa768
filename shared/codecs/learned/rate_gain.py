"""Variable rate for cheng2020-gmm: learned per-channel gains on the latents, one set per level.

One checkpoint covers a whole rate range (Cui et al. 2021, "asymmetric gained" units): for each
trained level k (one lambda each) a gain vector ``g_k`` scales the latents before quantisation,
``y' = y * g_k``, so the quantisation step of channel c is ``1 / g_k[c]``; an inverse gain
vector ``ig_k`` scales the dequantised latents before synthesis, ``x_hat = g_s(y_hat' * ig_k)``.
As in the ROI coding of :mod:`shared.codecs.learned.roi_gain`, the hyper and context paths see
unscaled latents (``y_hat' / g_k``) and each mixture is scaled by the gain (means and scales
times ``g_k``), so one entropy network serves every level. Between trained levels the gains are
interpolated geometrically: any continuous level in ``[0, levels - 1]`` is a rate point.

Gains are stored as their logarithms (always positive) and start at 1, so a fixed-rate model
loaded into a variable-rate one begins exactly where it was.

This module holds the model side (parameters, the training pass); entropy coding at a level is
not wired into the codec yet.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from shared.errors import ConfigurationError


class RateGains(nn.Module):
    """Per-channel gain and inverse-gain vectors for ``levels`` rate levels.

    Args:
        levels: trained rate levels (at least 2), level 0 the highest rate.
        channels: latent channels M.
    """

    def __init__(self, levels: int, channels: int) -> None:
        super().__init__()
        if levels < 2 or channels < 1:
            raise ConfigurationError(
                f"a variable-rate model needs at least 2 levels and 1 channel, got {levels} "
                f"levels of {channels} channels"
            )
        self.log_gain = nn.Parameter(torch.zeros(levels, channels))
        self.log_inverse = nn.Parameter(torch.zeros(levels, channels))

    @property
    def levels(self) -> int:
        """Number of trained levels."""
        return int(self.log_gain.shape[0])

    def at(self, level: float) -> tuple[Tensor, Tensor]:
        """Gain and inverse gain at a continuous level, geometric between neighbours.

        Shape:
            returns two (1, M, 1, 1) tensors.

        Raises:
            ConfigurationError: the level lies outside ``[0, levels - 1]``.
        """
        if not (math.isfinite(level) and 0.0 <= level <= self.levels - 1):
            raise ConfigurationError(
                f"rate level {level} is outside the trained range 0..{self.levels - 1}"
            )
        low = min(int(math.floor(level)), self.levels - 2)
        frac = level - low

        def mix(logs: Tensor) -> Tensor:
            return torch.exp((1.0 - frac) * logs[low] + frac * logs[low + 1]).view(1, -1, 1, 1)

        return mix(self.log_gain), mix(self.log_inverse)


def attach_rate_gains(model: Any, levels: int) -> None:
    """Give a cheng2020-gmm model ``levels`` rate levels (gains at 1: no change yet)."""
    if not hasattr(model, "mixture_parameters"):
        raise ConfigurationError(
            "variable rate is implemented for cheng2020-gmm only (its mixture is scaled by the "
            "gain); train fixed rate points for the other architectures"
        )
    model.rate_gains = RateGains(levels, int(model.M))


def forward_at(model: Any, x: Tensor, level: float) -> dict[str, Any]:
    """Training pass of a variable-rate cheng2020-gmm at one level.

    Shape:
        x: (B, bands, H, W) in [0, 1], H and W multiples of 64. Returns CompressAI's
        ``{"x_hat", "likelihoods": {"y", "z"}}``.
    """
    gain, inverse = model.rate_gains.at(level)
    y = model.g_a(x)
    z = model.h_a(y)
    z_hat, z_likelihoods = model.entropy_bottleneck(z)
    params = model.h_s(z_hat)
    mode = "noise" if model.training else "dequantize"
    y_hat_scaled = model.gaussian_conditional.quantize(y * gain, mode)
    ctx_params = model.context_prediction(y_hat_scaled / gain)
    means, scales, weights = model.mixture_parameters(params, ctx_params)
    k = model.K
    gains = gain.repeat(1, k, 1, 1)  # component-major: component j of channel m at j*M + m
    _, y_likelihoods = model.gaussian_conditional(y * gain, scales * gains, means * gains, weights)
    x_hat = model.g_s(y_hat_scaled * inverse)
    return {"x_hat": x_hat, "likelihoods": {"y": y_likelihoods, "z": z_likelihoods}}
