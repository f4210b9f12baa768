"""A learned codec beside JPEG 2000 on one scene set: its rate points, JPEG 2000 at the same
payload rates, and the Bjontegaard deltas where they mean something (issue 17's table).

A scene set is held-out generated scenes (a folder from a seed never trained on) or the real
samples of ``../shared/data``; each point is measured on real bitstreams by
:func:`workbench.training.evaluate.measure_rate_point`. BD figures are the learned codec's
against JPEG 2000 (negative BD-rate: fewer bits at equal PSNR), on payload bpp first and on
container bpp beside it, or "n/a" with the reason (:mod:`shared.metrics.bdrate`).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shared.codecs.base import RateTarget
from shared.errors import ConfigurationError, RateTargetError
from workbench.training.evaluate import codec_targets, iter_scenes, measure_rate_point

REFERENCE = "jpeg2000"
Scenes = Callable[[], Iterable[tuple[str, np.ndarray, np.ndarray]]]


@dataclass(frozen=True)
class Comparison:
    """One scene set's figures: ``points`` of the codec, ``reference`` JPEG 2000 points at the
    same payload rates (those it can reach), ``bd`` the deltas or why there are none."""

    scene_set: str
    points: list[dict[str, Any]]
    reference: list[dict[str, Any]] = field(default_factory=list)
    bd: dict[str, float | str] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """Every rate point, learned then reference, each tagged with its scene set."""
        return [{**p, "set": self.scene_set} for p in self.points + self.reference]


def heldout(data_dir: Path | str, limit: int | None) -> Scenes:
    """The scenes of a generated folder (all of it: held-out folders are never trained on)."""
    return lambda: iter_scenes(data_dir, limit)


def real(root: Path, task: str) -> Scenes:
    """The task's real samples (``../shared/data``), masks where they have one."""
    from workbench.datasets.samples import task_samples

    def scenes() -> Iterable[tuple[str, np.ndarray, np.ndarray]]:
        for sample in task_samples(root, task):
            mask = sample.mask if sample.mask is not None else np.zeros(sample.image.shape[1:])
            yield sample.scene_id, sample.image, mask

    return scenes


def compare(
    codec: str,
    task: str,
    scene_set: str,
    scenes: Scenes,
    targets: list[RateTarget],
    checkpoints: Any = None,
    reference: str | None = REFERENCE,
) -> Comparison:
    """Measure ``codec`` at each target on the scenes, then ``reference`` at the payload rates
    it reached (and above, :func:`reference_rates`; below, until its PSNR reaches the codec's
    lowest, :func:`_extend_down`; between, where its PSNR jumps inside the codec's range,
    :func:`_fill_gaps`), and the deltas between them."""
    points = [p for p in (_reach(codec, task, scenes, t, checkpoints) for t in targets) if p]
    if not points:
        raise RateTargetError(f"{codec} reached none of its rate targets on the {scene_set} set")
    if reference is None or reference == codec:
        return Comparison(scene_set, points)
    rates = reference_rates([p["payload_bpp"] for p in points])
    matched = [RateTarget(bpp=rate) for rate in rates]
    theirs = [p for p in (_reach(reference, task, scenes, t, None) for t in matched) if p]
    psnrs = [p["psnr_db"] for p in points]
    theirs = _extend_down(reference, task, scenes, theirs, min(psnrs))
    theirs = _fill_gaps(reference, task, scenes, theirs, (min(psnrs), max(psnrs)))
    return Comparison(scene_set, points, theirs, bd_figures(points, theirs))


def _extend_down(
    reference: str,
    task: str,
    scenes: Scenes,
    theirs: list[dict[str, Any]],
    floor_db: float,
    steps: int = 3,
) -> list[dict[str, Any]]:
    """Halve the reference's lowest rate until its PSNR falls to the codec's lowest
    (``floor_db``), at most ``steps`` times: where the reference is ahead at the codec's lowest
    rate, its curve would otherwise start above the codec's and the overlap the BD figures
    integrate over would be cut short at the bottom. Stops at a rate it cannot reach."""
    out = sorted(theirs, key=lambda p: p["payload_bpp"])
    for _ in range(steps):
        if not out or out[0]["psnr_db"] <= floor_db:
            break
        lower = _reach(reference, task, scenes, RateTarget(bpp=out[0]["payload_bpp"] / 2), None)
        if lower is None or lower["payload_bpp"] >= out[0]["payload_bpp"]:
            break
        out.insert(0, lower)
    return out


GAP_DB = 4.0  # a reference PSNR jump inside the codec's range that _fill_gaps measures into


def reference_rates(payload_bpps: list[float], spacing: float = 1.05) -> list[float]:
    """The reference's payload targets: the codec's own rates, then twice and four times the
    highest, so that its PSNR range reaches the codec's (JPEG 2000 needs more bits for the same
    PSNR where the learned codec is ahead, and BD figures integrate over the overlap only).
    Rates within ``spacing`` of the previous one are dropped: two targets 1 % apart measure
    rate control's noise, which can make the reference curve turn back."""
    top = max(payload_bpps)
    out: list[float] = []
    for rate in sorted({*payload_bpps, 2.0 * top, 4.0 * top}):
        if not out or rate >= out[-1] * spacing:
            out.append(rate)
    return out


def evaluate_codec(
    codec: str,
    data_dir: Path | str,
    root: Path | None = None,
    limit: int | None = None,
    real_root: Path | None = None,
    against: str | None = REFERENCE,
) -> list[Comparison]:
    """The codec on a held-out folder (and the task's real samples under ``real_root``), beside
    ``against`` at the same payload rates (None: alone)."""
    from workbench.training.data import folder_task

    task = folder_task(data_dir)
    targets, store = codec_targets(codec, task, root)
    sets = [("held-out", heldout(data_dir, limit))]
    if real_root is not None:
        sets.append(("real", real(Path(real_root), task)))
    return [compare(codec, task, name, scenes, targets, store, against) for name, scenes in sets]


def comparison_json(comparisons: list[Comparison], reference: str | None) -> dict[str, Any]:
    """``{"points": [one object per rate point, tagged with its set], "bd": [per set]}``."""
    keys = ("codec", "quality", "payload_bpp", "bpp", "bits_per_sample", "psnr_db", "scenes")
    points = [{k: p[k] for k in (*keys, "set")} for c in comparisons for p in c.rows()]
    bd = [{"set": c.scene_set, "against": reference, **c.bd} for c in comparisons if c.bd]
    return {"points": points, "bd": bd}


def _fill_gaps(
    reference: str,
    task: str,
    scenes: Scenes,
    theirs: list[dict[str, Any]],
    span_db: tuple[float, float],
    rounds: int = 3,
) -> list[dict[str, Any]]:
    """Measure the reference at the geometric middle of two neighbouring rates whose PSNRs
    differ by more than :data:`GAP_DB` where that jump reaches into the codec's PSNR range
    (``span_db``), up to ``rounds`` times: an interpolation across such a jump (JPEG 2000 on 10
    bands falls from 27.8 to 4.5 dB between 0.24 and 0.07 bpp) decides the BD figures at that
    end of the overlap, a measured point does not."""
    out = sorted(theirs, key=lambda p: p["payload_bpp"])
    for _ in range(rounds):
        middles = [
            (low["payload_bpp"] * high["payload_bpp"]) ** 0.5
            for low, high in zip(out, out[1:], strict=False)
            if high["psnr_db"] - low["psnr_db"] > GAP_DB
            and high["psnr_db"] > span_db[0]
            and low["psnr_db"] < span_db[1]
        ]
        found = [_reach(reference, task, scenes, RateTarget(bpp=rate), None) for rate in middles]
        new = [p for p in found if p is not None and _apart(p, out)]
        if not new:
            break
        out = sorted(out + new, key=lambda p: p["payload_bpp"])
    return out


def _apart(point: dict[str, Any], others: list[dict[str, Any]], spacing: float = 1.05) -> bool:
    """True when ``point``'s rate is more than ``spacing`` times away from every other's."""
    rate = point["payload_bpp"]
    return all(max(rate, o["payload_bpp"]) > spacing * min(rate, o["payload_bpp"]) for o in others)


def bd_figures(
    points: list[dict[str, Any]], anchor: list[dict[str, Any]]
) -> dict[str, float | str]:
    """BD-rate (%) on payload and container bpp and BD-PSNR (dB) on payload bpp of ``points``
    against ``anchor``, each with one cubic per curve (VCEG-M33) and piecewise (``_pchip``
    keys: monotone cubic Hermite, as the JCT-VC common test conditions); "n/a (reason)" where
    a delta is undefined."""
    from shared.metrics.bdrate import bd_psnr, bd_rate

    out: dict[str, float | str] = {}
    for key, rate, delta, method in (
        ("bd_rate_payload_pct", "payload_bpp", bd_rate, "cubic"),
        ("bd_psnr_payload_db", "payload_bpp", bd_psnr, "cubic"),
        ("bd_rate_container_pct", "bpp", bd_rate, "cubic"),
        ("bd_rate_payload_pchip_pct", "payload_bpp", bd_rate, "pchip"),
        ("bd_psnr_payload_pchip_db", "payload_bpp", bd_psnr, "pchip"),
        ("bd_rate_container_pchip_pct", "bpp", bd_rate, "pchip"),
    ):
        try:
            out[key] = round(
                delta(
                    [a[rate] for a in anchor],
                    [a["psnr_db"] for a in anchor],
                    [p[rate] for p in points],
                    [p["psnr_db"] for p in points],
                    method=method,
                ),
                2,
            )
        except ConfigurationError as exc:  # UndefinedDeltaError: short, non-monotone, no overlap
            out[key] = f"n/a ({exc})"
    return out


def bpp_accuracy(
    codec: str, task: str, scenes: Scenes, targets: list[float], checkpoints: Any = None
) -> list[dict[str, Any]]:
    """How close ``--bpp`` targets land (payload bpp), scene by scene.

    A scene whose lowest rate point (quality 1) is already above a target, or whose highest
    (quality 6) is below it, lies outside the covered range for it: counted apart, not as a
    miss. Returns one record per target:
    ``target_bpp``, ``scenes``, ``outside_range``, ``within_10pct`` (fraction of the scenes
    inside the range), ``mean_error_pct`` and ``max_abs_error_pct`` (signed mean, worst).
    """
    from shared.compression import compress_raster
    from shared.sensors.profiles import get_profile

    profile = get_profile(task)
    common = {"codec": codec, "scale": profile.global_max, "bit_depth": profile.bit_depth}
    out = []
    for target in targets:
        errors, outside = [], 0
        for _, image, _ in scenes():
            scene = compress_raster(
                image, target=RateTarget(bpp=target), checkpoints=checkpoints, **common
            )
            error = scene.payload_bpp / target - 1.0
            if abs(error) > 0.10:  # beyond the scene's lowest or highest rate point?
                end = RateTarget(quality=1 if error > 0 else 6)
                bound = compress_raster(image, target=end, checkpoints=checkpoints, **common)
                if (bound.payload_bpp - target) * error > 0:
                    outside += 1
                    continue
            errors.append(error)
        inside = np.array(errors) if errors else np.zeros(0)
        out.append(
            {
                "target_bpp": target,
                "scenes": len(errors) + outside,
                "outside_range": outside,
                "within_10pct": float((np.abs(inside) <= 0.10).mean()) if errors else math.nan,
                "mean_error_pct": float(100 * inside.mean()) if errors else math.nan,
                "max_abs_error_pct": float(100 * np.abs(inside).max()) if errors else math.nan,
            }
        )
    return out


def _measure(
    codec: str, task: str, scenes: Scenes, target: RateTarget, checkpoints: Any
) -> dict[str, Any]:
    point = measure_rate_point(codec, task, "", target, checkpoints=checkpoints, scenes=scenes())
    point["target_bpp"] = target.bpp
    return point


def _reach(
    codec: str, task: str, scenes: Scenes, target: RateTarget, checkpoints: Any
) -> dict[str, Any] | None:
    try:
        return _measure(codec, task, scenes, target, checkpoints)
    except RateTargetError as exc:  # e.g. markers alone exceed the target on 32 x 32 patches
        wanted = f"{target.bpp:.3g} bpp" if target.bpp is not None else f"quality {target.quality}"
        print(f"{codec}: {wanted} unreachable ({exc})", file=sys.stderr)
        return None
