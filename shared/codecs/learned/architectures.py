"""N-band variants of CompressAI's image codecs.

CompressAI builds its models for 3-band RGB. Here the first analysis layer (``g_a[0]``) takes
``bands`` channels and the last synthesis layer (``g_s[-1]``) emits ``bands`` channels; everything
else is CompressAI's own layers, so ``forward``, ``aux_loss`` and ``update`` keep its contract.
Widths (N, M) default per quality level to CompressAI's zoo configurations and may be overridden
(they are stored in the checkpoint manifest) so that smaller models can ship.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.errors import ConfigurationError, UnknownNameError

ARCHITECTURES = (
    "factorized-prior",
    "scale-hyperprior",
    "mean-scale-hyperprior",
    "cheng2020-anchor",
    "cheng2020-attn",
    "cheng2020-gmm",
    "cheng2020-checkerboard",
)
MAX_BANDS = 16
#: A CompressAI ``CompressionModel`` (with ``bands``, ``N``, ``M`` set by :func:`build_model`).
#: CompressAI ships no type information, so its models are ``Any`` to the type checker.
CompressionModel = Any
# Architectures whose latent width M equals N (CompressAI's cheng2020 family).
_TIED_WIDTHS = frozenset(
    {"cheng2020-anchor", "cheng2020-attn", "cheng2020-gmm", "cheng2020-checkerboard"}
)


@dataclass(frozen=True)
class Widths:
    """Channel widths of a model: N (transforms) and M (latent y)."""

    N: int
    M: int


def default_widths(architecture: str, quality: int) -> Widths:
    """CompressAI's zoo widths for a quality level 1..6 (cheng2020: 128 for q<=3, else 192)."""
    check_architecture(architecture)
    if not 1 <= quality <= 6:
        raise ConfigurationError(f"quality must be 1..6 as in CompressAI, got {quality}")
    if architecture in _TIED_WIDTHS:
        n = 128 if quality <= 3 else 192
        return Widths(n, n)
    high_from = 5 if architecture == "mean-scale-hyperprior" else 6
    return Widths(192, 320) if quality >= high_from else Widths(128, 192)


def resolve_widths(
    architecture: str, quality: int, N: int | None = None, M: int | None = None
) -> Widths:
    """Default widths for the quality, overridden by N and/or M where given."""
    base = default_widths(architecture, quality)
    n = base.N if N is None else N
    if architecture in _TIED_WIDTHS:
        m = n if M is None else M
        if m != n:
            raise ConfigurationError(
                f"{architecture} uses one width for transforms and latents (M = N); "
                f"got N={n}, M={m}: pass only N"
            )
    else:
        m = base.M if M is None else M
    if n < 4 or m < 4 or n % 2 or m % 2:
        raise ConfigurationError(
            f"widths N={n}, M={m} are not usable: use even numbers >= 4 (the hyper "
            "synthesis uses 3M/2 channels)"
        )
    return Widths(n, m)


def check_architecture(architecture: str) -> None:
    """Refuse an unknown architecture name, listing the valid ones."""
    if architecture not in ARCHITECTURES:
        raise UnknownNameError(
            f"unknown learned architecture {architecture!r}; valid: {', '.join(ARCHITECTURES)}"
        )


def _google_ends(model: CompressionModel, bands: int, widths: Widths) -> None:
    from compressai.models.utils import conv, deconv

    model.g_a[0] = conv(bands, widths.N, kernel_size=5, stride=2)
    model.g_s[-1] = deconv(widths.N, bands, kernel_size=5, stride=2)


def _cheng_ends(model: CompressionModel, bands: int, widths: Widths) -> None:
    from compressai.layers import ResidualBlockWithStride, subpel_conv3x3

    model.g_a[0] = ResidualBlockWithStride(bands, widths.N, stride=2)
    model.g_s[-1] = subpel_conv3x3(widths.N, bands, 2)


def _factorized(widths: Widths) -> CompressionModel:
    from compressai.models import FactorizedPrior

    return FactorizedPrior(widths.N, widths.M)


def _scale_hyperprior(widths: Widths) -> CompressionModel:
    from compressai.models import ScaleHyperprior

    return ScaleHyperprior(widths.N, widths.M)


def _mean_scale(widths: Widths) -> CompressionModel:
    from compressai.models import MeanScaleHyperprior

    return MeanScaleHyperprior(widths.N, widths.M)


def _cheng_anchor(widths: Widths) -> CompressionModel:
    from compressai.models import Cheng2020Anchor

    return Cheng2020Anchor(widths.N)


def _cheng_attn(widths: Widths) -> CompressionModel:
    from compressai.models import Cheng2020Attention

    return Cheng2020Attention(widths.N)


def _cheng_gmm(widths: Widths) -> CompressionModel:
    from shared.codecs.learned.gmm import Cheng2020GMM

    return Cheng2020GMM(widths.N)


def _cheng_checkerboard(widths: Widths) -> CompressionModel:
    from compressai.models import Cheng2020AnchorCheckerboard

    return Cheng2020AnchorCheckerboard(widths.N)


_Builder = Callable[[Widths], CompressionModel]
_BUILDERS: dict[str, tuple[_Builder, Callable[[CompressionModel, int, Widths], None]]] = {
    "factorized-prior": (_factorized, _google_ends),
    "scale-hyperprior": (_scale_hyperprior, _google_ends),
    "mean-scale-hyperprior": (_mean_scale, _google_ends),
    "cheng2020-anchor": (_cheng_anchor, _cheng_ends),
    "cheng2020-attn": (_cheng_attn, _cheng_ends),
    "cheng2020-gmm": (_cheng_gmm, _cheng_ends),
    "cheng2020-checkerboard": (_cheng_checkerboard, _cheng_ends),
}


def build_model(
    architecture: str,
    bands: int,
    quality: int,
    N: int | None = None,
    M: int | None = None,
    rate_levels: int = 0,
) -> CompressionModel:
    """Build an untrained N-band model (weights from the current torch RNG state).

    Args:
        architecture: a registry name, e.g. ``cheng2020-gmm``.
        bands: input and output channels, 1..16.
        quality: 1..6; picks the default widths.
        N: transform width override (default per quality).
        M: latent width override (cheng2020 models take N only; M = N).
        rate_levels: 0 for a fixed-rate model; else the levels of a variable-rate one
            (cheng2020-gmm only, see :mod:`shared.codecs.learned.rate_gain`).

    Returns:
        A CompressAI ``CompressionModel`` whose ``forward(x)`` maps (1, bands, H, W) inputs
        in [0, 1] to ``{"x_hat", "likelihoods": {"y", "z"}}``.
    """
    check_architecture(architecture)
    if not 1 <= bands <= MAX_BANDS:
        raise ConfigurationError(f"bands must be 1..{MAX_BANDS}, got {bands}")
    widths = resolve_widths(architecture, quality, N, M)
    build, fit_ends = _BUILDERS[architecture]
    model = build(widths)
    fit_ends(model, bands, widths)
    model.bands = bands
    model.N, model.M = widths.N, widths.M
    if rate_levels:
        from shared.codecs.learned.rate_gain import attach_rate_gains

        attach_rate_gains(model, rate_levels)
    return model
