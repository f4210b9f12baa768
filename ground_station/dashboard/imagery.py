"""The imagery of one transfer's page, rendered from the ground's own decode.

Thermal scenes (fire, cloud) are shown as brightness temperature in a perceptual colormap with
a kelvin scale; Sentinel-2 tiles as true colour (B4/B3/B2) and false colour (B8/B4/B3), band
positions looked up in ``shared.sensors.profiles``. Masks and the TP/FP/FN error map carry hatches
and a legend with pixel counts, so they read without colour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ground_station.dashboard.render import figure, to_png
from shared.sensors.physics import brightness_temperature, counts_to_radiance
from shared.sensors.profiles import (
    CLOUD_FULL_SCALE_RADIANCE as CLOUD_FULL_SCALE,
)
from shared.sensors.profiles import (
    FIRE_FULL_SCALE_RADIANCE as FIRE_FULL_SCALE,
)
from shared.sensors.profiles import PROFILES

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

THERMAL_COLORMAP = "inferno"
TRUE_COLOUR = ("B04", "B03", "B02")
FALSE_COLOUR = ("B08", "B04", "B03")
#: Full-scale radiance (W m-2 sr-1 um-1 at the top count) of the thermal profiles.
THERMAL_FULL_SCALE = {"fire": FIRE_FULL_SCALE, "cloud": CLOUD_FULL_SCALE}
#: Categories of the error map: name, colour (Okabe-Ito), hatch, meaning.
ERROR_CLASSES = (
    ("TN", "#f2f2f2", "", "true negative"),
    ("TP", "#009E73", "", "true positive (predicted and true)"),
    ("FP", "#E69F00", "////", "false positive (predicted, not true)"),
    ("FN", "#0072B2", "xx", "false negative (true, missed)"),
)
_PANEL_IN = 5.2
_MIN_DRAWN_SIDE = 256  # small patches are upsampled so hatches and contours stay legible


@dataclass(frozen=True)
class ErrorCounts:
    """Pixel counts of the confusion between a truth and a predicted mask."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def f1_positive(self) -> float | None:
        """F1 of the positive class; None when neither mask has a positive pixel."""
        denominator = 2 * self.tp + self.fp + self.fn
        return None if denominator == 0 else 2 * self.tp / denominator


def error_classes(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per-pixel class: 0 TN, 1 TP, 2 FP, 3 FN.

    Shape:
        truth, predicted: (H, W) 0/1 -> (H, W) uint8.
    """
    t, p = np.asarray(truth) > 0, np.asarray(predicted) > 0
    classes = np.zeros(t.shape, dtype=np.uint8)
    classes[t & p] = 1
    classes[~t & p] = 2
    classes[t & ~p] = 3
    return classes


def count_errors(classes: np.ndarray) -> ErrorCounts:
    """Count the pixels of each class of :func:`error_classes`."""
    counts = np.bincount(classes.ravel(), minlength=4)
    return ErrorCounts(tp=int(counts[1]), fp=int(counts[2]), fn=int(counts[3]), tn=int(counts[0]))


def brightness_temperature_k(raster: np.ndarray, task: str) -> np.ndarray:
    """Brightness temperature of a thermal profile's counts (Planck's law inverted).

    Shape:
        raster: (1, H, W) counts -> (H, W) float64 kelvin.
    """
    profile = PROFILES[task]
    radiance = counts_to_radiance(raster[0], THERMAL_FULL_SCALE[task], profile.bit_depth)
    return brightness_temperature(profile.wavelengths_um[0], radiance)


def _stretch(image: np.ndarray) -> np.ndarray:
    """2-98 % percentile stretch to [0, 1], per channel (last axis when 3-D)."""
    low, high = np.percentile(image, [2.0, 98.0], axis=(0, 1))
    span = np.where(high > low, high - low, 1.0)
    return np.clip((image - low) / span, 0.0, 1.0)


def composite(raster: np.ndarray, task: str, bands: tuple[str, str, str]) -> np.ndarray:
    """An RGB composite of three named bands, stretched.

    Shape:
        raster: (C, H, W) -> (H, W, 3) float64 in [0, 1].
    """
    profile = PROFILES[task]
    index = [profile.band_index(name) for name in bands]
    return _stretch(np.moveaxis(raster[index].astype(np.float64), 0, -1))


def is_thermal(task: str) -> bool:
    """True for the single-band thermal profiles (shown in kelvin)."""
    return task in THERMAL_FULL_SCALE


def base_rgb(raster: np.ndarray, task: str) -> np.ndarray:
    """The background of the mask overlay: the colormapped thermal scene or true colour.

    Shape:
        raster: (C, H, W) -> (H, W, 3) float64 in [0, 1].
    """
    if task in PROFILES and not is_thermal(task) and raster.shape[0] == PROFILES[task].bands:
        return composite(raster, task, TRUE_COLOUR)
    from matplotlib import colormaps

    values = brightness_temperature_k(raster, task) if is_thermal(task) else raster[0]
    return np.asarray(colormaps[THERMAL_COLORMAP](_stretch(values[..., None])[..., 0]))[..., :3]


def _upsample(image: np.ndarray) -> np.ndarray:
    factor = max(1, math.ceil(_MIN_DRAWN_SIDE / max(image.shape[:2])))
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def _axes(fig: Figure, title: str, shape: tuple[int, ...]) -> Axes:
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(f"{shape[1]} px")
    ax.set_ylabel(f"{shape[0]} px")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def thermal_png(raster: np.ndarray, task: str, title: str) -> bytes:
    """The thermal scene in kelvin with a colour scale.

    Shape:
        raster: (1, H, W) counts.
    """
    kelvin = brightness_temperature_k(raster, task)
    low, high = np.percentile(kelvin, [1.0, 99.5])
    with figure(_PANEL_IN + 0.9, _PANEL_IN, layout="constrained") as fig:
        ax = _axes(fig, title, kelvin.shape)
        shown = ax.imshow(
            _upsample(kelvin), cmap=THERMAL_COLORMAP, vmin=low, vmax=max(high, low + 0.1)
        )
        bar = fig.colorbar(shown, ax=ax, shrink=0.85)
        bar.set_label("brightness temperature (K)")
        return to_png(fig)


def composite_png(raster: np.ndarray, task: str, bands: tuple[str, str, str], title: str) -> bytes:
    """A Sentinel-2 RGB composite of the named bands (2-98 % stretch per band).

    Shape:
        raster: (C, H, W) reflectance counts.
    """
    rgb = composite(raster, task, bands)
    with figure(_PANEL_IN, _PANEL_IN, layout="constrained") as fig:
        ax = _axes(fig, f"{title}: R={bands[0]} G={bands[1]} B={bands[2]}", rgb.shape)
        ax.imshow(_upsample(rgb))
        return to_png(fig)


def overlay_png(background: np.ndarray, predicted: np.ndarray, meaning: str) -> bytes:
    """The predicted mask over the scene: hatched fill and a white outline.

    Shape:
        background: (H, W, 3) in [0, 1]; predicted: (H, W) 0/1.
    """
    from matplotlib.patches import Patch

    mask = _upsample((np.asarray(predicted) > 0).astype(np.float64))
    rc = {"hatch.color": "white", "hatch.linewidth": 1.2}
    with figure(_PANEL_IN, _PANEL_IN, rc=rc, layout="constrained") as fig:
        ax = _axes(fig, "Predicted mask over the scene", np.shape(predicted))
        ax.imshow(_upsample(background))
        if mask.any() and not mask.all():
            ax.contourf(mask, levels=[0.5, 1.5], colors="none", hatches=["///"])
            ax.contour(mask, levels=[0.5], colors="white", linewidths=1.5)
        label = f"predicted: {meaning} ({int(np.count_nonzero(predicted))} px)"
        ax.legend(
            handles=[Patch(facecolor="#555555", edgecolor="white", hatch="///", label=label)],
            loc="lower center",
            bbox_to_anchor=(0.5, -0.2),
            fontsize=9,
            frameon=False,
        )
        return to_png(fig)


def truth_png(truth: np.ndarray, meaning: str) -> bytes:
    """The truth mask that came in the evaluation sidecar (white = positive).

    Shape:
        truth: (H, W) 0/1.
    """
    from matplotlib.patches import Patch

    mask = np.asarray(truth) > 0
    with figure(_PANEL_IN, _PANEL_IN, layout="constrained") as fig:
        ax = _axes(fig, "Truth mask (evaluation sidecar)", mask.shape)
        ax.imshow(_upsample(mask.astype(np.float64)), cmap="gray", vmin=0.0, vmax=1.0)
        handles = [
            Patch(
                facecolor="white", edgecolor="black", label=f"white: {meaning} ({mask.sum()} px)"
            ),
            Patch(
                facecolor="black",
                edgecolor="black",
                label=f"black: background ({(~mask).sum()} px)",
            ),
        ]
        ax.legend(
            handles=handles,
            loc="lower center",
            bbox_to_anchor=(0.5, -0.25),
            fontsize=9,
            frameon=False,
        )
        return to_png(fig)


def error_map_png(truth: np.ndarray, predicted: np.ndarray) -> tuple[bytes, ErrorCounts]:
    """TP/FP/FN map with a colour, a hatch and a labelled count per class.

    Shape:
        truth, predicted: (H, W) 0/1.
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    classes = error_classes(truth, predicted)
    counts = count_errors(classes)
    drawn = _upsample(classes)
    f1 = counts.f1_positive
    title = "Errors: TP / FP / FN" + (f" (F1+ {f1:.3f})" if f1 is not None else "")
    rc = {"hatch.color": "black", "hatch.linewidth": 1.0}
    with figure(_PANEL_IN, _PANEL_IN + 0.5, rc=rc, layout="constrained") as fig:
        ax = _axes(fig, title, classes.shape)
        cmap = ListedColormap([colour for _, colour, _, _ in ERROR_CLASSES])
        ax.imshow(drawn, cmap=cmap, vmin=-0.5, vmax=3.5, interpolation="nearest")
        handles = []
        for value, (name, colour, hatch, meaning) in enumerate(ERROR_CLASSES):
            part = (drawn == value).astype(np.float64)
            if hatch and part.any():
                ax.contourf(part, levels=[0.5, 1.5], colors="none", hatches=[hatch])
            number = getattr(counts, name.lower())
            handles.append(
                Patch(
                    facecolor=colour,
                    edgecolor="black",
                    hatch=hatch,
                    label=f"{name}: {meaning}, {number} px",
                )
            )
        ax.legend(
            handles=handles,
            loc="lower center",
            bbox_to_anchor=(0.5, -0.36),
            fontsize=9,
            frameon=False,
            ncol=1,
        )
        return to_png(fig), counts
