"""The task segmenters, loaded once at start-up; a missing module or checkpoint is a note, not
a failure (transfers are then processed without segmentation)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.errors import EODownlinkError

log = logging.getLogger(__name__)


@dataclass
class SegmenterSet:
    """Segmenter per task (None when absent) and, for the absent ones, why."""

    models: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def get(self, task: str) -> tuple[Any | None, str | None]:
        """The task's segmenter, or None and the reason there is none."""
        model = self.models.get(task)
        if model is not None:
            return model, None
        return None, self.notes.get(task, f"no segmenter is loaded for task {task!r}")


def load_segmenters(
    tasks: tuple[str, ...], root: Path | None, device: str, tile_px: int | None = None
) -> SegmenterSet:
    """Load each task's segmenter from ``root`` (the shipped checkpoints when None); with
    ``tile_px``, larger scenes are segmented in windows of that size (bounded memory)."""
    found = SegmenterSet()
    try:
        from shared.models.segmentation import load_segmenter
    except ImportError as exc:
        for task in tasks:
            found.notes[task] = f"segmentation is unavailable: {exc}"
        return found
    for task in tasks:
        try:
            model = load_segmenter(task, root=root, device=device)
        except (EODownlinkError, OSError, RuntimeError) as exc:
            found.notes[task] = f"the {task} segmenter could not be loaded: {exc}"
            log.warning("segmenter for %s not loaded: %s", task, exc)
            continue
        if model is None:
            where = root if root is not None else "the shipped checkpoints"
            found.notes[task] = f"no {task} segmenter checkpoint in {where}; not segmented"
        else:
            if tile_px is not None:
                model.tile_px = tile_px
            found.models[task] = model
            log.info("loaded the %s segmenter on %s", task, model.device)
    return found
