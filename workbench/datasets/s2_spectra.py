"""Sentinel-2 surface-reflectance signatures of the land covers the building generator renders.

Values are typical L2A surface reflectances (0..1) at the profile's band order
B02 B03 B04 B08 B05 B06 B07 B8A B11 B12, read off published library spectra (USGS splib07 and
ECOSTRESS/ASTER, convolved to the MSI bands) and rounded: green vegetation is dark in B04 and
bright in B08/B8A past the red edge (B05-B07); soil rises steadily to B11; water is dark beyond
B04; asphalt is dark and flat; roofs vary (red clay tile, concrete, metal, dark bitumen);
plastic greenhouses are bright across the visible with some vegetation red edge beneath.
"""

from __future__ import annotations

import numpy as np

from shared.sensors.profiles import BUILDING

#: Land-cover class codes of the building generator's land-cover map.
WATER, VEGETATION, CROPS, BARE_SOIL, ROAD, URBAN, BUILDING_ROOF, GREENHOUSE = range(8)
CLASS_NAMES: tuple[str, ...] = (
    "water",
    "vegetation",
    "crops",
    "bare_soil",
    "road",
    "urban",
    "building",
    "greenhouse",
)

_BANDS = BUILDING.band_names  # B02 B03 B04 B08 B05 B06 B07 B8A B11 B12

SPECTRA: dict[str, tuple[float, ...]] = {
    #                  B02    B03    B04    B08    B05    B06    B07    B8A    B11    B12
    "water": (0.060, 0.050, 0.030, 0.015, 0.025, 0.020, 0.018, 0.012, 0.008, 0.005),
    "forest": (0.025, 0.050, 0.025, 0.330, 0.080, 0.220, 0.290, 0.340, 0.160, 0.070),
    "grass": (0.035, 0.070, 0.040, 0.380, 0.100, 0.260, 0.330, 0.390, 0.220, 0.110),
    "crop": (0.040, 0.080, 0.045, 0.430, 0.110, 0.290, 0.380, 0.440, 0.230, 0.120),
    "soil": (0.080, 0.110, 0.150, 0.250, 0.180, 0.210, 0.230, 0.260, 0.320, 0.260),
    "asphalt": (0.080, 0.090, 0.100, 0.130, 0.110, 0.120, 0.125, 0.135, 0.150, 0.130),
    "concrete": (0.140, 0.150, 0.160, 0.210, 0.170, 0.190, 0.200, 0.215, 0.240, 0.210),
    "roof_tile": (0.070, 0.090, 0.180, 0.270, 0.210, 0.240, 0.260, 0.275, 0.300, 0.220),
    "roof_concrete": (0.170, 0.180, 0.190, 0.230, 0.200, 0.215, 0.225, 0.235, 0.260, 0.230),
    "roof_metal": (0.230, 0.250, 0.260, 0.300, 0.270, 0.280, 0.290, 0.300, 0.280, 0.240),
    "roof_dark": (0.060, 0.065, 0.070, 0.090, 0.075, 0.080, 0.085, 0.090, 0.100, 0.090),
    "greenhouse": (0.190, 0.210, 0.210, 0.320, 0.220, 0.260, 0.290, 0.320, 0.270, 0.210),
}
ROOF_TYPES: tuple[str, ...] = ("roof_tile", "roof_concrete", "roof_metal", "roof_dark")

#: Per-band reflectance noise sigma (detector noise at SNR ~100-170 plus L2A retrieval noise).
NOISE_SIGMA: tuple[float, ...] = (
    0.004,
    0.004,
    0.004,
    0.005,
    0.004,
    0.004,
    0.004,
    0.005,
    0.004,
    0.003,
)

#: PSF sigma in 10 m pixels: native 10 m bands, and 20 m bands resampled to 10 m.
PSF_SIGMA_10M = 0.4
PSF_SIGMA_20M = 0.9
BANDS_20M: tuple[str, ...] = ("B05", "B06", "B07", "B8A", "B11", "B12")


def spectrum(name: str) -> np.ndarray:
    """One signature as a (C,) float64 array in the profile's band order."""
    return np.asarray(SPECTRA[name], dtype=np.float64)


def is_20m_band() -> np.ndarray:
    """(C,) bool: which of the profile's bands were resampled from 20 m."""
    return np.array([name in BANDS_20M for name in _BANDS])
