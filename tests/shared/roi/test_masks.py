"""Block ROI masks: they cover the detected pixels and survive the trip through the metadata."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shared.errors import InvalidRasterError
from shared.roi.masks import block_mask, block_mask_from_metadata, dilate


def test_block_mask_covers_every_roi_pixel_and_round_trips_through_json() -> None:
    rng = np.random.default_rng(3)
    mask = rng.random((50, 70)) > 0.995
    grid = block_mask(mask, block=8, margin=2)
    assert grid.pixels()[mask].all()
    record = json.loads(json.dumps(grid.to_metadata(sigma_px=4.0)))
    again = block_mask_from_metadata(record, 50, 70)
    assert np.array_equal(again.pixels(), grid.pixels())
    assert grid.fraction < 0.5


def test_dilate_grows_by_the_radius() -> None:
    mask = np.zeros((9, 9), dtype=bool)
    mask[4, 4] = True
    assert dilate(mask, 2).sum() == 25


def test_a_record_for_another_size_is_refused() -> None:
    record = block_mask(np.ones((32, 32)), block=4).to_metadata()
    with pytest.raises(InvalidRasterError):
        block_mask_from_metadata(record, 64, 64)
    with pytest.raises(InvalidRasterError):
        block_mask_from_metadata({"block": 4}, 32, 32)
