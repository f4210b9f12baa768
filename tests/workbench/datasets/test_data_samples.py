"""Loaders of the real samples beside the repository (skipped when ../shared/data is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.errors import DatasetError
from shared.sensors.physics import brightness_temperature, counts_to_radiance
from shared.sensors.profiles import get_profile, validate_raster
from workbench.datasets.samples import (
    load_building_scenes,
    load_fire_patches,
    load_tirs_cloud_scene,
    load_tirs_unlabelled_scene,
)
from workbench.datasets.synth_cloud import FULL_SCALE_RADIANCE


def _kelvin(image: np.ndarray) -> np.ndarray:
    return brightness_temperature(10.9, counts_to_radiance(image[0], FULL_SCALE_RADIANCE, 14))


def test_fire_patches(sample_data: Path) -> None:
    patches = load_fire_patches(sample_data)
    assert len(patches) == 144
    assert sum(int(p.mask.any()) for p in patches) == 11
    for patch in patches:
        validate_raster(patch.image, get_profile("fire"), exact_tile=True)
    burning = [p for p in patches if p.mask.any()]
    # Fire pixels are bright in the SWIR stand-in too.
    assert all(p.image[0][p.mask == 1].mean() > p.image[0][p.mask == 0].mean() for p in burning)


def test_tirs_scene_with_cloud_flag(sample_data: Path) -> None:
    scene = load_tirs_cloud_scene(sample_data)
    validate_raster(scene.image, get_profile("cloud"))
    assert scene.image.shape == (1, 259, 255)
    valid = scene.valid == 1
    kelvin = _kelvin(scene.image)
    assert 210 < kelvin[valid].min() < 220 and 300 < kelvin[valid].max() < 310  # README: 214-305 K
    assert abs(scene.mask[valid].mean() - 0.267) < 0.01
    assert kelvin[(scene.mask == 1)].mean() < kelvin[valid & (scene.mask == 0)].mean()


def test_tirs_unlabelled_scene(sample_data: Path) -> None:
    scene = load_tirs_unlabelled_scene(sample_data)
    validate_raster(scene.image, get_profile("cloud"))
    assert scene.mask is None and 0.7 < scene.valid.mean() < 0.9
    kelvin = _kelvin(scene.image)
    assert kelvin[scene.valid == 1].max() - 273.15 == pytest.approx(19.8, abs=0.1)


def test_building_scenes_in_profile_band_order(sample_data: Path) -> None:
    scenes = load_building_scenes(sample_data)
    assert len(scenes) == 5
    raw = np.load(
        sample_data / "building/s2_eolearn_TestEOPatch_slovenia_LULC/REFERENCE_SCENES.npy"
    )
    for t, scene in enumerate(scenes):
        validate_raster(scene.image, get_profile("building"))
        # Profile band 3 is B08, file band 7 of the 13-band original.
        np.testing.assert_allclose(scene.image[3], np.rint(raw[t, ..., 7] * 10000), atol=1)
    assert 0.01 < scenes[0].mask.mean() < 0.03


def test_missing_root_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="fire/, cloud/"):
        load_fire_patches(tmp_path)
