"""Cloud-Optimized GeoTIFFs through GDAL's COG driver (rasterio): tiled, deflate, with
internal overviews where the raster is large enough to need them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shared.wire.georef import Georef

BLOCK = 256  # GDAL's default COG block


def affine_of(georef: Georef) -> Any:
    """The georeference's transform as rasterio's Affine."""
    from affine import Affine

    return Affine(*georef.transform)


def crs_of(georef: Georef) -> Any:
    """The georeference's CRS as rasterio's CRS."""
    from rasterio.crs import CRS

    return CRS.from_user_input(georef.crs)


def write_cog(
    path: Path,
    array: np.ndarray,
    georef: Georef,
    *,
    nodata: float | None = None,
    mask: bool = False,
) -> None:
    """Write ``array`` (C, H, W) or (H, W) as a COG at ``path`` (atomically: a temporary name,
    then a rename). Masks use nearest-neighbour overviews, rasters averaging.

    Shape:
        array: (C, H, W) or (H, W).
    """
    import rasterio

    cube = array[np.newaxis] if array.ndim == 2 else array
    tmp = path.with_name(f".{path.name}.tmp")
    profile = {
        "driver": "COG",
        "width": cube.shape[2],
        "height": cube.shape[1],
        "count": cube.shape[0],
        "dtype": cube.dtype.name,
        "crs": crs_of(georef),
        "transform": affine_of(georef),
        "compress": "DEFLATE",
        "blocksize": BLOCK,
        "overview_resampling": "NEAREST" if mask else "AVERAGE",
        "nodata": nodata,
    }
    with rasterio.open(tmp, "w", **profile) as out:
        out.write(cube)
        if georef.acquired:
            out.update_tags(ACQUISITION_TIME=georef.acquired)
    tmp.replace(path)
