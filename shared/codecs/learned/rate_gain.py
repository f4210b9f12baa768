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

Coding at a level (:func:`coding_gains`): the level travels in the payload as a code
``level * LEVEL_STEPS`` (one byte), and both ends derive the gains from it in Python float64
arithmetic, rounded to :data:`GAIN_BITS` significant bits, so that the encoder and any decoder
get the same gains bit for bit (the float64 exp of the C library, then a rounding that only a
last-bit difference exactly at a rounding boundary could move). The symbols are
``round(g_k * y)``; the context model sees ``round(symbols / g_k)`` on its fixed-point grid, the
mixture of channel c is scaled by ``g_k[c]`` and synthesis reads ``symbols * ig_k``
(:mod:`shared.codecs.learned.gmm_coding`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from shared.errors import CodecError, ConfigurationError

LEVEL_STEPS = 32  # a coded level is code / 32: 1/32 of a trained level apart
GAIN_BITS = 12  # significant bits of a coding gain (relative step 2^-12)
QUALITIES = 6  # container qualities 1..6, spread over the trained levels (6: level 0)
MAX_LEVELS = 255 // LEVEL_STEPS + 1  # the payload's one-byte code reaches level 7: 8 levels


class RateGains(nn.Module):
    """Per-channel gain and inverse-gain vectors for ``levels`` rate levels.

    Args:
        levels: trained rate levels (at least 2), level 0 the highest rate.
        channels: latent channels M.
    """

    def __init__(self, levels: int, channels: int) -> None:
        super().__init__()
        if not (2 <= levels <= MAX_LEVELS) or channels < 1:
            raise ConfigurationError(
                f"a variable-rate model needs 2 to {MAX_LEVELS} levels (the payload codes a "
                f"level in one byte, 1/{LEVEL_STEPS} of a level apart) and at least 1 channel, "
                f"got {levels} levels of {channels} channels"
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

    @torch.no_grad()
    def spread(self, lmbdas: tuple[float, ...]) -> None:
        """Start each level's gains where rate-distortion theory puts them: a quantisation step
        growing as ``sqrt(lmbda_0 / lmbda_k)`` (high-rate MSE optimum), inverse gains its
        reciprocal, so a warm start from the highest-rate model begins spread over the rates
        instead of at one point.

        Raises:
            ConfigurationError: ``lmbdas`` is not one positive lambda per level, highest first.
        """
        ordered = all(a > b for a, b in zip(lmbdas, lmbdas[1:], strict=False))
        if len(lmbdas) != self.levels or min(lmbdas) <= 0 or not ordered:
            raise ConfigurationError(
                f"need {self.levels} positive lambdas, strictly decreasing (highest rate "
                f"first), got {list(lmbdas)}"
            )
        logs = torch.tensor([0.5 * math.log(lm / lmbdas[0]) for lm in lmbdas])
        self.log_gain.copy_(logs.view(-1, 1).expand_as(self.log_gain))
        self.log_inverse.copy_(-self.log_gain)

    @torch.no_grad()
    def extend_from(self, source: RateGains, lmbdas: tuple[float, ...]) -> None:
        """Take a trained model's levels and add lower-rate ones below them: the trained levels
        are copied unchanged, each new level starts one theoretical step below the last
        trained one (quantisation step times ``sqrt(lmbda_last / lmbda_new)``, per channel).

        Args:
            source: the trained gains (fewer levels, the same channels).
            lmbdas: this model's lambdas, one per level, highest rate first; the first
                ``source.levels`` are the source's.

        Raises:
            ConfigurationError: ``source`` has no fewer levels or other channels, or
                ``lmbdas`` is not one positive, strictly decreasing lambda per level.
        """
        known = source.levels
        ordered = all(a > b for a, b in zip(lmbdas, lmbdas[1:], strict=False))
        shape_ok = known < self.levels and source.log_gain.shape[1] == self.log_gain.shape[1]
        if not shape_ok or len(lmbdas) != self.levels or min(lmbdas) <= 0 or not ordered:
            raise ConfigurationError(
                f"cannot extend {known} levels of {source.log_gain.shape[1]} channels to "
                f"{self.levels} of {self.log_gain.shape[1]} with lambdas {list(lmbdas)}: "
                "need more levels, the same channels and one decreasing lambda per level"
            )
        self.log_gain[:known] = source.log_gain
        self.log_inverse[:known] = source.log_inverse
        for level in range(known, self.levels):
            step = 0.5 * math.log(lmbdas[level] / lmbdas[known - 1])
            self.log_gain[level] = source.log_gain[known - 1] + step
            self.log_inverse[level] = source.log_inverse[known - 1] - step


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


@dataclass(frozen=True)
class ChannelGains:
    """The per-channel gains of one coded rate level, identical at both ends.

    Attributes:
        code: the level's code (level = code / LEVEL_STEPS), what the payload carries.
        gain: g (M,) float64, each with GAIN_BITS significant bits.
        inverse: ig (M,) float64, likewise.
    """

    code: int
    gain: Tensor
    inverse: Tensor


def coding_gains(gains: RateGains, code: int) -> ChannelGains:
    """The gains at a coded level, computed in Python float64 (never a vectorised kernel).

    Raises:
        CodecError: the code lies beyond the model's trained levels (a corrupt payload, or
            weights other than the encoder's).
    """
    top = (gains.levels - 1) * LEVEL_STEPS
    if not (isinstance(code, int) and 0 <= code <= top):
        raise CodecError(
            f"rate level code {code} is outside 0..{top} of this {gains.levels}-level model: "
            "the payload is corrupt or was coded with other weights"
        )
    low = min(code // LEVEL_STEPS, gains.levels - 2)
    frac = code / LEVEL_STEPS - low

    def mix(logs: Tensor) -> Tensor:
        rows = logs.detach().double().cpu()[low : low + 2].tolist()
        values = [
            _round_bits(math.exp((1.0 - frac) * a + frac * b)) for a, b in zip(*rows, strict=True)
        ]
        return torch.tensor(values, dtype=torch.float64)

    return ChannelGains(code, mix(gains.log_gain), mix(gains.log_inverse))


def _round_bits(value: float) -> float:
    """Round a positive float to GAIN_BITS significant bits (exact in float32 too)."""
    mantissa, exponent = math.frexp(value)
    return math.ldexp(round(math.ldexp(mantissa, GAIN_BITS)), exponent - GAIN_BITS)


def level_code(quality: int, levels: int) -> int:
    """The level code a container quality 1..6 codes at: 6 the highest rate (level 0), 1 the
    lowest (the last level), the others evenly between on the 1/32 grid.

    Raises:
        ConfigurationError: a quality outside 1..6.
    """
    if not (isinstance(quality, int) and 1 <= quality <= QUALITIES):
        raise ConfigurationError(f"quality must be 1..{QUALITIES}, got {quality!r}")
    top = (levels - 1) * LEVEL_STEPS
    return round((QUALITIES - quality) * top / (QUALITIES - 1))


def quality_at_or_below(code: int, levels: int) -> int:
    """The highest quality whose level codes at no more rate than ``code`` (what a container
    coded at a bpp target records)."""
    fitting = [q for q in range(QUALITIES, 0, -1) if level_code(q, levels) >= code]
    return fitting[0] if fitting else 1


def estimated_bpp(model: Any, x: Tensor, codes: list[int], pixels: int) -> list[float]:
    """Bits per pixel the model's likelihoods predict at each level code (no entropy coding):
    the analysis and hyper paths run once, the context and mixture once per level.

    Shape:
        x: (1, bands, H, W) in [0, 1], H and W multiples of 64; ``pixels`` the raster's own.
    """
    y = model.g_a(x)
    z_hat, z_likelihoods = model.entropy_bottleneck(model.h_a(y))
    z_bits = float(-torch.log2(z_likelihoods).sum())
    params = model.h_s(z_hat)
    out = []
    for code in codes:
        gain = coding_gains(model.rate_gains, code).gain.float().view(1, -1, 1, 1)
        symbols = torch.round(y * gain)
        means, scales, weights = model.mixture_parameters(
            params, model.context_prediction(symbols / gain)
        )
        gains = gain.repeat(1, model.K, 1, 1)
        _, likelihoods = model.gaussian_conditional(symbols, scales * gains, means * gains, weights)
        out.append((float(-torch.log2(likelihoods).sum()) + z_bits) / pixels)
    return out


def level_for_bpp(model: Any, x: Tensor, bpp: float, pixels: int) -> int:
    """The highest-rate level code whose estimated bpp is at most ``bpp`` (bisection over the
    codes; the last level when none is), for a variable-rate model in eval mode."""
    low, high = 0, (model.rate_gains.levels - 1) * LEVEL_STEPS
    while low < high:
        middle = (low + high) // 2
        if estimated_bpp(model, x, [middle], pixels)[0] <= bpp:
            high = middle
        else:
            low = middle + 1
    return low
