"""Rate control for lossy JPEG 2000: hit a target bpp measured on the codestream's length.

OpenJPEG takes a compression ratio against the declared bit depth (ratio = C * B / bpp) and
truncates coding passes to fit. Marker overhead and pass granularity make the result drift, most
on small tiles, so the first guess is corrected by a few secant steps in log space on the size
actually measured: bpp = len(codestream) * 8 / (H * W).

Quality levels (``RateTarget(quality=q)``) map to a fixed ladder of bits per *sample*, so that a
10-band tile gets ten times the bits of a single-band one at the same level:

    ======= ==================== ===========================
    quality bits per sample      bpp for 1 band / 10 bands
    ======= ==================== ===========================
    1       0.125                0.125 / 1.25
    2       0.25                 0.25 / 2.5
    3       0.5                  0.5 / 5
    4       1.0                  1 / 10
    5       1.5                  1.5 / 15
    6       2.0                  2 / 20
    ======= ==================== ===========================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from shared.errors import RateTargetError

QUALITY_BITS_PER_SAMPLE: dict[int, float] = {1: 0.125, 2: 0.25, 3: 0.5, 4: 1.0, 5: 1.5, 6: 2.0}
RATE_TOLERANCE = 0.10  # the promise: measured bpp within 10% of the target
_AIM = 0.02  # stop searching once this close
_MAX_ENCODES = 8
_MAX_RATIO = 1e6


def bpp_for_quality(quality: int, bands: int) -> float:
    """The target bpp of a quality level 1..6 for a raster of ``bands`` bands (see the ladder)."""
    try:
        return QUALITY_BITS_PER_SAMPLE[quality] * bands
    except KeyError:
        raise RateTargetError(
            f"JPEG 2000 quality must be one of {sorted(QUALITY_BITS_PER_SAMPLE)}, got {quality}"
        ) from None


@dataclass(frozen=True)
class RatePoint:
    """One trial encode: the ratio asked of OpenJPEG and the codestream it produced."""

    ratio: float
    codestream: bytes

    def bpp(self, pixels: int) -> float:
        """Bits per pixel of the codestream over ``pixels`` spatial positions."""
        return len(self.codestream) * 8 / pixels


def _next_ratio(points: list[RatePoint], target_bytes: float) -> float:
    """Secant step on log(size) vs log(ratio), kept inside the bracket found so far."""
    above = [p for p in points if len(p.codestream) > target_bytes]
    below = [p for p in points if len(p.codestream) <= target_bytes]
    lo = max(above, key=lambda p: p.ratio, default=None)  # largest ratio still too big
    hi = min(below, key=lambda p: p.ratio, default=None)  # smallest ratio small enough
    if lo is None or hi is None:
        last = points[-1]
        guess = last.ratio * len(last.codestream) / target_bytes
        return min(max(guess, 1.0), _MAX_RATIO)
    x0, y0 = math.log(lo.ratio), math.log(len(lo.codestream))
    x1, y1 = math.log(hi.ratio), math.log(len(hi.codestream))
    if y0 == y1:
        return math.sqrt(lo.ratio * hi.ratio)
    x = x0 + (math.log(target_bytes) - y0) * (x1 - x0) / (y1 - y0)
    margin = 0.05 * (x1 - x0)  # stay strictly inside the bracket
    return math.exp(min(max(x, x0 + margin), x1 - margin))


def _stopped_shrinking(points: list[RatePoint]) -> bool:
    """A higher ratio gave no smaller codestream: only marker overhead is left."""
    if len(points) < 2:
        return False
    before, last = points[-2], points[-1]
    return last.ratio > before.ratio and len(last.codestream) >= len(before.codestream)


def search_rate(
    encode: Callable[[float], bytes], target_bpp: float, pixels: int, first_ratio: float
) -> RatePoint:
    """Encode at ratios converging on ``target_bpp`` and return the closest acceptable point.

    A target above what every coding pass needs yields the full-quality codestream (smaller than
    asked); a target below the marker overhead, or between two coarse coding passes of a tiny
    tile, cannot be met within 10% and is refused with the measured rates nearby.

    Raises:
        RateTargetError: no trial codestream lies within 10% of the target.
    """
    target_bytes = target_bpp * pixels / 8
    points: list[RatePoint] = []
    ratio = min(max(first_ratio, 1.0), _MAX_RATIO)
    for _ in range(_MAX_ENCODES):
        points.append(RatePoint(ratio, encode(ratio)))
        size = len(points[-1].codestream)
        if abs(size - target_bytes) <= _AIM * target_bytes:
            break
        saturated = ratio <= 1.0 and size < target_bytes
        floored = size > target_bytes and (ratio >= _MAX_RATIO or _stopped_shrinking(points))
        if saturated or floored:
            break
        ratio = _next_ratio(points, target_bytes)
    best = min(points, key=lambda p: abs(len(p.codestream) - target_bytes))
    within = abs(len(best.codestream) - target_bytes) <= RATE_TOLERANCE * target_bytes
    all_passes = best.ratio <= 1.0 and len(best.codestream) < target_bytes
    if not (within or all_passes):  # all passes kept: the tile needs less than the target
        _refuse(points, target_bpp, pixels)
    return best


def _refuse(points: list[RatePoint], target_bpp: float, pixels: int) -> None:
    """Say why no trial landed within tolerance: the marker floor, or a jump between passes."""
    measured = sorted(p.bpp(pixels) for p in points)
    if measured[0] > target_bpp:
        raise RateTargetError(
            f"JPEG 2000 cannot reach {target_bpp:.4g} bpp on {pixels} pixels: the smallest "
            f"codestream measured is {measured[0]:.4g} bpp (marker overhead); ask for at least that"
        )
    below = max(b for b in measured if b <= target_bpp)
    above = min((b for b in measured if b > target_bpp), default=None)
    nearest = f"{below:.4g}" + ("" if above is None else f" or {above:.4g}")
    raise RateTargetError(
        f"JPEG 2000 cannot land within {RATE_TOLERANCE:.0%} of {target_bpp:.4g} bpp on {pixels} "
        f"pixels (coding passes are coarse here); the nearest measured are {nearest} bpp"
    )
