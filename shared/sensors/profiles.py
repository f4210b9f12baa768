"""Sensor profiles: the single source of truth for each task's bands, tile, dtype and scale.

Every part of the project that needs to know what a fire patch, a cloud scene or a building tile
looks like (the generators, the readers' validation, the codecs' :class:`RasterSpec`, the
segmenter's ``in_channels``) reads it from here.

Normalisation follows the paper (Appendix A): divide by the dataset's global maximum so that the
data lies in [0, 1]. Here the global maximum is the sensor's full scale (``2**bit_depth - 1`` for
the 14-bit thermal sensors, reflectance 1.0 = 10000 for Sentinel-2 L2A), so it does not depend on
which scenes happen to be in a dataset and a satellite can normalise a single scene onboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from shared.errors import InvalidRasterError, UnknownNameError

Task = Literal["fire", "cloud", "building"]
TASKS: tuple[str, ...] = ("fire", "cloud", "building")

#: The largest raster a profile accepts, as a multiple of its tile side (full scenes may be
#: larger than a training tile; beyond this the raster is refused as oversize).
MAX_SIDE_FACTOR = 16
# Radiance at the top count of the thermal sensors (W m-2 sr-1 um-1 at count 16383).
FIRE_FULL_SCALE_RADIANCE = 20.0
CLOUD_FULL_SCALE_RADIANCE = 16.0


@dataclass(frozen=True)
class SensorProfile:
    """What a task's rasters are.

    Attributes:
        task: ``fire``, ``cloud`` or ``building``.
        sensor: the instrument, in words.
        band_names: band names in storage order (the order of axis 0 of every raster).
        wavelengths_um: centre wavelength of each band in micrometres.
        tile: (H, W) of a training tile / generated scene.
        dtype: numpy dtype name of stored samples.
        bit_depth: significant bits per sample.
        global_max: normalisation scale; ``raster / global_max`` lies in [0, 1].
        gsd_m: ground sample distance in metres.
        units: what one stored count means.
        noise: the sensor noise model, in words (what the generator applies).
        mask_meaning: what a 1 in the task's mask marks.
    """

    task: Task
    sensor: str
    band_names: tuple[str, ...]
    wavelengths_um: tuple[float, ...]
    tile: tuple[int, int]
    dtype: str
    bit_depth: int
    global_max: float
    gsd_m: float
    units: str
    noise: str
    mask_meaning: str

    @property
    def bands(self) -> int:
        """Number of bands (C)."""
        return len(self.band_names)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one tile."""
        return (self.bands, self.tile[0], self.tile[1])

    @property
    def max_count(self) -> int:
        """Largest valid stored count (``2**bit_depth - 1``)."""
        return int(2**self.bit_depth - 1)

    def band_index(self, name: str) -> int:
        """Position of a band by name (e.g. ``"B08"``); an unknown name lists the valid ones."""
        try:
            return self.band_names.index(name)
        except ValueError:
            raise UnknownNameError(
                f"band {name!r} is not in the {self.task} profile; "
                f"bands: {', '.join(self.band_names)}"
            ) from None


FIRE = SensorProfile(
    task="fire",
    sensor="MWIR imager (CubeSat class), 3.8 um, 14-bit, linear in radiance",
    band_names=("MWIR_3.8",),
    wavelengths_um=(3.8,),
    tile=(32, 32),
    dtype="uint16",
    bit_depth=14,
    global_max=float(2**14 - 1),
    gsd_m=200.0,
    units="count = radiance / 20 W m-2 sr-1 um-1 * 16383 (0..20 W m-2 sr-1 um-1)",
    noise="NEdT 0.1 K at 300 K (Gaussian in radiance), PSF 0.8 px, then 14-bit quantisation",
    mask_meaning="1 = actively burning pixel (burning fraction >= 2e-3)",
)

CLOUD = SensorProfile(
    task="cloud",
    sensor="LWIR imager, 11.5 um, 200 m GSD, 14-bit, linear in radiance",
    band_names=("LWIR_11.5",),
    wavelengths_um=(11.5,),
    tile=(256, 256),
    dtype="uint16",
    bit_depth=14,
    global_max=float(2**14 - 1),
    gsd_m=200.0,
    units="count = radiance / 16 W m-2 sr-1 um-1 * 16383 (0..16 W m-2 sr-1 um-1)",
    noise="NEdT 0.15 K at 300 K (Gaussian in radiance), then 14-bit quantisation",
    mask_meaning="1 = cloud (cloud optical effect: emissivity >= 0.3)",
)

BUILDING = SensorProfile(
    task="building",
    sensor="Sentinel-2 MSI L2A surface reflectance, 20 m bands resampled to 10 m",
    band_names=("B02", "B03", "B04", "B08", "B05", "B06", "B07", "B8A", "B11", "B12"),
    wavelengths_um=(0.490, 0.560, 0.665, 0.842, 0.705, 0.740, 0.783, 0.865, 1.610, 2.190),
    tile=(128, 128),
    dtype="uint16",
    bit_depth=14,
    global_max=10000.0,
    gsd_m=10.0,
    units="count = surface reflectance x 10000 (no L2A offset), clipped to 0..10000",
    noise="Gaussian reflectance noise sigma 0.003-0.005 per band; PSF 0.4 px (10 m bands), "
    "0.9 px (20 m bands)",
    mask_meaning="1 = building footprint",
)

PROFILES: dict[str, SensorProfile] = {p.task: p for p in (FIRE, CLOUD, BUILDING)}


def get_profile(task: str) -> SensorProfile:
    """Look a profile up by task name; an unknown task lists the valid ones."""
    try:
        return PROFILES[task]
    except KeyError:
        raise UnknownNameError(
            f"unknown task {task!r}; valid tasks: {', '.join(PROFILES)}"
        ) from None


def validate_raster(
    raster: NDArray[Any], profile: SensorProfile, *, exact_tile: bool = False
) -> None:
    """Refuse a (C, H, W) raster that does not fit a profile, saying what and how to fix it.

    Checks the number of dimensions, the band count, the dtype, NaN/Inf samples, the size
    (at most ``MAX_SIDE_FACTOR`` tiles per side, or exactly one tile with ``exact_tile``) and,
    for integer samples, that no count exceeds the profile's bit depth.

    Shape:
        raster: (C, H, W).

    Raises:
        InvalidRasterError: the raster does not fit the profile.
    """
    name = profile.task
    if raster.ndim != 3:
        raise InvalidRasterError(
            f"{name} raster must be (C, H, W), got {raster.ndim} dims {raster.shape}; "
            "read files with shared.sensors.readers.read_raster, which adds the band axis"
        )
    if raster.shape[0] != profile.bands:
        raise InvalidRasterError(
            f"{name} raster has {raster.shape[0]} bands, the profile has {profile.bands} "
            f"({', '.join(profile.band_names)}); select or reorder the bands to that order"
        )
    if raster.dtype.name != profile.dtype:
        raise InvalidRasterError(
            f"{name} raster dtype is {raster.dtype}, the profile stores {profile.dtype} "
            f"({profile.units}); convert it, e.g. np.clip(np.rint(x), 0, {profile.max_count})"
            f".astype('{profile.dtype}')"
        )
    _check_size(raster.shape[1:], profile, exact_tile)
    if raster.dtype.kind == "f" and not np.isfinite(raster).all():
        bad = int((~np.isfinite(raster)).sum())
        raise InvalidRasterError(
            f"{name} raster holds {bad} NaN/Inf samples; fill nodata (e.g. with the band median) "
            "or crop to the valid footprint first"
        )
    if raster.dtype.kind in "ui" and raster.size and int(raster.max()) > profile.max_count:
        raise InvalidRasterError(
            f"{name} raster holds counts up to {int(raster.max())}, above the profile's "
            f"{profile.bit_depth}-bit full scale {profile.max_count}; clip or rescale it"
        )


def max_plane(profile: SensorProfile) -> tuple[int, int]:
    """The largest (H, W) a scene of the profile may have: its tile times MAX_SIDE_FACTOR."""
    return profile.tile[0] * MAX_SIDE_FACTOR, profile.tile[1] * MAX_SIDE_FACTOR


def _check_size(hw: tuple[int, ...], profile: SensorProfile, exact_tile: bool) -> None:
    height, width = int(hw[0]), int(hw[1])
    if exact_tile and (height, width) != profile.tile:
        raise InvalidRasterError(
            f"{profile.task} tile must be {profile.tile[0]}x{profile.tile[1]}, got "
            f"{height}x{width}; crop or tile the scene to that size"
        )
    cap_h, cap_w = max_plane(profile)
    if height < 1 or width < 1 or height > cap_h or width > cap_w:
        raise InvalidRasterError(
            f"{profile.task} raster is {height}x{width}; accepted sizes are 1x1 to "
            f"{cap_h}x{cap_w}; split larger scenes into {profile.tile[0]}x{profile.tile[1]} tiles"
        )
