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
from enum import StrEnum
from typing import Any

from shared.errors import ConfigurationError, UnknownNameError

MAX_BANDS = 16
#: A CompressAI ``CompressionModel`` (with ``bands``, ``N``, ``M`` set by :func:`build_model`).
#: CompressAI ships no type information, so its models are ``Any`` to the type checker.
CompressionModel = Any


class LatentScheme(StrEnum):
    """How an architecture's latents are entropy-coded: the strings its payload holds."""

    FACTORIZED = "factorized"  # y alone under a fully factorized prior: one string, no z
    HYPERPRIOR = "hyperprior"  # y under a (mean-)scale hyperprior or context model, then z
    CHECKERBOARD = "checkerboard"  # the two halves of y (anchors, then the rest), then z
    MIXTURE = "mixture"  # y in wavefront order under a Gaussian mixture (symbol bound), then z

    @property
    def string_count(self) -> int:
        """Strings one image (batch 1) writes."""
        return {"factorized": 1, "checkerboard": 3}.get(self.value, 2)

    @property
    def has_hyper(self) -> bool:
        """True when a hyper-latent z (a 1/64 grid) is coded."""
        return self is not LatentScheme.FACTORIZED


@dataclass(frozen=True)
class Widths:
    """Channel widths of a model: N (transforms) and M (latent y)."""

    N: int
    M: int


_Builder = Callable[[Widths], CompressionModel]
_Ends = Callable[[CompressionModel, int, Widths], None]


@dataclass(frozen=True)
class Architecture:
    """Everything the code knows about one learned architecture, written once.

    Attributes:
        name: the registry name (its codec class registers under it).
        build: makes CompressAI's 3-band model at the given widths.
        ends: refits its first analysis and last synthesis layers to N bands.
        latents: how its latents are coded.
        narrow, wide: CompressAI's zoo widths below and from quality ``wide_from``.
        latent_width: True when M may differ from N although the zoo ties them (the paper's
            model: see :class:`shared.codecs.learned.gmm.Cheng2020GMM`).
    """

    name: str
    build: _Builder
    ends: _Ends
    latents: LatentScheme
    narrow: Widths
    wide: Widths
    wide_from: int
    latent_width: bool = False

    @property
    def tied_widths(self) -> bool:
        """True when latents and transforms must share one width (M = N, cheng2020 models
        other than the paper's)."""
        return self.narrow.N == self.narrow.M and not self.latent_width


def find_architecture(name: str) -> Architecture:
    """The architecture registered under ``name``.

    Raises:
        UnknownNameError: no such architecture (the message lists the valid ones).
    """
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown learned architecture {name!r}; valid: {', '.join(ARCHITECTURES)}"
        ) from None


def latent_scheme(name: str) -> LatentScheme:
    """How the architecture ``name`` codes its latents."""
    return find_architecture(name).latents


def default_widths(name: str, quality: int) -> Widths:
    """CompressAI's zoo widths for a quality level 1..6 (cheng2020: 128 for q<=3, else 192)."""
    spec = find_architecture(name)
    if not 1 <= quality <= 6:
        raise ConfigurationError(f"quality must be 1..6 as in CompressAI, got {quality}")
    return spec.wide if quality >= spec.wide_from else spec.narrow


def resolve_widths(name: str, quality: int, N: int | None = None, M: int | None = None) -> Widths:
    """Default widths for the quality, overridden by N and/or M where given."""
    base = default_widths(name, quality)
    n = base.N if N is None else N
    spec = find_architecture(name)
    if spec.narrow.N == spec.narrow.M:  # the zoo ties M to N: M follows an N override
        m = n if M is None else M
        if m != n and spec.tied_widths:
            raise ConfigurationError(
                f"{name} uses one width for transforms and latents (M = N); "
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


def check_architecture(name: str) -> None:
    """Refuse an unknown architecture name, listing the valid ones."""
    find_architecture(name)


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

    return Cheng2020GMM(widths.N, widths.M)


def _cheng_checkerboard(widths: Widths) -> CompressionModel:
    from compressai.models import Cheng2020AnchorCheckerboard

    return Cheng2020AnchorCheckerboard(widths.N)


def _google(name: str, build: _Builder, latents: LatentScheme, wide_from: int = 6) -> Architecture:
    return Architecture(
        name, build, _google_ends, latents, Widths(128, 192), Widths(192, 320), wide_from
    )


def _cheng(
    name: str,
    build: _Builder,
    latents: LatentScheme = LatentScheme.HYPERPRIOR,
    latent_width: bool = False,
) -> Architecture:
    return Architecture(
        name, build, _cheng_ends, latents, Widths(128, 128), Widths(192, 192), 4, latent_width
    )


#: Every learned architecture, by registry name.
ARCHITECTURES: dict[str, Architecture] = {
    spec.name: spec
    for spec in (
        _google("factorized-prior", _factorized, LatentScheme.FACTORIZED),
        _google("scale-hyperprior", _scale_hyperprior, LatentScheme.HYPERPRIOR),
        _google("mean-scale-hyperprior", _mean_scale, LatentScheme.HYPERPRIOR, wide_from=5),
        _cheng("cheng2020-anchor", _cheng_anchor),
        _cheng("cheng2020-attn", _cheng_attn),
        _cheng("cheng2020-gmm", _cheng_gmm, LatentScheme.MIXTURE, latent_width=True),
        _cheng("cheng2020-checkerboard", _cheng_checkerboard, LatentScheme.CHECKERBOARD),
    )
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
        M: latent width override (cheng2020 models other than cheng2020-gmm take N only;
            M = N; cheng2020-gmm defaults to M = N).
        rate_levels: 0 for a fixed-rate model; else the levels of a variable-rate one
            (cheng2020-gmm only, see :mod:`shared.codecs.learned.rate_gain`).

    Returns:
        A CompressAI ``CompressionModel`` whose ``forward(x)`` maps (1, bands, H, W) inputs
        in [0, 1] to ``{"x_hat", "likelihoods": {"y", "z"}}``.
    """
    spec = find_architecture(architecture)
    if not 1 <= bands <= MAX_BANDS:
        raise ConfigurationError(f"bands must be 1..{MAX_BANDS}, got {bands}")
    widths = resolve_widths(architecture, quality, N, M)
    model = spec.build(widths)
    spec.ends(model, bands, widths)
    model.bands = bands
    model.N, model.M = widths.N, widths.M
    if rate_levels:
        from shared.codecs.learned.rate_gain import attach_rate_gains

        attach_rate_gains(model, rate_levels)
    return model
