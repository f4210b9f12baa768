"""The next pass's byte budget from a link profile, and candidates with real container sizes."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from satellite_node.link.profile import LinkProfile
from satellite_node.planner.allocator import Candidate
from satellite_node.planner.curves import CurveBook
from shared.codecs.base import RateTarget
from shared.compression import compress_raster
from shared.errors import RateTargetError

DEFAULT_HORIZON_S = 600.0  # an always-up link is planned this far ahead


def next_pass(
    profile: LinkProfile, now_s: float, horizon_s: float = DEFAULT_HORIZON_S
) -> tuple[float, float] | None:
    """(start, end) of the pass under way at ``now_s`` or the next one, on the link's clock."""
    interval = profile.up_interval(now_s)
    if interval is None:
        return None
    start = interval[0]
    if profile.pass_duration_s is not None and profile.pass_period_s is not None:
        k = math.floor((start - profile.pass_offset_s) / profile.pass_period_s)
        end = profile.pass_offset_s + k * profile.pass_period_s + profile.pass_duration_s
    elif profile.windows:
        end = min((w.end_s for w in profile.windows if w.start_s <= start < w.end_s), default=start)
    else:
        end = start + horizon_s
    return start, min(end, start + horizon_s)


def pass_budget_bytes(
    profile: LinkProfile, now_s: float, horizon_s: float = DEFAULT_HORIZON_S
) -> int:
    """Bytes the next pass can carry: link rate times its up time, outages removed."""
    window = next_pass(profile, now_s, horizon_s)
    if window is None:
        return 0
    return int(profile.bytes_per_s * profile.up_time_between(*window))


def measured_candidates(
    raster: np.ndarray,
    task: str,
    options: Iterable[tuple[str, float]],
    curves: CurveBook,
    **compress: Any,
) -> tuple[Candidate, ...]:
    """Encode ``raster`` at each (codec, bpp) and keep the real container sizes.

    Targets a codec cannot reach (below its marker floor) are skipped.

    Args:
        raster: the scene, (C, H, W).
        task: the scene's task (selects the F1 curve).
        options: (codec, target bpp) pairs to try.
        curves: the F1-vs-bpp curves.
        **compress: passed to :func:`shared.compression.compress_raster` (scale, bit_depth, ...).
    """
    out = []
    for codec, target_bpp in options:
        try:
            scene = compress_raster(
                raster, codec=codec, target=RateTarget(bpp=target_bpp), **compress
            )
        except RateTargetError:
            continue
        f1 = curves.f1_at(task, codec, scene.bpp)
        out.append(Candidate(codec, scene.bpp, len(scene.container), f1, measured=True))
    return tuple(out)
