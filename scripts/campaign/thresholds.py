"""Does the U-Net's decision threshold hold the building codec's F1? A sweep.

Prints, per folder, the shipped building U-Net's pooled F1+ at thresholds 0.3-0.7 on the clean
scenes and on the shipped building codec's reconstructions at levels 0 and 4 (forward pass,
latents rounded as the coder codes them, on the sensor's integer grid).

Usage: python scripts/campaign/thresholds.py DIR [DIR ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from ceiling import load_masks, load_scenes, rounded_latents

from shared.codecs.learned.checkpoint import load_checkpoint
from shared.metrics.segmentation import f1_positive
from shared.models.segmentation import Segmenter, load_segmenter
from shared.sensors.profiles import get_profile

CODEC = Path("shared/assets/checkpoints/codec/building/cheng2020-gmm")
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
LEVELS = {"clean": None, "level 0": 0.0, "level 4": 4.0}


def probabilities(segmenter: Segmenter, images: torch.Tensor) -> np.ndarray:
    """The U-Net's positive-class probabilities, all pixels of all scenes in one vector."""
    batches = [segmenter.probabilities(images[i : i + 8]) for i in range(0, len(images), 8)]
    return torch.cat(batches).numpy().ravel()


def main() -> None:
    """Print the sweep for each folder given."""
    torch.set_num_threads(2)
    model, _ = load_checkpoint(CODEC)
    segmenter = load_segmenter("building")
    scale = get_profile("building").global_max
    for folder in map(Path, sys.argv[1:]):
        x = load_scenes(folder, 100_000)
        truth = np.concatenate([m.ravel() for m in load_masks(folder, 100_000)])
        with torch.no_grad():
            y = model.g_a(x)
            for name, level in LEVELS.items():
                image = x
                if level is not None:
                    image = model.g_s(rounded_latents(model, y, level)).clamp(0, 1)
                image = torch.round(image * scale) / scale
                probs = probabilities(segmenter, image)
                cells = [f"{t}: {f1_positive(truth, probs >= t):.3f}" for t in THRESHOLDS]
                print(f"{folder.name} {name}: " + ", ".join(cells), flush=True)


if __name__ == "__main__":
    main()
