"""What the charts plot, computed from the ground's transfer records.

The ground records, per transfer, when its first chunk arrived, when it was committed and when
it was processed, and its size. It does not see the link profile or the satellite's queue, so
the link chart shows the throughput *received at the ground* (each transfer's bits spread over
its reception interval) with the contact periods it observed (intervals with data arriving,
merged across gaps shorter than ``CONTACT_GAP_S``), and the queue chart shows the ground's own
queues: transfers being received and transfers committed but not yet processed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

CONTACT_GAP_S = 2.0
THROUGHPUT_BINS = 60


@dataclass(frozen=True)
class TransferPoint:
    """The figures of one transfer the charts use (times are timezone-aware UTC)."""

    transfer_id: str
    task: str
    codec: str
    state: str
    rate_target: str | None
    total_bytes: int
    bpp: float | None
    psnr_db: float | None
    f1_positive: float | None
    created_at: datetime
    first_chunk_at: datetime | None
    committed_at: datetime | None
    processed_at: datetime | None


@dataclass(frozen=True)
class RateCurve:
    """One codec's points on one task's chart: every transfer, and the mean per rate target."""

    codec: str
    bpp: list[float]
    values: list[float]
    mean_bpp: list[float]
    mean_values: list[float]
    has_targets: bool


@dataclass(frozen=True)
class LinkActivity:
    """Received throughput per time bin and the observed contact periods."""

    bin_starts: list[datetime]
    bin_seconds: float
    kbit_s: list[float]
    contacts: list[tuple[datetime, datetime]]


def utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes; they are UTC by construction."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def rate_curves(points: list[TransferPoint], metric: str) -> dict[str, list[RateCurve]]:
    """Per task, per codec: ``metric`` (``psnr_db`` or ``f1_positive``) against bpp.

    Only processed transfers with both figures count; means are taken per rate target (the
    line then runs through one mean per target, like the paper's rate points).
    """
    grouped: dict[tuple[str, str], list[TransferPoint]] = defaultdict(list)
    for point in points:
        if (
            point.state == "processed"
            and point.bpp is not None
            and getattr(point, metric) is not None
        ):
            grouped[(point.task, point.codec)].append(point)
    curves: dict[str, list[RateCurve]] = defaultdict(list)
    for (task, codec), members in sorted(grouped.items()):
        by_target: dict[str, list[TransferPoint]] = defaultdict(list)
        for point in members:  # without a recorded target, each transfer is its own point
            by_target[point.rate_target or f"transfer:{point.transfer_id}"].append(point)
        means = sorted(
            (
                float(np.mean([p.bpp for p in group])),
                float(np.mean([getattr(p, metric) for p in group])),
            )
            for group in by_target.values()
        )
        curves[task].append(
            RateCurve(
                codec=codec,
                bpp=[float(p.bpp) for p in members],  # type: ignore[arg-type]
                values=[float(getattr(p, metric)) for p in members],
                mean_bpp=[m[0] for m in means],
                mean_values=[m[1] for m in means],
                has_targets=any(p.rate_target for p in members),
            )
        )
    return dict(curves)


def _reception(points: list[TransferPoint]) -> list[tuple[datetime, datetime, int]]:
    spans = []
    for point in points:
        if point.committed_at is None:
            continue
        start = utc(point.first_chunk_at or point.created_at)
        spans.append((start, max(start, utc(point.committed_at)), point.total_bytes))
    return sorted(spans)


def contacts(
    spans: list[tuple[datetime, datetime, int]], gap_s: float = CONTACT_GAP_S
) -> list[tuple[datetime, datetime]]:
    """Merge reception intervals whose gaps are shorter than ``gap_s`` into contact periods."""
    merged: list[tuple[datetime, datetime]] = []
    for start, stop, _size in sorted(spans):
        if merged and (start - merged[-1][1]).total_seconds() < gap_s:
            merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
        else:
            merged.append((start, stop))
    return merged


def link_activity(points: list[TransferPoint], bins: int = THROUGHPUT_BINS) -> LinkActivity | None:
    """Received throughput over time; None before any transfer has been committed."""
    spans = _reception(points)
    if not spans:
        return None
    t0 = min(s for s, _, _ in spans)
    t1 = max(e for _, e, _ in spans)
    total_s = max((t1 - t0).total_seconds(), 1.0)
    width = total_s / bins
    bits = np.zeros(bins)
    for start, stop, size in spans:
        a, b = (start - t0).total_seconds(), (stop - t0).total_seconds()
        if b - a < 1e-6:
            bits[min(int(a / width), bins - 1)] += size * 8
            continue
        edges = np.arange(bins + 1) * width
        overlap = np.clip(np.minimum(edges[1:], b) - np.maximum(edges[:-1], a), 0.0, None)
        bits += size * 8 * overlap / (b - a)
    starts = [t0 + timedelta(seconds=i * width) for i in range(bins)]
    return LinkActivity(starts, width, list(bits / width / 1000.0), contacts(spans))


def queue_depth(
    points: list[TransferPoint], now: datetime
) -> tuple[list[datetime], list[int], list[int]]:
    """Step series of the ground's queues: (times, receiving, awaiting processing).

    A transfer is receiving from its first chunk (or creation) to its commit, and awaits
    processing from its commit until it is processed or failed (or ``now``).
    """
    events: list[tuple[datetime, int, int]] = []
    for point in points:
        start = utc(point.first_chunk_at or point.created_at)
        committed = utc(point.committed_at) if point.committed_at else None
        events.append((start, 1, 0))
        events.append((committed or now, -1, 0))
        if committed is not None:
            events.append((committed, 0, 1))
            events.append((utc(point.processed_at) if point.processed_at else now, 0, -1))
    times, receiving, waiting = [], [], []
    level_r = level_w = 0
    for when, d_r, d_w in sorted(events, key=lambda e: (e[0], e[1] + e[2])):
        level_r += d_r
        level_w += d_w
        times.append(when)
        receiving.append(level_r)
        waiting.append(level_w)
    return times, receiving, waiting
