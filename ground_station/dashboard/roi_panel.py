"""The ROI panel: where the satellite spent its bits, outlined over the decoded scene.

The container's metadata records the ROI as a grid of cells (``shared.roi.masks``); the cells
are drawn hatched with a white outline over the scene, the predicted mask (when there is one)
as a dashed outline on top, so a reader sees whether the segmentation found its targets inside
the region the onboard detector favoured. Hatches and line styles carry the meaning, not colour.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ground_station.dashboard.render import figure, to_png
from shared.roi.masks import BlockMask

PANEL_IN = 5.2
MIN_DRAWN_SIDE = 256


def _enlarge(image: np.ndarray) -> np.ndarray:
    factor = max(1, math.ceil(MIN_DRAWN_SIDE / max(image.shape[:2])))
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def roi_png(background: np.ndarray, roi: BlockMask, predicted: np.ndarray | None) -> bytes:
    """The ROI cells (hatched, white outline) and the predicted mask (dashed) over the scene.

    Shape:
        background: (H, W, 3) in [0, 1]; predicted: (H, W) 0/1 or None.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    cells = _enlarge(roi.pixels().astype(np.float64))
    share = roi.fraction
    title = f"ROI coded at higher fidelity: {int(roi.cells.sum())} cells, {100 * share:.1f} %"
    rc = {"hatch.color": "white", "hatch.linewidth": 1.0}
    with figure(PANEL_IN, PANEL_IN, rc=rc, layout="constrained") as fig:
        ax = fig.add_subplot()
        ax.set_title(title, fontsize=11)
        ax.set_xlabel(f"{roi.width} px, {roi.block}-px cells")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.imshow(_enlarge(background))
        if cells.any() and not cells.all():
            ax.contourf(cells, levels=[0.5, 1.5], colors="none", hatches=["\\\\\\\\"])
            ax.contour(cells, levels=[0.5], colors="white", linewidths=1.8)
        handles: list[Any] = [
            Patch(facecolor="#555555", edgecolor="white", hatch="\\\\\\\\", label="ROI cells")
        ]
        if predicted is not None and np.any(predicted):
            drawn = _enlarge((np.asarray(predicted) > 0).astype(np.float64))
            ax.contour(drawn, levels=[0.5], colors="#56B4E9", linewidths=1.4, linestyles="--")
            handles.append(Line2D([], [], color="#56B4E9", linestyle="--", label="predicted mask"))
        ax.legend(
            handles=handles,
            loc="lower center",
            bbox_to_anchor=(0.5, -0.18),
            fontsize=9,
            frameon=False,
            ncol=2,
        )
        return to_png(fig)
