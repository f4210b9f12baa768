"""On a GPU machine the ground segments on cuda, and its F1 is what the same model gives."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from gs_support import Link, Scene

from shared.compression import decompress_container
from shared.metrics.segmentation import f1_positive
from shared.models.segmentation import load_segmenter


@pytest.mark.gpu
def test_segmentation_runs_on_cuda(make_link, scene: Scene, segmenter_dir: Path) -> None:
    link: Link = make_link(device="auto", segmenter_dir=segmenter_dir)
    link.upload("g1", scene.data)
    view = link.wait("g1")
    assert view["state"] == "processed", view["reason"]
    assert view["device"].startswith("cuda")
    assert view["digest_verified"] is True  # decoded on the CPU worker, bit-exact
    segmenter = load_segmenter("cloud", root=segmenter_dir, device="cuda")
    assert segmenter is not None
    decoded = decompress_container(scene.data)
    mask = segmenter.predict(decoded.raster.astype(np.float32) / np.float32(16383.0))
    assert math.isclose(view["f1_positive"], f1_positive(scene.truth, mask))
