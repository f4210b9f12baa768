"""Segmentation under bit-rate reduction (paper, Fig. 2): at each rate point the U-Net is
retrained on decompressed training scenes and scored on decompressed held-out scenes.

Rates are those of the real containers of the held-out scenes. One ``uncompressed`` row per
task (the clean baseline U-Net on clean scenes, at the raw bit depth) marks the plateau.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from shared.codecs.base import RateTarget
from shared.errors import RateTargetError
from workbench.experiments.baseline import PAPER_BACKBONE, clean_segmenter
from workbench.experiments.data import decoded_copy, ensure_task_data
from workbench.experiments.rd import codec_checkpoint
from workbench.experiments.runner import ResultsTable, Workspace
from workbench.experiments.settings import PAPER_CODEC, RunSettings
from workbench.experiments.training import device, ensure_codec, ensure_segmenter

COLUMNS = ("task", "codec", "bpp", "f1_positive", "f1_macro")
KEY = ("task", "codec", "bpp")
UNCOMPRESSED = "uncompressed"
SHIPPED_STAMP = "shipped-codec.sha256"  # which shipped checkpoint a task's rows came from
SHA_CHARS = 12


def table(out: Path) -> ResultsTable:
    """``seg-vs-rate.csv`` of an output folder."""
    return ResultsTable(out / "seg-vs-rate.csv", COLUMNS, KEY)


def _rate_points(
    ws: Workspace, results: ResultsTable, task: str, settings: RunSettings
) -> list[tuple[str, str, Any]]:
    """(codec, label, (target, store-or-None)) per rate point: JPEG 2000 targets, then the
    paper's codec at each trained rate point (the same checkpoints as ``rd``), or as shipped
    (``settings.shipped_codec``)."""
    from workbench.training.evaluate import isolated_store

    points: list[tuple[str, str, Any]] = [
        ("jpeg2000", f"{b:g}bpp", (RateTarget(bpp=b), None))
        for b in settings.seg_subset(settings.jpeg2000_bpps[task])
    ]
    if settings.shipped_codec:
        return points + _shipped_points(ws, results, task, settings)
    train, _ = ensure_task_data(ws, task, settings)
    for quality, lmbda in settings.seg_subset(settings.rate_points):
        ckpt = ensure_codec(
            task,
            train,
            codec_checkpoint(ws, task, PAPER_CODEC, quality),
            PAPER_CODEC,
            quality,
            lmbda,
            settings,
        )
        points.append(
            (PAPER_CODEC, f"q{quality}", (RateTarget(quality=quality), isolated_store(ckpt)))
        )
    return points


def _shipped_points(
    ws: Workspace, results: ResultsTable, task: str, settings: RunSettings
) -> list[tuple[str, str, Any]]:
    """The shipped variable-rate paper codec at its qualities (all, or the subset's), its work
    folders named by the checkpoint's sha256 so that a new checkpoint is measured anew."""
    from shared.codecs.learned.manifest import read_manifest
    from shared.codecs.learned.rate_gain import QUALITIES
    from workbench.training.evaluate import isolated_store, shipped_codec_root

    checkpoint = shipped_codec_root(task) / PAPER_CODEC
    tag = read_manifest(checkpoint.with_suffix(".json")).sha256[:SHA_CHARS]
    _forget_other_shipped(ws, results, task, tag)
    qualities = settings.seg_subset(tuple(range(1, QUALITIES + 1)))
    return [
        (PAPER_CODEC, f"shipped-{tag}-q{q}", (RateTarget(quality=q), isolated_store(checkpoint)))
        for q in qualities
    ]


def _forget_other_shipped(ws: Workspace, results: ResultsTable, task: str, tag: str) -> None:
    """Drop the paper codec's rows and work folders of ``task`` unless they were measured with
    the checkpoint shipped now (``tag``): a rerun after a checkpoint update measures it, instead
    of finding the previous checkpoint's decoded scenes and rows and keeping them."""
    stamp = ws.work / "decoded" / task / SHIPPED_STAMP
    if stamp.is_file() and stamp.read_text().strip() == tag:
        return
    dropped = results.drop(task=task, codec=PAPER_CODEC)
    segmenters = ws.work / "checkpoints" / "segmenter-decoded" / task
    for parent in (ws.work / "decoded" / task, segmenters):
        for stale in parent.glob(f"{PAPER_CODEC}-shipped-*"):
            if not stale.name.startswith(f"{PAPER_CODEC}-shipped-{tag}-"):
                _remove(stale)
    if dropped:
        tqdm.write(
            f"seg-vs-rate: {task}: {dropped} {PAPER_CODEC} rows of {results.path} were not "
            f"measured with the shipped checkpoint (sha256 {tag}...); dropped, measuring again"
        )
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(tag + "\n")


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


def _score(
    ws: Workspace,
    results: ResultsTable,
    task: str,
    codec: str,
    label: str,
    target: RateTarget,
    store: Any,
    settings: RunSettings,
) -> dict[str, float] | None:
    """Decode both folders through the codec, retrain the U-Net, score it.

    Returns None when the target is unreachable or the row is already in the CSV (the decoded
    folders keep their measured bpp, so a rerun finds the row without recomputing it).
    """
    from shared.models.segmentation import load_segmenter_checkpoint
    from workbench.training.evaluate import segment_scenes

    train, test = ensure_task_data(ws, task, settings)
    base = ws.work / "decoded" / task / f"{codec}-{label}"
    try:
        decoded_copy(train, base / "train", task, codec, target, store)
        figures = decoded_copy(test, base / "test", task, codec, target, store)
    except RateTargetError:
        return None
    if results.has(task=task, codec=codec, bpp=figures["bpp"]):
        return None
    backbone = PAPER_BACKBONE[task]
    ckpt = ensure_segmenter(
        task,
        base / "train",
        ws.checkpoint("segmenter-decoded", task, f"{codec}-{label}"),
        backbone,
        settings,
    )
    scores = segment_scenes(load_segmenter_checkpoint(ckpt, device=device()), base / "test")
    return {"bpp": figures["bpp"], **scores}


def _uncompressed(ws: Workspace, results: ResultsTable, task: str, settings: RunSettings) -> None:
    from shared.models.segmentation import load_segmenter_checkpoint
    from shared.sensors.profiles import get_profile
    from workbench.training.evaluate import segment_scenes

    profile = get_profile(task)
    raw_bpp = float(profile.bands * profile.bit_depth)
    if results.has(task=task, codec=UNCOMPRESSED, bpp=raw_bpp):
        return
    _, test = ensure_task_data(ws, task, settings)
    segmenter = load_segmenter_checkpoint(clean_segmenter(ws, task, settings), device=device())
    scores = segment_scenes(segmenter, test)
    results.append({"task": task, "codec": UNCOMPRESSED, "bpp": raw_bpp, **scores})


def run_seg_vs_rate(out: Path, tasks: tuple[str, ...], settings: RunSettings) -> ResultsTable:
    """F1 against bpp for JPEG 2000 and the paper's codec per task; resumes from the CSV."""
    ws, results = Workspace(out), table(out)
    for task in tqdm(tasks, desc="seg-vs-rate", unit="task"):
        _uncompressed(ws, results, task, settings)
        for codec, label, (target, store) in _rate_points(ws, results, task, settings):
            if store is None:
                scores = _score(ws, results, task, codec, label, target, None, settings)
            else:
                with store as opened:
                    scores = _score(ws, results, task, codec, label, target, opened, settings)
            if scores is not None:
                results.append({"task": task, "codec": codec, **scores})
    return results
