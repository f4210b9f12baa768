"""What the ground saw, as places: fire hotspots as points, clouds as polygons, in WGS84.

Fire: one GeoJSON point per connected hotspot (8-connected fire pixels of the predicted mask)
at the centre of its hottest pixel, which is a fire pixel whatever the cluster's shape, with
its pixel count and its peak count and radiance (the fire profile's linear scale). Cloud: the
mask's connected regions as polygons (GDAL's polygonize), reprojected to WGS84 (RFC 7946).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shared.sensors.profiles import get_profile
from shared.wire.georef import Georef

WGS84 = "EPSG:4326"
FIRE_FULL_SCALE = 20.0  # W m-2 sr-1 um-1 at the fire profile's full-scale count
MAX_FEATURES = 5000


def to_wgs84(georef: Georef, xs: list[float], ys: list[float]) -> tuple[list[float], list[float]]:
    """CRS coordinates to (longitudes, latitudes)."""
    from rasterio.warp import transform

    from ground_station.geo.cog import crs_of

    lons, lats = transform(crs_of(georef), WGS84, xs, ys)
    return list(lons), list(lats)


def pixel_centres(
    georef: Georef, rows: list[int], cols: list[int]
) -> tuple[list[float], list[float]]:
    """CRS coordinates of pixel centres."""
    a, b, c, d, e, f = georef.transform
    xs = [a * (col + 0.5) + b * (row + 0.5) + c for row, col in zip(rows, cols, strict=True)]
    ys = [d * (col + 0.5) + e * (row + 0.5) + f for row, col in zip(rows, cols, strict=True)]
    return xs, ys


def fire_hotspots(
    mask: np.ndarray, raster: np.ndarray, georef: Georef, task: str = "fire"
) -> list[dict[str, Any]]:
    """One point feature per connected hotspot, the largest first.

    Shape:
        mask: (H, W) 0/1; raster: (C, H, W) in counts (band 0 is the fire band).
    """
    from scipy import ndimage

    labels, count = ndimage.label(mask > 0, structure=np.ones((3, 3), dtype=int))
    band = raster[0].astype(np.float64)
    spots = []
    for label in range(1, min(count, MAX_FEATURES) + 1):
        rows, cols = np.nonzero(labels == label)
        peak = int(np.argmax(band[rows, cols]))
        spots.append(
            (int(rows.size), int(rows[peak]), int(cols[peak]), float(band[rows[peak], cols[peak]]))
        )
    spots.sort(key=lambda s: -s[0])
    xs, ys = pixel_centres(georef, [s[1] for s in spots], [s[2] for s in spots])
    lons, lats = to_wgs84(georef, xs, ys) if spots else ([], [])
    full = get_profile(task).global_max
    return [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {
                "kind": "fire hotspot",
                "pixel_count": size,
                "peak_row": row,
                "peak_col": col,
                "peak_count": value,
                "peak_radiance_w_m2_sr_um": value / full * FIRE_FULL_SCALE,
            },
        }
        for (size, row, col, value), lon, lat in zip(spots, lons, lats, strict=True)
    ]


def cloud_polygons(mask: np.ndarray, georef: Georef) -> list[dict[str, Any]]:
    """The cloud mask's regions as polygon features in WGS84, the largest first.

    Shape:
        mask: (H, W) 0/1.
    """
    from rasterio.features import shapes
    from rasterio.warp import transform_geom

    from ground_station.geo.cog import affine_of, crs_of

    binary = (mask > 0).astype(np.uint8)
    regions = []
    for geometry, _value in shapes(binary, mask=binary.astype(bool), transform=affine_of(georef)):
        pixels = _area_pixels(geometry, georef)
        regions.append((pixels, transform_geom(crs_of(georef), WGS84, geometry)))
    regions.sort(key=lambda r: -r[0])
    return [
        {
            "type": "Feature",
            "geometry": dict(geometry),
            "properties": {"kind": "cloud", "pixel_count": pixels},
        }
        for pixels, geometry in regions[:MAX_FEATURES]
    ]


def _area_pixels(geometry: dict[str, Any], georef: Georef) -> int:
    """A polygon's area in pixels (shoelace on the outer ring, minus holes)."""
    a, b, _c, d, e, _f = georef.transform
    pixel = abs(a * e - b * d)
    total = 0.0
    for index, ring in enumerate(geometry["coordinates"]):
        xs, ys = np.asarray(ring).T
        area = 0.5 * abs(float(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))))
        total += area if index == 0 else -area
    return round(total / pixel)


def feature_collection(features: list[dict[str, Any]], **properties: Any) -> dict[str, Any]:
    """A GeoJSON FeatureCollection (RFC 7946: WGS84 longitude, latitude)."""
    return {"type": "FeatureCollection", "features": features, "properties": properties}
