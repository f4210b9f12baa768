"""The experiments' data: a training folder and a held-out folder per task, and decoded copies.

Both folders come from the deterministic generators
(:func:`workbench.datasets.generate.write_dataset`) with different seeds, so no held-out scene
was ever seen in training. A decoded copy of a folder holds the reconstructions a codec's real
bitstreams decode to, under the same scene ids, so the U-Net can be retrained on what the
ground would receive (paper, Fig. 2).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from shared.codecs.base import RateTarget
from workbench.experiments.runner import Workspace
from workbench.experiments.settings import RunSettings

DONE_MARK = ".complete"


def ensure_task_data(ws: Workspace, task: str, settings: RunSettings) -> tuple[Path, Path]:
    """(training folder, held-out folder) of a task, generated once per workspace."""
    from workbench.datasets.generate import write_dataset

    train_count, test_count = settings.counts(task)
    folders = []
    for split, count, seed in (
        ("train", train_count, settings.seed),
        ("test", test_count, settings.seed + 1000),
    ):
        folder = ws.data(task, split)
        if not (folder / DONE_MARK).is_file():
            if folder.exists():
                shutil.rmtree(folder)
            write_dataset(task, count, seed, folder, progress=True)
            (folder / DONE_MARK).write_text("generated\n")
        folders.append(folder)
    return folders[0], folders[1]


def decoded_copy(
    source: Path,
    out: Path,
    task: str,
    codec: str,
    target: RateTarget,
    checkpoints: Any = None,
) -> dict[str, float]:
    """Write ``out``: ``source`` with every image replaced by its decoded reconstruction.

    Each scene is compressed for real (:func:`shared.compression.compress_raster`); the mean
    container bpp, payload bpp and PSNR over the scenes are returned (and reused on a rerun).

    Returns:
        ``{"bpp", "payload_bpp", "psnr_db", "scenes"}``.
    """
    import json

    from tqdm.auto import tqdm

    from shared.compression import compress_raster
    from shared.sensors.profiles import get_profile
    from workbench.datasets.dataset import list_scenes

    figures_path = out / "figures.json"
    if (out / DONE_MARK).is_file():
        return dict(json.loads(figures_path.read_text()))
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(source, out, ignore=shutil.ignore_patterns(DONE_MARK))
    profile = get_profile(task)
    _, records = list_scenes(out)
    sums = {"bpp": 0.0, "payload_bpp": 0.0, "psnr_db": 0.0}
    for record in tqdm(records, desc=f"{task} through {codec}", unit="scene", leave=False):
        scene = compress_raster(
            np.load(record.image_path),
            codec=codec,
            target=target,
            scale=profile.global_max,
            bit_depth=profile.bit_depth,
            checkpoints=checkpoints,
        )
        np.save(record.image_path, scene.reconstruction)
        psnr = scene.psnr_db if scene.psnr_db is not None else math.inf
        for key, value in (
            ("bpp", scene.bpp),
            ("payload_bpp", scene.payload_bpp),
            ("psnr_db", psnr),
        ):
            sums[key] += float(value)
    count = max(len(records), 1)
    figures = {k: v / count for k, v in sums.items()} | {"scenes": float(len(records))}
    figures_path.write_text(json.dumps(figures) + "\n")
    (out / DONE_MARK).write_text("decoded\n")
    return figures
