"""Segmentation shared by processing threads: requests that wait while a batch runs go
through the U-Net together, and each thread gets the mask its own raster would get alone."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ground_station.processing.batcher import SegmentBatcher
from shared.errors import InvalidRasterError


@pytest.fixture(scope="module")
def segmenter(segmenter_dir: Path) -> Any:
    from shared.models.segmentation import load_segmenter

    return load_segmenter("cloud", root=segmenter_dir, device="cpu")


class _HeldFirst:
    """The real segmenter, whose first batch waits until released (so that the others queue)."""

    def __init__(self, segmenter: Any) -> None:
        self.segmenter = segmenter
        self.release = threading.Event()
        self.entered = threading.Event()
        self.sizes: list[int] = []

    def check(self, unit: np.ndarray) -> None:
        self.segmenter.check(unit)

    def predict_batch(self, units: list[np.ndarray]) -> list[np.ndarray]:
        if not self.sizes:
            self.entered.set()
            self.release.wait(30)
        self.sizes.append(len(units))
        return list(self.segmenter.predict_batch(units))


def _units(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(4)
    return [rng.random((1, 64, 64), dtype=np.float32) for _ in range(count)]


def test_waiting_requests_share_one_batch_and_get_their_own_masks(segmenter: Any) -> None:
    units = _units(8)
    alone = [segmenter.predict(unit) for unit in units]
    held = _HeldFirst(segmenter)
    batcher = SegmentBatcher(held)
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(batcher.predict, units[0])
        assert held.entered.wait(30)
        rest = [pool.submit(batcher.predict, unit) for unit in units[1:]]
        while len(batcher._pending) < 7:  # all seven queued behind the first batch
            threading.Event().wait(0.01)
        held.release.set()
        masks = [first.result(30)] + [future.result(30) for future in rest]
    assert held.sizes == [1, 7]
    for mask, expected in zip(masks, alone, strict=True):
        assert np.mean(mask != expected) < 1e-3  # a batched convolution may round otherwise


def test_a_bad_raster_fails_its_own_thread_only(segmenter: Any) -> None:
    batcher = SegmentBatcher(segmenter)
    with pytest.raises(InvalidRasterError, match="NaN"):
        batcher.predict(np.full((1, 64, 64), np.nan, dtype=np.float32))
    assert batcher.predict(_units(1)[0]).shape == (64, 64)
    masks = batcher.predict_many(_units(3) + [np.zeros((1, 32, 32), np.float32)])
    assert [m.shape for m in masks] == [(64, 64)] * 3 + [(32, 32)]
    assert batcher.batches == 3  # 1, then three of 64 x 64 and one of 32 x 32
