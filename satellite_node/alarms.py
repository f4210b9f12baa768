"""The overdue alarm: a scene that has waited more than N passes without a receipt.

Nothing is dropped silently: a scene the link keeps failing to deliver stays in the store and
raises this alarm (``eodl_sat_scenes_overdue`` and ``eodl_sat_overdue_alarm`` on /metrics)
instead of waiting unseen. A pass is an up interval of the link profile that begins after the
scene was created (an outage inside a pass splits it in two and counts twice); a link that is
always up has no passes, so the alarm never fires on it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from satellite_node.link.emulator import LinkEmulator
from satellite_node.link.profile import LinkProfile

MAX_PASSES_COUNTED = 1000  # bounds the walk over the schedule


def passes_between(profile: LinkProfile, t0: float, t1: float) -> int:
    """Number of up intervals of ``profile`` that start in ``(t0, t1]`` (link clock, s)."""
    count, cursor = 0, t0
    for _ in range(MAX_PASSES_COUNTED):
        interval = profile.up_interval(cursor)
        if interval is None or interval[0] > t1:
            break
        start, end = interval
        if start > t0:
            count += 1
        if end == float("inf") or end <= cursor:
            break
        cursor = end
    return count


def overdue_count(
    link: LinkEmulator, created_at: Iterable[float], max_passes: int, now: float | None = None
) -> int:
    """How many scenes (by wall-clock creation time) have waited more than ``max_passes``."""
    wall = time.time() if now is None else now
    link_now = link.elapsed()
    profile = link.profile
    return sum(
        1
        for created in created_at
        if passes_between(profile, link_now - max(0.0, wall - created), link_now) > max_passes
    )
