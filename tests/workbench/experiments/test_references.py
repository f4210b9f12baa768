"""Reference points: exact where the raster is what they send, their bits counted right."""

from __future__ import annotations

import math

import numpy as np

from shared.sensors.profiles import get_profile
from workbench.experiments.references import band_mean, block_mean, reference_rows


def test_block_means_are_exact_on_a_blocky_raster_and_count_edge_blocks() -> None:
    coarse = np.arange(2 * 3 * 4, dtype=np.uint16).reshape(2, 3, 4) * 100
    raster = np.repeat(np.repeat(coarse, 16, axis=1), 16, axis=2)[:, :40, :60]
    approx, means = block_mean(raster)
    assert np.array_equal(approx, raster) and means == 2 * 3 * 4  # 40 x 60: 3 x 4 blocks
    flat, bands = band_mean(np.full((3, 8, 8), 7, np.uint16))
    assert bands == 3 and np.all(flat == 7)


def test_rows_carry_the_uncoded_bits_and_the_psnr_of_every_scene() -> None:
    profile = get_profile("building")
    rng = np.random.default_rng(0)
    scenes = [
        (f"s{i}", rng.integers(0, 5000, (10, 64, 64)).astype(np.uint16), None) for i in range(3)
    ]
    rows = {r["codec"]: r for r in reference_rows("building", scenes, profile)}
    assert rows["band-mean"]["bpp"] == 10 * profile.bit_depth / (64 * 64)
    assert rows["block-mean-16"]["bpp"] == 10 * 16 * profile.bit_depth / (64 * 64)
    assert rows["band-mean"]["scenes"] == 3
    # noise has no structure: block means gain almost nothing over band means
    assert math.isclose(rows["band-mean"]["psnr_db"], rows["block-mean-16"]["psnr_db"], abs_tol=0.2)
