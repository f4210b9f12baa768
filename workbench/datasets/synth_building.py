"""Synthetic Sentinel-2 L2A building tiles: a land-cover map rendered with band signatures.

Layout (128 x 128 pixels of 10 m):

- relief (1/f**3) floods into lakes and rivers in half the tiles (2-20% water);
- fields: a Voronoi mosaic of 15-45 parcels, each forest, grass, crop (green cover 20-100%,
  the rest bare soil in between the rows) or bare soil;
- roads: 0-3 gently winding roads, 0.8-1.8 px wide (mixed pixels at the kerbs);
- settlements: 80% of tiles hold 1-3, centred on a road where there is one; a settlement is an
  urban fabric (concrete with 10-40% gardens) carrying small buildings (1x1 to 3x4 px, i.e.
  10-40 m), densest at its centre; a few farm buildings stand alone near roads.

Plastic greenhouses stand on farmland in 30% of tiles (bright and roof-like, not buildings).

Rendering: per-pixel linear mixing of the signatures in :mod:`workbench.datasets.s2_spectra`, roofs
filling 55-100% of their pixels with a per-building brightness, a per-parcel brightness factor,
a Gaussian PSF (0.4 px for the 10 m bands, 0.9 px for the 20 m bands, which were resampled),
per-band Gaussian noise, then reflectance x 10000 as uint16. Buildings are the mask; they sit in
or beside the urban class but are not the urban class, and their 20 m bands are smeared, so the
task is neither trivial nor hopeless (the best single-band threshold, on B02, reaches a pixel
F1 of about 0.5).
"""

from __future__ import annotations

import numpy as np

from shared.sensors.fields import gaussian_blur, power_law_field, quantile_threshold, smoothstep
from shared.sensors.profiles import BUILDING
from workbench.datasets import s2_spectra as s2

SHAPE = BUILDING.tile
GREENHOUSE_SHARE = 0.3


def generate_building_tile(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One building tile and its mask in the building profile's layout.

    Shape:
        returns: image (10, 128, 128) uint16 reflectance x 10000, mask (128, 128) uint8 0/1.
    """
    image, mask, _ = generate_building_tile_with_classes(rng)
    return image, mask


def generate_building_tile_with_classes(
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Like :func:`generate_building_tile`, also returning the land-cover map.

    Shape:
        returns: image (10, H, W) uint16, mask (H, W) uint8, land cover (H, W) uint8 holding
        the class codes of :mod:`workbench.datasets.s2_spectra` (``BUILDING_ROOF`` where the
        mask is 1).
    """
    cover, owner = _parcels(rng)
    water = _water(rng)
    road_share, road_lines = _roads(rng)
    density = _settlements(rng, road_lines)
    cover[density > 0.5] = s2.URBAN
    cover[water] = s2.WATER
    cover[_greenhouses(rng, cover)] = s2.GREENHOUSE
    roofs = _buildings(rng, density, road_share, water)
    buildings = roofs[0]
    reflectance = _render(rng, (cover, owner), road_share, roofs)
    cover[(road_share > 0.5) & ~water] = s2.ROAD
    cover[buildings] = s2.BUILDING_ROOF
    counts = np.clip(np.rint(reflectance * 10000.0), 0, BUILDING.global_max).astype(np.uint16)
    return counts, buildings.astype(np.uint8), cover.astype(np.uint8)


def _grid() -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
    return yy.astype(np.float64), xx.astype(np.float64)


def _parcels(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Voronoi field parcels: a class map (vegetation, crops, bare soil) and parcel ids."""
    count = int(rng.integers(15, 46))
    seeds = rng.uniform(0, SHAPE[0], size=(count, 2))
    yy, xx = _grid()
    dist = (yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2
    owner = np.argmin(dist, axis=-1)
    classes = rng.choice([s2.VEGETATION, s2.CROPS, s2.BARE_SOIL], size=count, p=[0.4, 0.42, 0.18])
    return classes[owner].astype(np.int64), owner


def _water(rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.5:
        return np.zeros(SHAPE, dtype=bool)
    relief = power_law_field(rng, SHAPE, beta=3.0)
    return relief < -quantile_threshold(-relief, rng.uniform(0.02, 0.2))


def _roads(rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[float, float, float]]]:
    """Road cover fraction (0..1) per pixel, and each road's (row, col, angle)."""
    yy, xx = _grid()
    share = np.zeros(SHAPE)
    lines = []
    for _ in range(int(rng.choice([0, 1, 1, 2, 2, 3]))):
        row, col = rng.uniform(16, SHAPE[0] - 16, size=2)
        angle = rng.uniform(0, np.pi)
        along = (xx - col) * np.cos(angle) + (yy - row) * np.sin(angle)
        across = -(xx - col) * np.sin(angle) + (yy - row) * np.cos(angle)
        wiggle = rng.uniform(1.0, 6.0) * np.sin(along / rng.uniform(20, 60) + rng.uniform(0, 6.3))
        half_width = rng.uniform(0.4, 0.9)
        kerb = smoothstep(np.abs(across - wiggle), half_width, half_width + 1.0)
        share = np.maximum(share, 1.0 - kerb)
        lines.append((row, col, angle))
    return share, lines


def _settlements(rng: np.random.Generator, lines: list[tuple[float, float, float]]) -> np.ndarray:
    """Settlement density (0..~1.5): Gaussian cores, roughened by a fractal field."""
    yy, xx = _grid()
    density = np.zeros(SHAPE)
    if rng.random() < 0.2:
        return density
    for _ in range(int(rng.integers(1, 4))):
        if lines and rng.random() < 0.85:
            row, col, angle = lines[int(rng.integers(len(lines)))]
            step = rng.uniform(-40, 40)
            row, col = row + step * np.sin(angle), col + step * np.cos(angle)
        else:
            row, col = rng.uniform(0, SHAPE[0], size=2)
        radius = rng.uniform(5.0, 16.0)
        core = np.exp(-0.5 * ((yy - row) ** 2 + (xx - col) ** 2) / radius**2)
        density = np.maximum(density, core)
    return density * (1.0 + 0.35 * power_law_field(rng, SHAPE, beta=2.2))


def _buildings(
    rng: np.random.Generator, density: np.ndarray, road_share: np.ndarray, water: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Building footprints (bool), roof reflectance (C, H, W) and roof fill (H, W, 0.55..1).

    A building's roof is one of the roof signatures, brightened or darkened by up to ~40%
    (age, soiling, pitch) and filling 55-100% of its pixels (footprints do not follow the
    pixel grid; a pixel at least half covered is labelled building).
    """
    free = ~water & (road_share < 0.3)
    weight = np.where(free, np.clip(density, 0, None) ** 2 + 0.002 * (road_share > 0.05), 0.0)
    total = weight.sum()
    buildings = np.zeros(SHAPE, dtype=bool)
    roof_refl = np.zeros((BUILDING.bands, *SHAPE))
    fill = np.zeros(SHAPE)
    if total <= 0:
        return buildings, roof_refl, fill
    count = int(rng.poisson(total * rng.uniform(0.12, 0.3))) + int(rng.poisson(0.5))
    spots = rng.choice(weight.size, size=count, p=(weight / total).ravel())
    roofs = np.stack([s2.spectrum(name) for name in s2.ROOF_TYPES])
    settlement_roof = int(rng.integers(len(s2.ROOF_TYPES)))
    for spot in spots:
        row, col = divmod(int(spot), SHAPE[1])
        height, width = int(rng.integers(1, 4)), int(rng.integers(1, 5))
        if rng.random() < 0.5:
            height, width = width, height
        block = (slice(row, row + height), slice(col, col + width))
        roof = settlement_roof if rng.random() < 0.6 else int(rng.integers(len(s2.ROOF_TYPES)))
        buildings[block] = True
        roof_refl[(slice(None), *block)] = (roofs[roof] * rng.lognormal(0.0, 0.2))[:, None, None]
        fill[block] = rng.uniform(0.55, 1.0)
    buildings &= free
    return buildings, roof_refl, np.where(buildings, fill, 0.0)


def _greenhouses(rng: np.random.Generator, cover: np.ndarray) -> np.ndarray:
    """Plastic greenhouses and polytunnels on farmland: bright, roof-like, not buildings."""
    found = np.zeros(SHAPE, dtype=bool)
    if rng.random() >= GREENHOUSE_SHARE:
        return found
    farmland = (cover == s2.CROPS) | (cover == s2.BARE_SOIL)
    for _ in range(int(rng.integers(1, 7))):
        row, col = rng.integers(0, SHAPE[0] - 4), rng.integers(0, SHAPE[1] - 6)
        height, width = int(rng.integers(2, 6)), int(rng.integers(3, 9))
        block = (slice(row, row + height), slice(col, col + width))
        found[block] = farmland[block]
    return found


def _render(
    rng: np.random.Generator,
    layers: tuple[np.ndarray, np.ndarray],
    road_share: np.ndarray,
    roofs: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> np.ndarray:
    """Surface reflectance (C, H, W) from the land-cover layers, PSF and noise."""
    texture = power_law_field(rng, SHAPE, beta=2.0)
    refl = _surface_base(rng, layers[0], layers[1], texture)
    asphalt = s2.spectrum("asphalt")[:, None, None]
    refl = road_share * asphalt + (1.0 - road_share) * refl
    refl = np.where(layers[0] == s2.GREENHOUSE, s2.spectrum("greenhouse")[:, None, None], refl)
    buildings, roof_refl, fill = roofs
    roof_refl = roof_refl * (1.0 + 0.05 * texture)
    refl = np.where(buildings, fill * roof_refl + (1.0 - fill) * refl, refl)
    is_20m = s2.is_20m_band()
    refl[~is_20m] = gaussian_blur(refl[~is_20m], s2.PSF_SIGMA_10M)
    refl[is_20m] = gaussian_blur(refl[is_20m], s2.PSF_SIGMA_20M)
    sigma = np.asarray(s2.NOISE_SIGMA)[:, None, None]
    return refl + sigma * rng.standard_normal(refl.shape)


def _surface_base(
    rng: np.random.Generator, cover: np.ndarray, parcel_id: np.ndarray, texture: np.ndarray
) -> np.ndarray:
    """Reflectance of parcels, water and urban fabric before roads and roofs."""
    n_parcels = int(parcel_id.max()) + 1
    green = rng.uniform(0.2, 1.0, size=n_parcels)[parcel_id]
    bright = rng.lognormal(0.0, 0.12, size=n_parcels)[parcel_id]
    soil = s2.spectrum("soil")[:, None, None]
    forest_or_grass = np.where(
        rng.random(n_parcels)[parcel_id] < 0.5,
        s2.spectrum("forest")[:, None, None],
        s2.spectrum("grass")[:, None, None],
    )
    crop = green * s2.spectrum("crop")[:, None, None] + (1.0 - green) * soil
    refl = np.where(cover == s2.CROPS, crop, np.where(cover == s2.BARE_SOIL, soil, forest_or_grass))
    refl = refl * bright * (1.0 + 0.06 * texture)
    garden = np.clip(0.25 + 0.15 * texture, 0.1, 0.4)
    paving = s2.spectrum("concrete")[:, None, None] * np.exp(
        0.2 * power_law_field(rng, SHAPE, beta=1.5)
    )  # yards, car parks and plazas vary from dark to bright
    urban = (1.0 - garden) * paving + garden * s2.spectrum("grass")[:, None, None]
    refl = np.where(cover == s2.URBAN, urban, refl)
    water = s2.spectrum("water")[:, None, None] * (1.0 + 0.03 * texture)
    return np.where(cover == s2.WATER, water, refl)
