"""Whether a scene is coded with a region of interest, and which: the onboard ROI policy.

With ``SAT_ROI=auto`` a scene gets an ROI when its task has a detector worth running (fire:
the MWIR brightness-temperature test; cloud: the LWIR cold-top test; the building index is too
weak to steer bits), its codec takes an ROI, its rate is lossy, and the detector finds
something: an empty ROI would only cost the record's bytes.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from satellite_node.detectors import detect_roi
from shared.codecs.base import RateTarget
from shared.codecs.registry import codec_info

RoiMode = Literal["auto", "off"]
#: Tasks whose onboard detector steers ROI coding (see satellite_node.detectors for the figures).
ROI_TASKS: tuple[str, ...] = ("fire", "cloud")


def codec_takes_roi(codec: str) -> bool:
    """True when ``codec`` (a registry name) codes an ROI at higher fidelity.

    Raises:
        UnknownNameError: ``codec`` is not registered (the message lists those that are).
    """
    return codec_info(codec).capabilities.roi != "none"


def roi_for(
    mode: RoiMode, task: str, raster: np.ndarray, codec: str, target: RateTarget
) -> np.ndarray | None:
    """The ROI mask to code ``raster`` with, or None (no ROI coding for this scene).

    Shape:
        raster: (C, H, W) raw counts of the task's profile; return: (H, W) bool or None.

    Raises:
        InvalidRasterError: the raster does not fit the task's profile.
    """
    if mode == "off" or task not in ROI_TASKS or target.lossless:
        return None
    if not codec_takes_roi(codec):
        return None
    mask = detect_roi(task, raster)
    return mask if bool(mask.any()) else None
