"""Which codec encodes a scene: the one asked for, or for ``auto`` the best measured on its profile.

``auto`` turns the paper's conclusion into a policy driven by data: among the trained
learned-codec checkpoints whose manifests carry measured ``bpp`` and ``psnr_db`` on the scene's
task, the one with the best PSNR within the rate asked for wins; with none measured (or for
lossless, which the learned codecs are not), JPEG 2000 is used and the reason is logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.codecs.base import RateTarget
from shared.codecs.registry import all_codecs
from shared.sensors.profiles import get_profile

LOG = logging.getLogger(__name__)
FALLBACK_CODEC = "jpeg2000"
BPP_SLACK = 1.1  # a checkpoint measured up to 10% above the asked rate still qualifies


@dataclass(frozen=True)
class CodecChoice:
    """The codec to use and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class MeasuredPoint:
    """One trained checkpoint's measured rate-distortion on a task."""

    codec: str
    quality: int
    bpp: float
    psnr_db: float


def open_checkpoints(checkpoints_dir: Path | None) -> Any:
    """The learned-codec checkpoint store (``checkpoints_dir`` first, then the shipped ones)."""
    from shared.codecs.learned.checkpoint import CheckpointStore

    return CheckpointStore(checkpoints_dir)


def measured_points(checkpoints: Any, task: str) -> list[MeasuredPoint]:
    """Every trained checkpoint for ``task``'s band count whose manifest has bpp and PSNR."""
    bands = get_profile(task).bands
    points = []
    for info in all_codecs():
        if not info.capabilities.weights:
            continue
        for stored in checkpoints.candidates(info.name, bands):
            manifest = stored.manifest
            if not (manifest.trained and manifest.task == task):
                continue
            for quality in manifest.qualities:
                metrics = manifest.metrics_at(quality)
                if {"bpp", "psnr_db"} <= set(metrics):
                    bpp, psnr_db = float(metrics["bpp"]), float(metrics["psnr_db"])
                    points.append(MeasuredPoint(info.name, quality, bpp, psnr_db))
    return points


def _pool(points: list[MeasuredPoint], target: RateTarget) -> list[MeasuredPoint]:
    if target.quality is not None:
        return [p for p in points if p.quality == target.quality] or points
    if target.bpp is not None:
        within = [p for p in points if p.bpp <= target.bpp * BPP_SLACK]
        return within or [min(points, key=lambda p: p.bpp)]
    return points


def choose_codec(requested: str, task: str, checkpoints: Any, target: RateTarget) -> CodecChoice:
    """Resolve ``requested`` (a codec name or ``auto``) for a scene of ``task`` at ``target``."""
    if requested != "auto":
        return CodecChoice(requested, "requested by the upload")
    if target.lossless:
        return CodecChoice(FALLBACK_CODEC, "lossless asked: only jpeg2000 codes losslessly")
    points = measured_points(checkpoints, task) if checkpoints is not None else []
    if not points:
        reason = f"no learned checkpoint has measured metrics on {task}; using {FALLBACK_CODEC}"
        LOG.info("codec auto: %s", reason)
        return CodecChoice(FALLBACK_CODEC, reason)
    best = max(_pool(points, target), key=lambda p: (p.psnr_db, -p.bpp))
    return CodecChoice(
        best.codec,
        f"best measured on {task}: {best.codec} q{best.quality} at {best.bpp:.3f} bpp, "
        f"{best.psnr_db:.2f} dB",
    )
