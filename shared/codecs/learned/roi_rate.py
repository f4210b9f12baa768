"""Equal-bytes ROI coding: pick the quality level and gains whose ROI container fits a budget.

A learned codec's rate points are trained checkpoints, so a byte target is met by search, as
:meth:`LearnedCodec._select` does for plain coding from the manifests' measured bpp. With an
ROI the bytes depend on the scene and the mask, so here every candidate (quality x gains) is
really encoded and measured: the chosen one is, among those whose payload plus ROI record plus
the caller's fixed overhead fits ``max_bytes``, the one with the highest PSNR inside the ROI
(ties: higher PSNR outside). That is what an experiment at equal total bytes compares.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from shared.codecs.base import EncodedPayload, RasterSpec, RateTarget
from shared.codecs.learned.codec import LearnedCodec
from shared.codecs.learned.roi_gain import RoiGain
from shared.errors import ConfigurationError, InvalidRasterError, RateTargetError
from shared.metrics.distortion import psnr_db
from shared.roi.masks import ROI_METADATA_KEY

# Emphasis inside (gain 2, 4), alone or with the background attenuated by 2 (saves bytes).
FIT_GAINS = (RoiGain(1, 0), RoiGain(2, 0), RoiGain(0, 1), RoiGain(1, 1))


@dataclass(frozen=True)
class RoiFit:
    """The chosen ROI encode and its figures.

    Attributes:
        encoded: the payload (``encoded.roi`` is the container's ROI record).
        quality: the checkpoint's quality level.
        roi_gain: the gains it was coded with.
        total_bytes: payload + ROI record + the fixed overhead given.
        psnr_roi_db, psnr_background_db: PSNR inside / outside the mask (normalised data);
            ``None`` where that side has no pixel.
        tried: how many candidates were encoded.
    """

    encoded: EncodedPayload = field(repr=False)
    quality: int
    roi_gain: RoiGain
    total_bytes: int
    psnr_roi_db: float | None
    psnr_background_db: float | None
    tried: int


def roi_record_bytes(record: dict[str, Any] | None) -> int:
    """Bytes the ROI record adds to the container's metadata JSON (sorted keys, no spaces,
    as ``shared.wire.container.encode_metadata`` writes it), its separating comma included."""
    if record is None:
        return 0
    text = json.dumps(
        {ROI_METADATA_KEY: record}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return len(text.encode("utf-8")) - 2 + 1  # without the braces, with one comma


def bpp_budget_bytes(bpp: float, spec: RasterSpec) -> int:
    """The whole bytes a bpp target allows a container of this raster (bpp x H x W / 8)."""
    return math.floor(bpp * spec.pixels / 8)


def fit_roi_rate(
    codec: LearnedCodec,
    raster: NDArray[Any],
    spec: RasterSpec,
    roi_mask: NDArray[Any],
    *,
    max_bytes: int,
    fixed_overhead_bytes: int = 0,
    gains: Sequence[RoiGain] = FIT_GAINS,
    qualities: Sequence[int] | None = None,
) -> RoiFit:
    """Encode every (quality, gains) candidate and keep the best ROI fidelity that fits.

    Args:
        codec: a learned codec with checkpoints for ``spec.bands``.
        raster: the scene. Shape: (C, H, W) in ``spec.dtype``.
        spec: its spec.
        roi_mask: (H, W) region of interest (what the PSNR inside is measured on).
        max_bytes: the budget for payload + ROI record + ``fixed_overhead_bytes``.
        fixed_overhead_bytes: the container's other bytes (header and the rest of the
            metadata), e.g. a plain container's length minus its payload's.
        gains: the gain pairs to try.
        qualities: the quality levels to try (default: every checkpoint the codec has).

    Raises:
        RateTargetError: no candidate fits; the message gives the smallest size reached.
        ConfigurationError: no gains or qualities to try.
        InvalidRasterError: the mask does not match the raster.
    """
    inside = _inside(roi_mask, spec)
    levels = _qualities(codec, spec, qualities)
    if not gains:
        raise ConfigurationError("give at least one RoiGain to try")
    if not inside.any():
        gains = gains[:1]  # an empty ROI codes plainly whatever the gains
    best: RoiFit | None = None
    smallest, tried = math.inf, 0
    for quality in levels:
        for gain in gains:
            encoded = codec.encode(
                raster, spec, RateTarget(quality=quality), roi_mask=inside, roi_gain=gain
            )
            tried += 1
            total = len(encoded.payload) + roi_record_bytes(encoded.roi) + fixed_overhead_bytes
            smallest = min(smallest, total)
            if total > max_bytes:
                continue
            fit = _figures(encoded, raster, spec, inside, quality, gain, total)
            if best is None or _score(fit) > _score(best):
                best = fit
    if best is None:
        raise RateTargetError(
            f"no ROI encode fits {max_bytes} bytes: the smallest of {tried} candidates takes "
            f"{smallest} bytes; raise the budget, try lower qualities or send without ROI"
        )
    return replace(best, tried=tried)


def _inside(roi_mask: NDArray[Any], spec: RasterSpec) -> NDArray[Any]:
    plane = np.asarray(roi_mask)
    if plane.shape == (1, spec.height, spec.width):
        plane = plane[0]
    if plane.shape != (spec.height, spec.width):
        raise InvalidRasterError(
            f"ROI mask shape {np.shape(roi_mask)} does not match the raster's "
            f"{spec.height}x{spec.width}; pass an (H, W) mask"
        )
    return plane != 0


def _qualities(codec: LearnedCodec, spec: RasterSpec, qualities: Sequence[int] | None) -> list[int]:
    if qualities is not None:
        chosen = sorted(set(qualities))
    else:
        found = codec.checkpoints.candidates(codec.name, spec.bands)
        chosen = sorted({q for c in found for q in c.manifest.qualities})
    if not chosen:
        raise ConfigurationError(
            f"no {codec.name} quality level to try for {spec.bands} bands; install a checkpoint"
        )
    return chosen


def _figures(
    encoded: EncodedPayload,
    raster: NDArray[Any],
    spec: RasterSpec,
    inside: NDArray[Any],
    quality: int,
    gain: RoiGain,
    total: int,
) -> RoiFit:
    recon = encoded.reconstruction

    def psnr_where(where: NDArray[Any]) -> float | None:
        return psnr_db(raster[:, where], recon[:, where], spec.scale) if where.any() else None

    return RoiFit(encoded, quality, gain, total, psnr_where(inside), psnr_where(~inside), 0)


def _score(fit: RoiFit) -> tuple[float, float]:
    """Higher is better: PSNR inside, then outside (an absent side counts as neutral)."""
    return (
        fit.psnr_roi_db if fit.psnr_roi_db is not None else -math.inf,
        fit.psnr_background_db if fit.psnr_background_db is not None else -math.inf,
    )
