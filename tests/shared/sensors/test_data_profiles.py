"""Sensor profiles: the single source of truth, and validation that refuses what does not fit."""

from __future__ import annotations

import numpy as np
import pytest

from shared.codecs.base import RasterSpec
from shared.errors import InvalidRasterError, UnknownNameError
from shared.sensors.profiles import PROFILES, get_profile, validate_raster


def test_profiles_match_the_paper() -> None:
    assert get_profile("fire").shape == (1, 32, 32)
    assert get_profile("cloud").shape == (1, 256, 256)
    assert get_profile("building").shape == (10, 128, 128)
    assert get_profile("fire").wavelengths_um == (3.8,)
    assert get_profile("cloud").wavelengths_um == (11.5,)
    building = get_profile("building")
    assert building.band_names[:4] == ("B02", "B03", "B04", "B08")
    assert len(building.wavelengths_um) == building.bands == 10


@pytest.mark.parametrize("task", sorted(PROFILES))
def test_profile_fits_the_codec_contract(task: str) -> None:
    profile = get_profile(task)
    spec = RasterSpec(*profile.shape, profile.dtype, profile.bit_depth, profile.global_max)
    assert spec.shape == profile.shape
    assert profile.global_max <= profile.max_count


def test_unknown_task_lists_valid_ones() -> None:
    with pytest.raises(UnknownNameError, match="fire, cloud, building"):
        get_profile("flood")


def test_unknown_band_lists_valid_ones() -> None:
    building = get_profile("building")
    assert building.band_index("B8A") == 7
    with pytest.raises(UnknownNameError, match="B02"):
        building.band_index("B10")


def _tile(task: str) -> np.ndarray:
    profile = get_profile(task)
    return np.zeros(profile.shape, dtype=profile.dtype)


@pytest.mark.parametrize("task", sorted(PROFILES))
def test_valid_tile_passes(task: str) -> None:
    validate_raster(_tile(task), get_profile(task), exact_tile=True)


@pytest.mark.parametrize(
    ("raster", "message"),
    [
        (np.zeros((3, 128, 128), np.uint16), "3 bands, the profile has 10"),
        (np.zeros((10, 128, 128), np.float32), "dtype is float32"),
        (np.zeros((128, 128), np.uint16), "must be .C, H, W."),
        (np.zeros((10, 4096, 128), np.uint16), "split larger scenes"),
        (np.full((10, 8, 8), 20000, np.uint16), "above the profile's 14-bit"),
    ],
)
def test_bad_rasters_are_refused_with_a_fix(raster: np.ndarray, message: str) -> None:
    with pytest.raises(InvalidRasterError, match=message):
        validate_raster(raster, get_profile("building"))


def test_nan_is_refused() -> None:
    profile = get_profile("fire")
    raster = np.zeros(profile.shape, np.float32)
    raster[0, 3, 3] = np.nan
    from dataclasses import replace

    float_profile = replace(profile, dtype="float32")
    with pytest.raises(InvalidRasterError, match="1 NaN/Inf"):
        validate_raster(raster, float_profile)


def test_exact_tile_refuses_other_sizes() -> None:
    with pytest.raises(InvalidRasterError, match="must be 32x32"):
        validate_raster(np.zeros((1, 30, 32), np.uint16), get_profile("fire"), exact_tile=True)
    validate_raster(np.zeros((1, 30, 32), np.uint16), get_profile("fire"))
