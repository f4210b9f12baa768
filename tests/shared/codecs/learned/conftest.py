"""Shared fixtures: real generated scenes, their detected ROI, and the shipped checkpoints."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from satellite_node.detectors import detect_roi
from shared.codecs.base import RasterSpec
from shared.codecs.learned.checkpoint import CheckpointStore, packaged_checkpoints_dir
from shared.compression import build_spec
from shared.roi.masks import block_mask
from shared.sensors.profiles import get_profile
from workbench.datasets.generate import generate_scene


@dataclass(frozen=True)
class RoiScene:
    """A generated scene with its spec, the ROI as compress_raster codes it, and its store."""

    image: np.ndarray
    spec: RasterSpec
    roi: np.ndarray
    store: CheckpointStore


def roi_scene(task: str, seed: int) -> RoiScene:
    profile = get_profile(task)
    image = generate_scene(task, seed).image
    spec = build_spec(image, scale=profile.global_max, bit_depth=profile.bit_depth)
    roi = block_mask(detect_roi(task, image)).pixels()  # as compress_raster reduces it
    store = CheckpointStore([packaged_checkpoints_dir() / "codec" / task])
    return RoiScene(image, spec, roi, store)


@pytest.fixture(scope="session")
def cloud_scene() -> RoiScene:
    """A 256 x 256 LWIR scene with about 19% of its pixels in the detected cloud ROI."""
    return roi_scene("cloud", 101)


@pytest.fixture(scope="session")
def building_scene() -> RoiScene:
    """A 10-band 128 x 128 Sentinel-2 tile whose building ROI covers most of it."""
    return roi_scene("building", 101)
