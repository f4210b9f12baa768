"""Reference points for rate-distortion plots: what a trivial coder reaches.

``band-mean`` replaces every band by its mean; ``block-mean-16`` replaces every 16 x 16 block
of every band by its mean (a 16-fold downsampling, upsampled by repetition). Their rate is the
bits to store those means uncoded at the sensor's bit depth: ``bands * bit_depth / (H * W)``
for the band means and ``bands * blocks * bit_depth / (H * W)`` for the block means. A codec
whose curve sits below a reference point at its rate does worse than sending a thumbnail.
PSNR is the project's (:func:`shared.metrics.distortion.psnr_db`, the sensor's full scale),
averaged over the scenes as every rate point is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from shared.metrics.distortion import psnr_db
from shared.sensors.profiles import SensorProfile

BLOCK = 16
BAND_MEAN = "band-mean"
BLOCK_MEAN = f"block-mean-{BLOCK}"
REFERENCES = (BAND_MEAN, BLOCK_MEAN)


def band_mean(image: np.ndarray) -> tuple[np.ndarray, int]:
    """(every band at its mean, the number of means stored)."""
    means = np.rint(image.astype(np.float64).mean(axis=(1, 2), keepdims=True))
    return np.broadcast_to(means, image.shape), image.shape[0]


def block_mean(image: np.ndarray, block: int = BLOCK) -> tuple[np.ndarray, int]:
    """(every ``block`` x ``block`` block of every band at its mean, the number of means);
    blocks at the right and bottom edges are cut to the raster."""
    bands, height, width = image.shape
    rows, cols = math.ceil(height / block), math.ceil(width / block)
    padded = np.full((bands, rows * block, cols * block), np.nan)
    padded[:, :height, :width] = image
    means = np.nanmean(padded.reshape(bands, rows, block, cols, block), axis=(2, 4))
    blocks = np.repeat(np.repeat(np.rint(means), block, axis=1), block, axis=2)
    return blocks[:, :height, :width], bands * rows * cols


def reference_rows(
    task: str, scenes: Iterable[tuple[str, np.ndarray, Any]], profile: SensorProfile
) -> list[dict[str, Any]]:
    """One row per reference in the columns of ``rd.csv`` (``payload_bpp`` too: no container)."""
    sums: dict[str, list[tuple[float, float]]] = {name: [] for name in REFERENCES}
    for _scene_id, image, _mask in scenes:
        pixels = image.shape[1] * image.shape[2]
        for name, (approx, means) in (
            (BAND_MEAN, band_mean(image)),
            (BLOCK_MEAN, block_mean(image)),
        ):
            bits = means * profile.bit_depth
            sums[name].append((bits / pixels, psnr_db(image, approx, profile.global_max)))
    rows = []
    for name, points in sums.items():
        if not points:
            continue
        bpp = float(np.mean([p[0] for p in points]))
        rows.append(
            {
                "task": task,
                "codec": name,
                "quality": "",
                "bpp": bpp,
                "payload_bpp": bpp,
                "bits_per_sample": bpp / profile.bands,
                "psnr_db": float(np.mean([p[1] for p in points])),
                "scenes": len(points),
            }
        )
    return rows
