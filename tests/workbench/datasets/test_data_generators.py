"""Synthetic scenes: layout per profile, determinism, and the physics the tasks rely on."""

from __future__ import annotations

import numpy as np
import pytest

from shared.errors import ConfigurationError, UnknownNameError
from shared.sensors.physics import brightness_temperature, counts_to_radiance
from shared.sensors.profiles import PROFILES, get_profile, validate_raster
from workbench.datasets import s2_spectra as s2
from workbench.datasets.generate import generate_scene, generate_scenes, scene_seed
from workbench.datasets.synth_building import generate_building_tile_with_classes
from workbench.datasets.synth_cloud import FULL_SCALE_RADIANCE as CLOUD_SCALE
from workbench.datasets.synth_fire import FULL_SCALE_RADIANCE as FIRE_SCALE

COUNTS = {"fire": 40, "cloud": 12, "building": 12}


@pytest.fixture(scope="module")
def scenes() -> dict[str, list]:
    return {task: list(generate_scenes(task, n, seed=11)) for task, n in COUNTS.items()}


@pytest.mark.parametrize("task", sorted(PROFILES))
def test_layout_dtype_and_range(scenes: dict[str, list], task: str) -> None:
    profile = get_profile(task)
    for scene in scenes[task]:
        assert scene.image.shape == profile.shape
        assert scene.image.dtype.name == profile.dtype
        assert scene.mask.shape == profile.tile and scene.mask.dtype == np.uint8
        assert set(np.unique(scene.mask).tolist()) <= {0, 1}
        assert int(scene.image.max()) <= profile.global_max
        if profile.task != "building":
            assert int(scene.image.min()) > 0  # thermal radiance never reaches zero counts
        validate_raster(scene.image, profile, exact_tile=True)


@pytest.mark.parametrize("task", sorted(PROFILES))
def test_same_seed_same_bytes_different_seed_different_scene(task: str) -> None:
    first, again, other = (generate_scene(task, seed) for seed in (5, 5, 6))
    assert first.image.tobytes() == again.image.tobytes()
    assert first.mask.tobytes() == again.mask.tobytes()
    assert first.image.tobytes() != other.image.tobytes()


def test_scene_seeds_are_distinct_and_stable() -> None:
    seeds = [scene_seed(3, i) for i in range(1000)]
    assert len(set(seeds)) == 1000
    assert seeds[7] == scene_seed(3, 7) != scene_seed(4, 7)


def test_bad_arguments_refused() -> None:
    with pytest.raises(UnknownNameError, match="valid tasks"):
        generate_scene("flood", 1)
    with pytest.raises(ConfigurationError, match="seed"):
        generate_scene("fire", -1)
    with pytest.raises(ConfigurationError, match="count"):
        list(generate_scenes("fire", 0, 1))


def _kelvin(image: np.ndarray, wavelength: float, scale: float) -> np.ndarray:
    return brightness_temperature(wavelength, counts_to_radiance(image[0], scale, 14))


def test_fire_background_and_fires(scenes: dict[str, list]) -> None:
    fractions = np.array([s.mask_fraction for s in scenes["fire"]])
    assert 0.0 < np.median(fractions) < 0.15  # fire is a small share of a patch
    assert (fractions > 0).mean() > 0.7
    for scene in scenes["fire"]:
        kelvin = _kelvin(scene.image, 3.8, FIRE_SCALE)
        if scene.mask.any():
            fire = counts_to_radiance(scene.image[0], FIRE_SCALE, 14)[scene.mask == 1]
            background = counts_to_radiance(scene.image[0], FIRE_SCALE, 14)[scene.mask == 0]
            # MWIR fire pixels radiate far above their background (here: > 5x the median).
            assert np.median(fire) > 5 * np.median(background)
        assert 270 < np.median(kelvin[scene.mask == 0]) < 325


def test_fire_has_hot_non_fire_pixels(scenes: dict[str, list]) -> None:
    # Distractors and PSF spill: some unmasked pixels are hotter than 330 K.
    hot_unmasked = sum(
        int(((_kelvin(s.image, 3.8, FIRE_SCALE) > 330) & (s.mask == 0)).sum())
        for s in scenes["fire"]
    )
    assert hot_unmasked > 20


def test_clouds_colder_than_land_beside_them(scenes: dict[str, list]) -> None:
    covers = [s.mask_fraction for s in scenes["cloud"]]
    assert min(covers) < 0.1 and max(covers) > 0.5  # clear to overcast
    contrasts = []
    for scene in scenes["cloud"]:
        if not 0.05 < scene.mask_fraction < 0.95:
            continue
        kelvin = _kelvin(scene.image, 11.5, CLOUD_SCALE)
        cloud = scene.mask == 1
        near = np.zeros_like(cloud)
        for shift in (-6, 6):
            near |= np.roll(cloud, shift, 0) | np.roll(cloud, shift, 1)
        beside = near & ~cloud
        contrasts.append(kelvin[beside].mean() - kelvin[cloud].mean())
        assert 205 < np.percentile(kelvin[cloud], 1) and kelvin[cloud].min() < 265
    assert len(contrasts) >= 3
    # Always colder; usually by far (over cold winter land the contrast is small, as in reality).
    assert min(contrasts) > 3.0 and np.median(contrasts) > 10.0


def test_cloud_edges_are_semi_transparent(scenes: dict[str, list]) -> None:
    # Between the cold cores and the clear surface lie intermediate temperatures.
    scene = max(scenes["cloud"], key=lambda s: min(s.mask_fraction, 1 - s.mask_fraction))
    kelvin = _kelvin(scene.image, 11.5, CLOUD_SCALE)
    cold, warm = np.percentile(kelvin, 2), np.percentile(kelvin, 98)
    middle = ((kelvin > cold + 0.3 * (warm - cold)) & (kelvin < warm - 0.3 * (warm - cold))).mean()
    assert middle > 0.01


def test_building_spectra_separate_vegetation_from_urban() -> None:
    b4, b8 = (get_profile("building").band_index(n) for n in ("B04", "B08"))
    ndvi: dict[int, list[float]] = {s2.VEGETATION: [], s2.URBAN: [], s2.BUILDING_ROOF: []}
    for seed in range(6):
        image, mask, cover = generate_building_tile_with_classes(np.random.default_rng(seed))
        np.testing.assert_array_equal(mask == 1, cover == s2.BUILDING_ROOF)
        red, nir = image[b4].astype(float), image[b8].astype(float)
        index = (nir - red) / (nir + red)
        for cls, values in ndvi.items():
            if (cover == cls).any():
                values.append(float(index[cover == cls].mean()))
        if (cover == s2.VEGETATION).any() and (cover == s2.URBAN).any():
            assert nir[cover == s2.VEGETATION].mean() > 1.1 * nir[cover == s2.URBAN].mean()
            assert red[cover == s2.VEGETATION].mean() < 0.6 * red[cover == s2.URBAN].mean()
    assert min(ndvi[s2.VEGETATION]) > 0.6
    assert max(ndvi[s2.URBAN]) < 0.45 and max(ndvi[s2.BUILDING_ROOF]) < 0.45


def test_buildings_are_a_small_share_and_differ_from_urban(scenes: dict[str, list]) -> None:
    fractions = np.array([s.mask_fraction for s in scenes["building"]])
    assert fractions.max() < 0.15 and fractions.mean() > 0.002
    covers = [generate_building_tile_with_classes(np.random.default_rng(s))[2] for s in range(6)]
    urban_without_buildings = sum(int((c == s2.URBAN).sum()) for c in covers)
    assert urban_without_buildings > 0  # the urban class is not the building mask


# Frozen digests of scene 0 of `eodl data generate --seed 0`: checkpoints that ship with the
# project were trained on these bytes. A change here must be deliberate (update the digests and
# retrain), never a side effect of a refactor or a numpy upgrade.
GOLDEN_SHA256_PREFIX = {
    "fire": "c865faf727729704",
    "cloud": "1647a0999195739c",
    "building": "5d398bdff299011a",
}


@pytest.mark.parametrize("task", sorted(GOLDEN_SHA256_PREFIX))
def test_generated_bytes_are_frozen(task: str) -> None:
    import hashlib

    scene = generate_scene(task, scene_seed(0, 0))
    digest = hashlib.sha256(scene.image.tobytes() + scene.mask.tobytes()).hexdigest()
    assert digest[:16] == GOLDEN_SHA256_PREFIX[task], (
        f"the {task} generator's output changed; if intended, update GOLDEN_SHA256_PREFIX"
    )
