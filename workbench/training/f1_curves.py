"""F1 against bpp as the ground sees it: the shipped U-Net on decoded held-out scenes, at a
ladder of JPEG 2000 rates and at every rate point of the shipped ``cheng2020-gmm``.

This is what the satellite's planner needs (the ground segments with the shipped U-Net), and
it differs from the paper's Fig. 2 protocol, which retrains a U-Net on decompressed data at each
rate (``eodl experiment seg-vs-rate``). Rows: the ``uncompressed`` baseline, then every rate
point reached; bpp is the container's (what the link carries), payload bpp beside it.
"""

from __future__ import annotations

import csv
import json
import platform
import time
from pathlib import Path
from typing import Any

from shared.codecs.base import RateTarget
from shared.errors import ConfigurationError, RateTargetError

COLUMNS = (
    "task", "codec", "quality", "bpp", "payload_bpp", "psnr_db", "f1_positive", "f1_macro",
    "scenes",
)  # fmt: skip
#: JPEG 2000 container-bpp targets per task, dense enough to show the knee and the plateau.
JPEG2000_LADDER: dict[str, tuple[float, ...]] = {
    "fire": (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0),
    "cloud": (0.03, 0.05, 0.08, 0.12, 0.2, 0.35, 0.5, 1.0, 2.0),
    "building": (0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 4.0),
}
LEARNED = "cheng2020-gmm"


def measure_curves(task: str, data_dir: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The uncompressed row, JPEG 2000 at its ladder, the shipped learned codec at each quality.

    Raises:
        ConfigurationError: no shipped segmenter for the task.
    """
    from shared.models.segmentation import load_segmenter
    from workbench.training.evaluate import measure_rate_point, segment_scenes, shipped_rate_points

    segmenter = load_segmenter(task, device="cpu")
    if segmenter is None:
        raise ConfigurationError(f"no shipped segmenter for {task}; train one first")
    clean = segment_scenes(segmenter, data_dir, limit=limit)
    rows: list[dict[str, Any]] = [{"task": task, "codec": "uncompressed", **clean}]
    entries, store = shipped_rate_points(LEARNED, task)
    targets = [("jpeg2000", RateTarget(bpp=b), None) for b in JPEG2000_LADDER[task]]
    targets += [(LEARNED, RateTarget(quality=e.quality), store) for e in entries]
    for codec, target, checkpoints in targets:
        try:
            point = measure_rate_point(
                codec, task, data_dir, target, checkpoints, limit, segmenter=segmenter
            )
        except RateTargetError:
            continue  # below the codec's floor on these scenes
        rows.append({"task": task, **point})
    return rows


def write_curves(rows: list[dict[str, Any]], out: Path, provenance: dict[str, Any]) -> None:
    """Replace ``out``'s rows of the measured tasks (a CSV of :data:`COLUMNS`), and record how
    each task was measured in ``out`` with the suffix ``.json``."""
    tasks = {row["task"] for row in rows}
    kept: list[dict[str, Any]] = []
    if out.is_file():
        with out.open(newline="") as handle:
            kept = [r for r in csv.DictReader(handle) if r["task"] not in tasks]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(kept + [_rounded(row) for row in rows])
    meta_path = out.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    for task in tasks:
        meta[task] = provenance
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def provenance(command: str, data_dir: Path, task: str) -> dict[str, Any]:
    """How a task's curve was measured: the command, the data, the models and the machine."""
    from shared.models.segmentation import find_segmenter_checkpoint

    segmenter = find_segmenter_checkpoint(task, None)
    return {
        "command": command,
        "data": str(data_dir),
        "segmenter": None if segmenter is None else Path(segmenter).name,
        "codec_checkpoint": f"shared/assets/checkpoints/codec/{task}/{LEARNED}",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()} {platform.system()}, CPU",
        "protocol": "shipped U-Net on decoded scenes (no retraining per rate)",
    }


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 5) if isinstance(v, float) else v for k, v in row.items()}
