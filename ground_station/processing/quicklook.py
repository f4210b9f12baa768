"""Quicklook and mask PNGs: thermal bands in a perceptual colormap, Sentinel-2 in true colour."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shared.sensors.profiles import PROFILES

THERMAL_COLORMAP = "inferno"
TRUE_COLOUR_BANDS = ("B04", "B03", "B02")
TRUE_COLOUR_GAIN = 3.5  # surface reflectance rarely exceeds 0.3 over land: stretch to [0, 1]


def _write_png(path: Path, image: np.ndarray, cmap: str | None = None) -> None:
    from matplotlib.image import imsave

    tmp = path.with_name(f".{path.name}.tmp")
    if cmap is None:
        imsave(tmp, image, format="png")
    else:
        imsave(tmp, image, cmap=cmap, vmin=0.0, vmax=1.0, format="png")
    tmp.replace(path)


def _stretch(band: np.ndarray) -> np.ndarray:
    """Percentile stretch (2-98 %) to [0, 1], so low-contrast thermal scenes stay readable."""
    low, high = np.percentile(band, [2.0, 98.0])
    if high <= low:
        return np.zeros_like(band, dtype=np.float32)
    return np.clip((band - low) / (high - low), 0.0, 1.0).astype(np.float32)


def quicklook_image(raster_unit: np.ndarray, task: str) -> tuple[np.ndarray, str | None]:
    """The image to save and its colormap (None for RGB).

    Shape:
        raster_unit: (C, H, W) float32 in [0, 1] -> (H, W) or (H, W, 3) float32 in [0, 1].
    """
    profile = PROFILES.get(task)
    names = profile.band_names if profile is not None else ()
    if raster_unit.shape[0] >= 3 and all(name in names for name in TRUE_COLOUR_BANDS):
        index = [names.index(name) for name in TRUE_COLOUR_BANDS]
        if max(index) < raster_unit.shape[0]:
            rgb = np.moveaxis(raster_unit[index], 0, -1) * TRUE_COLOUR_GAIN
            return np.clip(rgb, 0.0, 1.0).astype(np.float32), None
    return _stretch(raster_unit[0]), THERMAL_COLORMAP


def save_quicklook(raster_unit: np.ndarray, task: str, path: Path) -> None:
    """Write the scene's quicklook PNG.

    Shape:
        raster_unit: (C, H, W) float32 in [0, 1].
    """
    image, cmap = quicklook_image(raster_unit, task)
    _write_png(path, image, cmap)


def save_mask(mask: np.ndarray, path: Path) -> None:
    """Write a binary mask PNG (white = positive class).

    Shape:
        mask: (H, W) 0/1.
    """
    _write_png(path, (np.asarray(mask) > 0).astype(np.float32), "gray")
