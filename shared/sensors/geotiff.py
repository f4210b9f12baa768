"""Georeferenced rasters in: GeoTIFF and Cloud-Optimized GeoTIFF through rasterio (GDAL).

What missions and researchers hold: one multi-band GeoTIFF, or a set of single-band files
named by band (``..._B04.tif``, ``..._B8A.jp2``... as Sentinel-2 and Landsat products deliver
them). Either way the bands are matched to the task profile's band names (a name matches a
band whose description, or a file whose name, holds it as a word: ``B12`` matches
``20230514 20m: B12 2190nm``), in the profile's order; ``bands`` names others (a stand-in
sensor's). Bands of different resolutions are resampled (bilinear) onto the finest one's grid.

Declared sizes are checked before a pixel is decoded (as :mod:`shared.sensors.readers` does).
Each band's scale and offset (GDAL metadata) are applied; nodata pixels come back in
``nodata`` (True where any band has none). The georeference (CRS, affine transform, and the
acquisition time the file's tags give) comes back as a :class:`shared.wire.georef.Georef`, or
None, with the reason, when the file has none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from shared.errors import DatasetError, InvalidRasterError
from shared.sensors.readers import NO_PLANE_LIMIT, PlaneLimit
from shared.wire.georef import Georef

GEO_SUFFIXES = (".tif", ".tiff", ".jp2")
_TIME_TAGS = ("ACQUISITION_TIME", "acquisition_time", "DATETIME", "TIFFTAG_DATETIME")


@dataclass(frozen=True)
class GeoRaster:
    """Bands read with their place on the Earth.

    Shape:
        data: (C, H, W) float64 after scale and offset (or the stored dtype when there are
            none); nodata: (H, W) bool, or None when every pixel is valid.
    """

    data: NDArray[Any]
    band_names: tuple[str, ...]
    georef: Georef | None
    georef_note: str
    nodata: NDArray[Any] | None
    integral: bool = False  # the files held integers (fractions come from resampling only)


def _words(text: str) -> set[str]:
    return {w.upper() for w in re.split(r"[^A-Za-z0-9.]+", text) if w}


def _band_label(dataset: Any, index: int) -> str:
    description = dataset.descriptions[index - 1]
    return str(description) if description else f"band {index}"


def _match(wanted: str, labels: Sequence[str], what: str) -> int:
    hits = [i for i, label in enumerate(labels) if wanted.upper() in _words(label)]
    if len(hits) != 1:
        found = "; ".join(labels)
        how = "none" if not hits else f"{len(hits)}"
        raise InvalidRasterError(
            f"band {wanted!r} matches {how} of the {what} ({found}); name each band the "
            "profile needs (bands=B12 or bands=B02,B03,...), one word of its description "
            "or file name"
        )
    return hits[0]


def _open(path: Path) -> Any:
    import rasterio
    from rasterio.errors import RasterioIOError

    try:
        return rasterio.open(path)
    except RasterioIOError as exc:
        raise DatasetError(f"{path.name}: not a readable raster ({exc}); check the file") from exc


def _check_declared(
    dataset: Any, count: int, max_bytes: int, plane: PlaneLimit, path: Path
) -> None:
    plane.check(dataset.height, dataset.width, path)
    itemsize = max(np.dtype(d).itemsize for d in dataset.dtypes)
    declared = count * dataset.height * dataset.width * itemsize
    if declared > max_bytes:
        raise InvalidRasterError(
            f"{path.name}: declares {count} x {dataset.height} x {dataset.width} samples = "
            f"{declared} bytes, above the {max_bytes}-byte limit; split the scene into tiles"
        )
    if any(np.dtype(d).kind not in "uif" for d in dataset.dtypes):
        raise InvalidRasterError(
            f"{path.name}: sample type {dataset.dtypes[0]} is not a raster sample type; use "
            "integers or floats"
        )


def georef_of(dataset: Any, acquired: str | None = None) -> tuple[Georef | None, str]:
    """The dataset's georeference and a note (why there is none, or where it came from)."""
    if dataset.crs is None:
        return None, "the file has no coordinate reference system: not georeferenced"
    transform = dataset.transform
    if transform.is_identity:
        return None, "the file has a CRS but no geotransform: not georeferenced"
    epsg = dataset.crs.to_epsg()
    crs = f"EPSG:{epsg}" if epsg else dataset.crs.to_wkt()
    when = acquired or _acquired(dataset)
    six = (transform.a, transform.b, transform.c, transform.d, transform.e, transform.f)
    note = f"{crs}, {abs(transform.a):g} m pixels" if epsg else "CRS as WKT"
    return Georef(crs, tuple(float(v) for v in six), when), note  # type: ignore[arg-type]


def read_georef(path: Path, acquired: str | None = None) -> tuple[Georef | None, str]:
    """A raster file's georeference (without reading its pixels) and the note that goes with it.

    Raises:
        DatasetError: not a readable raster.
    """
    with _open(Path(path)) as dataset:
        return georef_of(dataset, acquired)


def _acquired(dataset: Any) -> str | None:
    tags = dataset.tags()
    for key in _TIME_TAGS:
        if key in tags:
            text = str(tags[key]).strip()
            match = re.fullmatch(r"(\d{4}):(\d{2}):(\d{2}) (\d{2}:\d{2}:\d{2})", text)
            return f"{match[1]}-{match[2]}-{match[3]}T{match[4]}Z" if match else text
    return None


def _split(masked: Any) -> tuple[NDArray[Any], NDArray[Any]]:
    """A masked array's values and its mask, full size (rasterio's read(masked=True))."""
    values = np.asarray(masked.data)
    return values, np.broadcast_to(np.asarray(masked.mask, dtype=bool), values.shape)


def _scaled(data: NDArray[Any], scales: Sequence[float], offsets: Sequence[float]) -> Any:
    if all(s in (None, 1.0) for s in scales) and all(o in (None, 0.0) for o in offsets):
        return data
    out = data.astype(np.float64)
    for band, (scale, offset) in enumerate(zip(scales, offsets, strict=True)):
        out[band] = out[band] * (1.0 if scale is None else scale) + (offset or 0.0)
    return out


def read_geotiff(
    path: Path,
    *,
    bands: Sequence[str] | None = None,
    acquired: str | None = None,
    max_bytes: int = 1 << 30,
    plane: PlaneLimit = NO_PLANE_LIMIT,
) -> GeoRaster:
    """Read a (Cloud-Optimized) GeoTIFF; with ``bands``, only those, in that order.

    Raises:
        DatasetError: not a readable raster.
        InvalidRasterError: a band named is missing or ambiguous, or the declared size is
            over a limit (checked before any pixel is decoded).
    """
    path = Path(path)
    with _open(path) as dataset:
        labels = [_band_label(dataset, i) for i in range(1, dataset.count + 1)]
        if bands:
            indexes = [_match(name, labels, f"bands of {path.name}") + 1 for name in bands]
        else:
            indexes = list(range(1, dataset.count + 1))
        _check_declared(dataset, len(indexes), max_bytes, plane, path)
        masked = dataset.read(indexes, masked=True)
        scales = [dataset.scales[i - 1] for i in indexes]
        offsets = [dataset.offsets[i - 1] for i in indexes]
        georef, note = georef_of(dataset, acquired)
    values, invalid = _split(masked)
    nodata = invalid.any(axis=0)
    data = _scaled(values, scales, offsets)
    names = tuple(bands) if bands else tuple(labels)
    integral = values.dtype.kind in "ui"
    return GeoRaster(data, names, georef, note, nodata if nodata.any() else None, integral)


def read_band_files(
    paths: Sequence[Path],
    *,
    bands: Sequence[str],
    acquired: str | None = None,
    max_bytes: int = 1 << 30,
    plane: PlaneLimit = NO_PLANE_LIMIT,
) -> GeoRaster:
    """Read one band per file, matched to ``bands`` by file name (or the band description),
    resampled onto the finest band's grid.

    Raises:
        DatasetError: a file is not a readable raster.
        InvalidRasterError: a band is missing or named twice, the files' CRSs differ, or a
            declared size is over a limit.
    """
    labels = [f"{Path(p).stem} {_description(Path(p))}" for p in paths]
    chosen = [Path(paths[_match(name, labels, "files uploaded")]) for name in bands]
    grids = []
    integral = True
    for path in chosen:
        with _open(path) as dataset:
            integral &= all(np.dtype(d).kind in "ui" for d in dataset.dtypes)
            if dataset.count != 1:
                raise InvalidRasterError(
                    f"{path.name} holds {dataset.count} bands; a band set is one band per file"
                )
            _check_declared(dataset, len(chosen), max_bytes, plane, path)
            grids.append((abs(dataset.transform.a), dataset.crs, dataset.transform, dataset.shape))
    finest = min(range(len(grids)), key=lambda i: grids[i][0])
    crs, transform, shape = grids[finest][1], grids[finest][2], grids[finest][3]
    if any(g[1] != crs for g in grids):
        raise InvalidRasterError(
            "the band files are in different coordinate reference systems; reproject them "
            "to one before uploading"
        )
    cube, nodata = _resampled(chosen, crs, transform, shape)
    with _open(chosen[finest]) as dataset:
        georef, note = georef_of(dataset, acquired)
    found = nodata if nodata.any() else None
    return GeoRaster(cube, tuple(bands), georef, note, found, integral)


def _description(path: Path) -> str:
    with _open(path) as dataset:
        return " ".join(d for d in dataset.descriptions if d)


def _resampled(
    paths: Sequence[Path], crs: Any, transform: Any, shape: tuple[int, int]
) -> tuple[NDArray[Any], NDArray[Any]]:
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    cube = np.zeros((len(paths), *shape), dtype=np.float64)
    nodata = np.zeros(shape, dtype=bool)
    for band, path in enumerate(paths):
        with _open(path) as dataset:
            raw, invalid = _split(dataset.read(1, masked=True))
            valid = ~invalid
            scale, offset = dataset.scales[0] or 1.0, dataset.offsets[0] or 0.0
            values = raw.astype(np.float64) * scale + offset
            for array, out, method in (
                (values, cube[band], Resampling.bilinear),
                (valid.astype(np.uint8), None, Resampling.nearest),
            ):
                target = out if out is not None else np.zeros(shape, dtype=np.uint8)
                reproject(
                    array, target, src_transform=dataset.transform, src_crs=dataset.crs,
                    dst_transform=transform, dst_crs=crs, resampling=method,
                )  # fmt: skip
                if out is None:
                    nodata |= target == 0
    return cube, nodata


def to_profile(
    geo: GeoRaster, dtype: str, max_count: int, scale: float | None = None
) -> tuple[NDArray[Any], int]:
    """The bands as the profile stores them, and how many nodata pixels were filled.

    ``scale`` multiplies the values (after the file's own scale and offset) into the
    profile's counts, e.g. 0.81915 maps Sentinel-2 reflectance x 10000 onto a 14-bit stand-in
    scale of 0..2.0 reflectance; integers resampled from integer files are rounded without
    one. Nodata pixels are filled with their band's median of valid pixels (codecs and
    U-Nets need a value there), and counted.

    Raises:
        InvalidRasterError: fractional values for an integer profile without ``scale``, or
            counts outside 0..max_count after it.
    """
    data = geo.data.astype(np.float64) if scale is not None else geo.data
    if scale is not None:
        data = data * scale
    filled = 0
    if geo.nodata is not None:
        data = data.astype(np.float64)
        valid = ~geo.nodata
        for band in data:
            band[geo.nodata] = float(np.median(band[valid])) if valid.any() else 0.0
        filled = int(geo.nodata.sum())
    if np.dtype(dtype).kind == "f":
        return data.astype(dtype), filled
    if data.dtype.kind == "f":
        if scale is None and not geo.integral and not np.allclose(data, np.rint(data)):
            raise InvalidRasterError(
                f"the bands hold fractional values ({float(data.min()):g}..{float(data.max()):g}) "
                f"and the profile stores {dtype} counts; give scale= (counts per file unit)"
            )
        data = np.rint(data)
    low, high = float(data.min()), float(data.max())
    if low < 0 or high > max_count:
        raise InvalidRasterError(
            f"the bands span {low:g}..{high:g} counts, outside the profile's 0..{max_count}; "
            "give a scale= that maps them into it"
        )
    return data.astype(dtype), filled
