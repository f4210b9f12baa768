"""The demo's reference rows: the shipped U-Net on the original scenes, never compressed.

Every transfer's F1 is the ground's segmenter on the decoded raster; this row is the same
segmenter on the raster the satellite was given, so a reader sees how much of the clean F1
each codec and rate keeps.
"""

from __future__ import annotations

from typing import Any

from shared.metrics.segmentation import f1_macro, f1_positive
from shared.models.segmentation import load_segmenter
from shared.sensors.profiles import TASKS, get_profile
from workbench.datasets.dataset import normalise
from workbench.datasets.generate import generate_scenes

UNCOMPRESSED = "uncompressed"


def clean_rows(scenes_per_task: int, seed: int) -> list[dict[str, Any]]:
    """One row per generated scene (the demo's own, by ``seed``) with the clean F1 figures;
    tasks without a shipped segmenter are left out."""
    rows = []
    for task in TASKS:
        segmenter = load_segmenter(task)
        if segmenter is None:
            continue
        profile = get_profile(task)
        for scene in generate_scenes(task, scenes_per_task, seed):
            mask = segmenter.predict(normalise(scene.image, profile))
            truth = scene.mask[0] if scene.mask.ndim == 3 else scene.mask
            rows.append(
                {
                    "task": task,
                    "codec": UNCOMPRESSED,
                    "f1_positive": f1_positive(truth, mask),
                    "f1_macro": f1_macro(truth, mask),
                    "state": "processed",
                }
            )
    return rows
