"""Loaders for the handbook's real sample rasters, converted to the sensor profiles' layout.

Every loader takes the sample root explicitly (the folder holding ``fire/``, ``cloud/``,
``building/``); the project never looks for it on its own. Each returns :class:`RealSample`
objects whose ``image`` is (C, H, W) in the profile's dtype and bit depth, so it passes
:func:`shared.sensors.profiles.validate_raster`, and whose ``differs`` says how the real data
differs from the profile (wavelength, resolution, label provenance).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.errors import DatasetError
from shared.sensors.physics import planck_radiance, radiance_to_counts
from shared.sensors.profiles import BUILDING, CLOUD, FIRE
from shared.sensors.readers import read_mask, read_raster
from workbench.datasets.synth_cloud import FULL_SCALE_RADIANCE as CLOUD_FULL_SCALE

FIRE_DIR = "fire/s2_swir_activefire_bc_G90292_20230514"
TIRS_900M_DIR = "cloud/l8_tirs_riotilerpds_LC08_016037_20170813_900m"
TIRS_900M_STEM = "LC08_L1TP_016037_20170813_20170814_01_RT"
TIRS_120M_DIR = "cloud/l8_tirs_riocloudmask_LC80130312015295_120m_UNLABELED"
BUILDING_DIR = "building/s2_eolearn_TestEOPatch_slovenia_LULC"
#: B12 reflectance mapped to the fire profile's full scale (the patches reach 1.61).
FIRE_SWIR_FULL_SCALE = 2.0
#: File order of the eo-learn 10-band cube (B02 B03 B04 B05 B06 B07 B08 B8A B11 B12).
EOLEARN_10BAND_ORDER = ("B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12")
TIRS_B10_UM = 10.9


@dataclass(frozen=True)
class RealSample:
    """A real scene in a profile's layout.

    Shape:
        image: (C, H, W) in the profile's dtype; mask and valid: (H, W) uint8 0/1 or None.
    """

    scene_id: str
    task: str
    image: np.ndarray
    mask: np.ndarray | None
    valid: np.ndarray | None
    differs: str


def load_fire_patches(root: Path) -> list[RealSample]:
    """The 144 Sentinel-2 B12 (SWIR) 32x32 patches of wildfire G90292 with their fire masks.

    B12 reflectance 0..2.0 maps linearly onto the fire profile's 14-bit counts.
    """
    path = _require(root, FIRE_DIR, "fire_patches32_B12_derived.npz")
    try:
        with np.load(path, allow_pickle=False) as archive:
            images, masks = archive["image"], archive["mask"]
            origins = archive["origin_rowcol"]
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetError(f"{path} is unreadable ({exc}); restore the sample data") from exc
    counts = np.clip(np.rint(images / FIRE_SWIR_FULL_SCALE * FIRE.max_count), 0, FIRE.max_count)
    counts = counts.astype(FIRE.dtype)
    differs = (
        "Sentinel-2 B12 (2.19 um SWIR reflectance x 16383/2.0), not 3.8 um MWIR radiance; 20 m "
        "pixels; one scene; mask by the Murphy et al. 2016 ratio test, not manual"
    )
    return [
        RealSample(
            f"fire-g90292-r{int(r):03d}c{int(c):03d}",
            "fire",
            counts[i][None],
            masks[i].astype(np.uint8),
            None,
            differs,
        )
        for i, (r, c) in enumerate(origins)
    ]


def load_tirs_cloud_scene(root: Path) -> RealSample:
    """The Landsat-8 TIRS band-10 scene at 900 m with its CFMask cloud flag and valid mask.

    DN becomes radiance with the MTL's RADIANCE_MULT/ADD, then counts on the cloud profile's
    0..16 W m-2 sr-1 um-1 scale; fill pixels become 0 and are 0 in ``valid``.
    """
    folder = _require(root, TIRS_900M_DIR)
    dn = read_raster(folder / f"{TIRS_900M_STEM}_B10.TIF")[0]
    mult, add = _mtl_constants(folder / f"{TIRS_900M_STEM}_MTL.txt")
    valid = read_mask(folder / "valid_mask_derived.npy")
    radiance = np.where(valid == 1, dn.astype(np.float64) * mult + add, 0.0)
    counts = radiance_to_counts(radiance, CLOUD_FULL_SCALE, CLOUD.bit_depth)
    mask = read_mask(folder / "cloud_mask_bit4_derived.npy")
    return RealSample(
        "cloud-lc08-016037-20170813",
        "cloud",
        counts[None],
        mask * valid,
        valid,
        "Landsat-8 TIRS B10 (10.9 um) radiance, not 11.5 um; 900 m, not 200 m; 259x255 whole "
        "scene with fill; mask is the algorithmic CFMask flag, speckled",
    )


def load_tirs_unlabelled_scene(root: Path) -> RealSample:
    """The Landsat-8 TIRS band-10 scene at 120 m (brightness temperature in deg C), no mask.

    Brightness temperature becomes B10 radiance by Planck's law at 10.9 um, then counts on the
    cloud profile's scale; NaN outside the footprint becomes 0 and is 0 in ``valid``.
    """
    folder = _require(root, TIRS_120M_DIR)
    celsius = read_raster(folder / "LC80130312015295LGN00_B10_toa.tif")[0]
    valid = np.isfinite(celsius).astype(np.uint8)
    kelvin = np.where(valid == 1, celsius.astype(np.float64) + 273.15, 273.15)
    radiance = np.where(valid == 1, planck_radiance(TIRS_B10_UM, kelvin), 0.0)
    counts = radiance_to_counts(radiance, CLOUD_FULL_SCALE, CLOUD.bit_depth)
    return RealSample(
        "cloud-lc80130312015295",
        "cloud",
        counts[None],
        None,
        valid,
        "Landsat-8 TIRS B10 (10.9 um), 120 m, 458x508 with NaN outside the footprint; no mask",
    )


def load_building_scenes(root: Path) -> list[RealSample]:
    """The five eo-learn Sentinel-2 scenes (101x100, 10 m) with the weak artificial-surface mask.

    Bands are reordered from the file's B02..B12 order into the profile's order and reflectance
    is scaled by 10000 into uint16. Scenes 0-1 are cloudy, 2-4 clear.
    """
    folder = _require(root, BUILDING_DIR)
    cube_path = folder / "REFERENCE_SCENES_10band_B02-B12_derived.npy"
    try:
        cube = np.load(cube_path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DatasetError(f"{cube_path} is unreadable ({exc}); restore the sample data") from exc
    if cube.ndim != 4 or cube.shape[-1] != len(EOLEARN_10BAND_ORDER):
        raise DatasetError(f"{folder}: unexpected 10-band cube shape {cube.shape}")
    order = [EOLEARN_10BAND_ORDER.index(name) for name in BUILDING.band_names]
    mask = read_mask(folder / "artificial_surface_mask_LULC8_derived.npy")
    samples = []
    for t, scene in enumerate(cube):
        chw = np.moveaxis(scene[..., order], -1, 0)
        counts = np.clip(np.rint(chw * 10000.0), 0, BUILDING.global_max).astype(BUILDING.dtype)
        samples.append(
            RealSample(
                f"building-eolearn-slovenia-t{t}",
                "building",
                counts,
                mask,
                None,
                "L1C top-of-atmosphere, not L2A surface reflectance; 101x100, not 128x128; mask is "
                "the LULC 'artificial surface' class (roads and houses), not building footprints"
                + ("; cloudy" if t < 2 else ""),
            )
        )
    return samples


def task_samples(root: Path, task: str) -> list[RealSample]:
    """Every real sample of a task: the 144 fire patches, the two TIRS scenes, the five
    Sentinel-2 building scenes.

    Raises:
        DatasetError: an unknown task, or its files are missing or unreadable.
    """
    if task == "fire":
        return load_fire_patches(root)
    if task == "cloud":
        return [load_tirs_cloud_scene(root), load_tirs_unlabelled_scene(root)]
    if task == "building":
        return load_building_scenes(root)
    raise DatasetError(f"no real samples for task {task!r}; use fire, cloud or building")


def _require(root: Path, *parts: str) -> Path:
    path = Path(root).joinpath(*parts)
    if not path.exists():
        raise DatasetError(
            f"sample data {path} not found; pass the folder holding fire/, cloud/, "
            "building/ (the handbook's data/)"
        )
    return path


def _mtl_constants(path: Path) -> tuple[float, float]:
    text = path.read_text()
    found = {}
    for key in ("RADIANCE_MULT_BAND_10", "RADIANCE_ADD_BAND_10"):
        match = re.search(rf"{key}\s*=\s*([-+0-9.Ee]+)", text)
        if match is None:
            raise DatasetError(f"{path.name} lacks {key}; restore the original MTL file")
        found[key] = float(match.group(1))
    return found["RADIANCE_MULT_BAND_10"], found["RADIANCE_ADD_BAND_10"]
