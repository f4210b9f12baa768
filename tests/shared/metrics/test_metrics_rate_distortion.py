"""bpp, bits per sample and PSNR against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shared.errors import ConfigurationError, InvalidRasterError
from shared.metrics import bits_per_sample, bpp, psnr_db, psnr_sensor_db


def test_bpp_counts_one_spatial_pixel_all_bands() -> None:
    assert bpp(1024, 128, 64) == 1.0  # 8192 bits over 8192 pixels
    assert bits_per_sample(1024, 10, 128, 64) == pytest.approx(0.1)
    assert bpp(0, 4, 4) == 0.0


@pytest.mark.parametrize("args", [(-1, 4, 4), (10, 0, 4), (10, 4, -2)])
def test_bpp_refuses_impossible_sizes(args: tuple[int, int, int]) -> None:
    with pytest.raises(ConfigurationError):
        bpp(*args)


def test_psnr_db_uses_data_range_one_after_scaling() -> None:
    reference = np.full((1, 4, 4), 1000, dtype=np.uint16)
    reconstruction = reference.copy()
    reconstruction[0, 0, :] += 100  # 4 of 16 samples off by 100 -> MSE 2500 sensor units
    # normalised by 10000: MSE = 2500 / 1e8 = 2.5e-5 -> 10 log10(1 / 2.5e-5) = 46.0206 dB
    assert psnr_db(reference, reconstruction, 10000.0) == pytest.approx(46.0206, abs=1e-4)


def test_psnr_sensor_db_uses_reference_max() -> None:
    reference = np.array([[0.0, 50.0], [100.0, 200.0]], dtype=np.float32)
    reconstruction = reference + np.float32(2.0)  # MSE 4, range 200 -> 10 log10(40000/4) = 40
    assert psnr_sensor_db(reference, reconstruction) == pytest.approx(40.0)


def test_psnr_of_exact_reconstruction_is_infinite() -> None:
    raster = np.arange(12, dtype=np.uint8).reshape(1, 3, 4)
    assert psnr_db(raster, raster, 255.0) == math.inf
    assert psnr_sensor_db(np.zeros((2, 2)), np.zeros((2, 2))) == math.inf


def test_psnr_refuses_mismatched_or_invalid_input() -> None:
    a = np.zeros((1, 4, 4), np.float32)
    with pytest.raises(InvalidRasterError, match="differs"):
        psnr_db(a, np.zeros((1, 4, 5), np.float32), 1.0)
    with pytest.raises(InvalidRasterError, match="scale"):
        psnr_db(a, a, 0.0)
    with pytest.raises(InvalidRasterError, match="NaN"):
        psnr_db(a, np.full_like(a, np.nan), 1.0)
    with pytest.raises(InvalidRasterError, match="data range"):
        psnr_sensor_db(a, a + 1)
