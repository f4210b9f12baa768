"""Region-of-interest coding at equal total bytes: F1 and PSNR inside and outside the ROI.

Per task with an onboard detector (fire: MWIR threshold, cloud: LWIR threshold) and per codec
of ``settings.roi_codecs``, every held-out scene is sent twice: plainly (``roi`` 0) into the
budget's total container bytes (header, metadata and payload: what crosses the link), then
with the detector's mask as ROI (``roi`` 1) into exactly the bytes its plain container took,
so each pair is at equal bytes scene by scene. JPEG 2000 (continuous rate) lands within
:data:`MATCH_TOLERANCE` of a budget; a learned codec (one rate per trained checkpoint) takes
the largest container that fits it. A scene whose detector finds nothing, or marks all of it,
is sent plainly in both rows, as the satellite would. F1 is that of the ground's segmenter (the
shipped U-Net) on the decoded scenes; PSNR (shared.metrics, data normalised by the profile's
global max) is pooled over the pixels of the coded ROI (its block grid, what the container
records) and over the rest.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from shared.codecs.base import RateTarget
from shared.errors import CheckpointError, RateTargetError
from workbench.experiments.data import ensure_task_data
from workbench.experiments.runner import ResultsTable, Workspace
from workbench.experiments.settings import RunSettings
from workbench.experiments.training import device

COLUMNS = (
    "task",
    "codec",
    "roi",
    "total_bytes",
    "bpp",
    "f1_positive",
    "psnr_roi_db",
    "psnr_background_db",
)
KEY = ("task", "codec", "roi", "total_bytes")
#: Each coded scene lands within this share of its byte budget (or the pair is not reported).
MATCH_TOLERANCE = 0.03
_MAX_ATTEMPTS = 6


def table(out: Path) -> ResultsTable:
    """``roi.csv`` of an output folder."""
    return ResultsTable(out / "roi.csv", COLUMNS, KEY)


@functools.cache
def ground_segmenter(task: str) -> Any:
    """The shipped U-Net of a task (what the ground station runs), on cuda when present; loaded
    once per process.

    Raises:
        CheckpointError: no shipped segmenter for the task.
    """
    from shared.models.segmentation import load_segmenter, shipped_segmenter_root

    segmenter = load_segmenter(task, device=device())
    if segmenter is None:
        raise CheckpointError(
            f"no shipped {task} segmenter in {shipped_segmenter_root()}; train one with "
            f"`eodl train segmenter --task {task} ...` into that folder"
        )
    return segmenter


def codec_store(codec: str, task: str) -> Any:
    """The checkpoint store of a learned codec (the task's shipped weights); None otherwise."""
    from shared.codecs.learned.checkpoint import CheckpointStore
    from shared.codecs.registry import codec_info
    from workbench.training.evaluate import shipped_codec_root

    if codec_info(codec).kind != "learned":
        return None
    return CheckpointStore(roots=[shipped_codec_root(task)])


def encode_at_total_bytes(
    raster: np.ndarray, task: str, codec: str, total_bytes: int, **compress: Any
) -> Any:
    """Compress a scene into ``total_bytes`` of container (header, metadata and payload).

    JPEG 2000's rate is continuous: the container lands within :data:`MATCH_TOLERANCE` of
    the budget. A learned codec's rates are its trained checkpoints: the largest container that
    fits the budget is kept (plain: over every shipped quality level; with an ROI:
    compress_raster's own fit to the budget).

    Args:
        raster: the scene. Shape: (C, H, W).
        **compress: passed to :func:`shared.compression.compress_raster` (roi_mask, ...).

    Returns:
        The :class:`shared.compression.CompressedScene`.

    Raises:
        RateTargetError: the budget cannot be met (see above).
    """
    from shared.codecs.registry import codec_info

    if codec_info(codec).kind == "learned":
        return _fit_bytes(raster, task, codec, total_bytes, **compress)
    return _match_bytes(raster, task, codec, total_bytes, **compress)


def _fit_bytes(raster: np.ndarray, task: str, codec: str, total_bytes: int, **compress: Any) -> Any:
    """The largest container of a learned codec that fits ``total_bytes``."""
    from shared.compression import compress_raster
    from shared.sensors.profiles import get_profile
    from workbench.training.evaluate import shipped_rate_points

    profile = get_profile(task)
    common = {"codec": codec, "scale": profile.global_max, "bit_depth": profile.bit_depth}
    if compress.get("roi_mask") is not None:
        bpp = total_bytes * 8 / (raster.shape[-2] * raster.shape[-1])
        tries = [compress_raster(raster, target=RateTarget(bpp=bpp), **common, **compress)]
    else:
        entries, _ = shipped_rate_points(codec, task)
        tries = [
            compress_raster(raster, target=RateTarget(quality=e.quality), **common, **compress)
            for e in entries
        ]
    fits = [t for t in tries if t.header.rate_bytes <= total_bytes]
    if not fits:
        sizes = sorted(t.header.rate_bytes for t in tries)
        raise RateTargetError(
            f"no {codec} container of a {task} scene fits {total_bytes} bytes (sizes {sizes}); "
            "choose a higher budget"
        )
    return max(fits, key=lambda t: t.header.rate_bytes)


def _match_bytes(
    raster: np.ndarray, task: str, codec: str, total_bytes: int, **compress: Any
) -> Any:
    """Compress so that the whole container is ``total_bytes`` long (within the tolerance).

    The bpp target is corrected by the measured miss after each try (container bytes, not
    payload bytes, so header, metadata and any ROI record are paid from the same budget).

    Args:
        raster: the scene. Shape: (C, H, W).
        **compress: passed to :func:`shared.compression.compress_raster` (roi_mask, ...).

    Returns:
        The :class:`shared.compression.CompressedScene` closest to the budget.

    Raises:
        RateTargetError: no try landed within :data:`MATCH_TOLERANCE` of ``total_bytes``.
    """
    from shared.compression import compress_raster
    from shared.sensors.profiles import get_profile

    profile = get_profile(task)
    pixels = raster.shape[-2] * raster.shape[-1]
    guess = max(total_bytes * 0.6, 16.0) * 8 / pixels
    best, misses = None, []
    for _ in range(_MAX_ATTEMPTS):
        try:
            scene = compress_raster(
                raster,
                codec=codec,
                target=RateTarget(bpp=guess),
                scale=profile.global_max,
                bit_depth=profile.bit_depth,
                **compress,
            )
        except RateTargetError:
            guess *= 1.25  # below the marker floor: aim higher
            continue
        miss = scene.header.rate_bytes - total_bytes
        misses.append(miss)
        if best is None or abs(miss) < abs(best.header.rate_bytes - total_bytes):
            best = scene
        if abs(miss) <= 0.005 * total_bytes:
            break
        guess = max(guess - miss * 8 / pixels, 1e-3)
    if best is None or abs(best.header.rate_bytes - total_bytes) > MATCH_TOLERANCE * total_bytes:
        raise RateTargetError(
            f"{codec} cannot code a {task} scene into {total_bytes} container bytes within "
            f"{MATCH_TOLERANCE:.0%} (misses {misses} bytes); choose another budget"
        )
    return best


def _pooled_psnr(pairs: list[tuple[np.ndarray, np.ndarray]], scale: float) -> float:
    """PSNR over the pixels of every scene together (NaN when there are none)."""
    from shared.metrics.distortion import psnr_db

    pairs = [(ref, rec) for ref, rec in pairs if ref.size]
    if not pairs:
        return math.nan
    ref = np.concatenate([p[0] for p in pairs], axis=-1)
    rec = np.concatenate([p[1] for p in pairs], axis=-1)
    return psnr_db(ref, rec, scale)


def _code_scenes(
    ws: Workspace,
    task: str,
    codec: str,
    budgets: list[int] | float,
    use_roi: bool,
    settings: RunSettings,
) -> tuple[dict[str, Any], list[int]]:
    """One row: every held-out scene coded into its byte budget, with or without its ROI.

    Args:
        budgets: container bytes per scene, or one bpp that gives every scene its budget.

    Returns:
        The row and each scene's container bytes.
    """
    from satellite_node.detectors import detect_roi
    from shared.compression import decompress_container
    from shared.metrics.segmentation import f1_positive
    from shared.roi.masks import block_mask
    from shared.sensors.profiles import get_profile
    from workbench.datasets.dataset import normalise
    from workbench.training.evaluate import iter_scenes

    profile, segmenter, store = get_profile(task), ground_segmenter(task), codec_store(codec, task)
    _, test = ensure_task_data(ws, task, settings)
    sizes, pixels, truths, preds, inside, outside = [], 0, [], [], [], []
    for k, (_scene_id, image, mask) in enumerate(iter_scenes(test, settings.roi_limit)):
        detected = detect_roi(task, image)
        coded = block_mask(detected).pixels()
        roi = detected if use_roi and coded.any() and not coded.all() else None
        area = image.shape[1] * image.shape[2]
        budget = budgets[k] if isinstance(budgets, list) else round(budgets * area / 8)
        scene = encode_at_total_bytes(
            image,
            task,
            codec,
            budget,
            roi_mask=roi,
            checkpoints=store,
        )
        decoded = decompress_container(scene.container, checkpoints=store).raster
        sizes.append(scene.header.rate_bytes)
        pixels += area
        truths.append(mask)
        preds.append(segmenter.predict(normalise(decoded, profile)))
        inside.append((image[:, coded], decoded[:, coded]))
        outside.append((image[:, ~coded], decoded[:, ~coded]))
    row = {
        "task": task,
        "codec": codec,
        "roi": int(use_roi),
        "total_bytes": sum(sizes),
        "bpp": sum(sizes) * 8 / pixels,
        "f1_positive": f1_positive(np.stack(truths), np.stack(preds)),
        "psnr_roi_db": _pooled_psnr(inside, profile.global_max),
        "psnr_background_db": _pooled_psnr(outside, profile.global_max),
    }
    return row, sizes


def _pair_path(ws: Workspace, task: str, codec: str, bpp: float) -> Path:
    return ws.work / "roi" / task / f"{codec}-{bpp:g}bpp.json"


def _coded_pair(
    ws: Workspace, task: str, codec: str, bpp: float, settings: RunSettings, seen: set[int]
) -> list[dict[str, Any]]:
    """Plain at the budget, then ROI into each scene's plain container bytes (equal bytes
    scene by scene); nothing when the plain row repeats a lower budget's (a learned codec's
    largest checkpoint is below this budget).

    Raises:
        RateTargetError: a scene cannot be coded into its budget; the message says why.
    """
    plain, sizes = _code_scenes(ws, task, codec, bpp, False, settings)
    if plain["total_bytes"] in seen:
        raise RateTargetError(
            f"{codec}'s plain containers are those of a lower budget ({plain['total_bytes']} "
            "bytes): its largest rate point is below this budget"
        )
    coded, _ = _code_scenes(ws, task, codec, sizes, True, settings)
    return [plain, coded]


def roi_pair(
    ws: Workspace,
    task: str,
    codec: str,
    bpp: float,
    settings: RunSettings,
    seen: set[int] | None = None,
) -> list[dict[str, Any]]:
    """The (plain, ROI) rows of one budget, computed once and kept under ``OUT/work/roi/``.

    Args:
        seen: plain totals of this task and codec at lower budgets (a repeat gives no rows).

    An unreachable budget yields no rows; why is kept beside them (see :func:`skipped`).
    """
    path = _pair_path(ws, task, codec, bpp)
    if path.is_file():
        return list(json.loads(path.read_text())["rows"])
    rows, reason = [], None
    try:
        rows = _coded_pair(ws, task, codec, bpp, settings, seen or set())
    except RateTargetError as exc:
        reason = str(exc)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"rows": rows, "skipped": reason}, indent=1) + "\n")
    return rows


def skipped(out: Path) -> list[str]:
    """``TASK CODEC BPP: why`` for every budget of ``OUT`` that gave no rows."""
    found = []
    for path in sorted((Workspace(out).work / "roi").glob("*/*.json")):
        reason = json.loads(path.read_text()).get("skipped")
        if reason:
            found.append(f"{path.parent.name} {path.stem}: {reason}")
    return found


def run_roi(out: Path, tasks: tuple[str, ...], settings: RunSettings) -> ResultsTable:
    """Plain against ROI coding at equal total bytes per task, codec and budget; resumes."""
    ws, results = Workspace(out), table(out)
    work = [
        (task, codec, bpp)
        for task in tasks
        if task in settings.roi_tasks
        for codec in settings.roi_codecs
        for bpp in settings.roi_bpps[task]
    ]
    seen: dict[tuple[str, str], set[int]] = {}
    for task, codec, bpp in tqdm(work, desc="roi", unit="budget"):
        totals = seen.setdefault((task, codec), set())
        for row in roi_pair(ws, task, codec, bpp, settings, totals):
            totals.update([row["total_bytes"]] if row["roi"] == 0 else [])
            if not results.has(**{k: row[k] for k in KEY}):
                results.append(row)
    return results
