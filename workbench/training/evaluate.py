"""Evaluation on real bitstreams: codec rate points (bpp, bits per sample, PSNR) and segmenter F1.

Every rate figure here is measured from the bytes :func:`shared.compression.compress_raster`
writes (container bits over H x W, the payload-only figure beside it); estimates from the
likelihoods appear only where labelled ``bpp_estimate``.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shared.codecs.base import RateTarget
from shared.errors import CheckpointError

JPEG2000_DEFAULT_BPPS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)


def shipped_codec_root(task: str) -> Path:
    """Folder of the shipped learned-codec checkpoints for a task (one store root per task,
    because fire and cloud share a band count)."""
    from shared.codecs.learned.checkpoint import packaged_checkpoints_dir

    return packaged_checkpoints_dir() / "codec" / task


def iter_scenes(
    data_dir: Path | str, limit: int | None = None, split: str = "all"
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(scene_id, raster (C, H, W) in its stored dtype, mask (H, W) uint8) of a folder's split
    (``all``, or the training folder's ``val`` share as :mod:`workbench.training.data` splits
    it)."""
    from workbench.datasets.dataset import SceneDataset
    from workbench.training.data import TRAIN_FRACTIONS

    scenes = SceneDataset(Path(data_dir), split, fractions=TRAIN_FRACTIONS)  # type: ignore[arg-type]
    count = len(scenes) if limit is None else min(limit, len(scenes))
    for position in range(count):
        image, mask = scenes.load(position)
        yield scenes.scene_ids[position], image, mask


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.inf


def measure_rate_point(
    codec: str,
    task: str,
    data_dir: Path | str,
    target: RateTarget,
    checkpoints: Any = None,
    limit: int | None = None,
    split: str = "all",
    segmenter: Any = None,
    scenes: Iterable[tuple[str, np.ndarray, np.ndarray]] | None = None,
) -> dict[str, Any]:
    """Compress every scene of a folder for real and average the figures.

    Args:
        segmenter: when given, it also segments each decoded scene and the pooled
            ``f1_positive`` and ``f1_macro`` are added (one compression serves both).
        scenes: (scene_id, raster, mask) to use instead of the folder's (e.g. real samples).

    Returns:
        ``{"codec", "quality", "bpp", "bits_per_sample", "payload_bpp", "psnr_db", "scenes"}``:
        bpp from the containers' bytes, PSNR on [0, 1] data (mean over scenes).
    """
    from shared.compression import compress_raster
    from shared.sensors.profiles import get_profile

    profile = get_profile(task)
    rows: dict[str, list[float]] = {
        "bpp": [],
        "bits_per_sample": [],
        "payload_bpp": [],
        "psnr_db": [],
    }
    truths, preds = [], []
    for _scene_id, image, mask in scenes or iter_scenes(data_dir, limit, split):
        scene = compress_raster(
            image,
            codec=codec,
            target=target,
            scale=profile.global_max,
            bit_depth=profile.bit_depth,
            checkpoints=checkpoints,
        )
        for key in rows:
            rows[key].append(float(getattr(scene, key)))
        if segmenter is not None:
            preds.append(segmenter.predict(_unit(scene.reconstruction, profile.global_max)))
            truths.append(mask)
    scores = _f1_scores(truths, preds) if segmenter is not None else {}
    return {
        **scores,
        "codec": codec,
        "quality": target.quality if target.quality is not None else None,
        "bpp": _mean(rows["bpp"]),
        "bits_per_sample": _mean(rows["bits_per_sample"]),
        "payload_bpp": _mean(rows["payload_bpp"]),
        "psnr_db": _mean(rows["psnr_db"]),
        "scenes": len(rows["bpp"]),
    }


@contextmanager
def isolated_store(path: Path) -> Iterator[Any]:
    """A CheckpointStore in which ONE checkpoint (NAME.safetensors + NAME.json) is found first."""
    from shared.codecs.learned.checkpoint import CheckpointStore, checkpoint_paths

    with tempfile.TemporaryDirectory(prefix="eodl-eval-") as tmp:
        for source in checkpoint_paths(path):
            shutil.copy2(source, Path(tmp) / source.name)
        yield CheckpointStore(roots=[Path(tmp)])


def measure_codec_checkpoint(
    path: Path,
    architecture: str,
    quality: int,
    task: str,
    data_dir: Path | str,
    limit: int | None = None,
    split: str = "all",
) -> dict[str, Any]:
    """Real-bitstream figures of ONE checkpoint, isolated in a store of its own."""
    with isolated_store(path) as store:
        return measure_rate_point(
            architecture,
            task,
            data_dir,
            RateTarget(quality=quality),
            checkpoints=store,
            limit=limit,
            split=split,
        )


@dataclass(frozen=True)
class ShippedPoint:
    """One quality a shipped checkpoint codes, with the figures its manifest measured there."""

    quality: int
    metrics: dict[str, float]


def shipped_rate_points(
    codec: str, task: str, root: Path | None = None
) -> tuple[list[ShippedPoint], Any]:
    """(the qualities the trained checkpoints of a learned codec code for a task, in quality
    order, and their store); a variable-rate checkpoint gives all six."""
    from shared.codecs.learned.checkpoint import CheckpointStore
    from shared.sensors.profiles import get_profile

    folder = Path(root or shipped_codec_root(task)).resolve()
    store = CheckpointStore(roots=[folder])
    bands = get_profile(task).bands
    found = [  # the store also searches the packaged folders: keep only the ones asked for
        c
        for c in store.candidates(codec, bands)
        if c.manifest.trained
        and c.manifest.task in (task, None)
        and Path(c.path).resolve().parent == folder
    ]
    unique = {q: c.manifest.metrics_at(q) for c in reversed(found) for q in c.manifest.qualities}
    return [ShippedPoint(q, unique[q]) for q in sorted(unique)], store


def codec_targets(codec: str, task: str, root: Path | None = None) -> tuple[list[RateTarget], Any]:
    """The rate targets to evaluate a codec at, and the checkpoint store to code with: the
    qualities of the shipped (or ``root``'s) checkpoints for a learned codec, and for a
    classical one bpp targets spanning the shipped ``cheng2020-gmm`` points (or 0.1..4 bpp).

    Raises:
        CheckpointError: a learned codec has no trained checkpoint for the task.
    """
    from shared.codecs.registry import codec_info

    if codec_info(codec).kind == "classical":
        return [RateTarget(bpp=b) for b in _jpeg2000_targets(task, root)], None
    entries, store = shipped_rate_points(codec, task, root)
    if not entries:
        raise CheckpointError(
            f"no trained {codec} checkpoint for the {task} task in "
            f"{root or shipped_codec_root(task)}; "
            f"train one with `eodl train codec --task {task} --model {codec} ...`"
        )
    return [RateTarget(quality=e.quality) for e in entries], store


def _jpeg2000_targets(task: str, root: Path | None) -> list[float]:
    try:
        entries, _ = shipped_rate_points("cheng2020-gmm", task, root)
    except CheckpointError:
        entries = []
    rates = sorted(float(e.metrics["bpp"]) for e in entries if "bpp" in e.metrics)
    if len(rates) < 2:
        return list(JPEG2000_DEFAULT_BPPS)
    # from the learned codec's lowest rate to twice its highest, so that the PSNR range of
    # the learned curve is covered (BD-rate integrates over the overlap only)
    low, high = rates[0], 2.0 * rates[-1]
    return [float(b) for b in np.geomspace(low, high, num=max(len(rates), 5))]


def _unit(image: np.ndarray, scale: float) -> np.ndarray:
    return np.clip(image.astype(np.float32) / np.float32(scale), 0.0, 1.0)


def _f1_scores(truths: list[np.ndarray], preds: list[np.ndarray]) -> dict[str, float]:
    from shared.metrics.segmentation import f1_macro, f1_positive

    truth, pred = np.stack(truths), np.stack(preds)
    return {"f1_positive": f1_positive(truth, pred), "f1_macro": f1_macro(truth, pred)}


def segment_scenes(
    segmenter: Any,
    data_dir: Path | str,
    codec: str | None = None,
    target: RateTarget | None = None,
    checkpoints: Any = None,
    limit: int | None = None,
    split: str = "all",
) -> dict[str, Any]:
    """Pooled F1 of a segmenter over a folder, optionally on data passed through a codec first.

    Each scene is compressed for real (``compress_raster``) and the segmenter sees the
    reconstruction the ground would decode, normalised by the profile's global maximum.

    Returns:
        ``{"f1_positive": float, "f1_macro": float, "scenes": int}``, through a codec also
        its mean ``bpp``, ``payload_bpp`` and ``psnr_db``.
    """
    if codec is not None:
        point = measure_rate_point(
            codec,
            segmenter.task,
            data_dir,
            target or RateTarget(bpp=1.0),
            checkpoints=checkpoints,
            limit=limit,
            split=split,
            segmenter=segmenter,
        )
        keep = ("f1_positive", "f1_macro", "scenes", "bpp", "payload_bpp", "psnr_db")
        return {k: point[k] for k in keep}
    from shared.sensors.profiles import get_profile

    scale = get_profile(segmenter.task).global_max
    truths, preds = [], []
    for _scene_id, image, mask in iter_scenes(data_dir, limit, split):
        preds.append(segmenter.predict(_unit(image, scale)))
        truths.append(mask)
    return {**_f1_scores(truths, preds), "scenes": len(truths)}
