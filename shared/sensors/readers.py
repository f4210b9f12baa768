"""Readers for real rasters: ``.npy`` and GeoTIFF, always returned as (C, H, W).

Band order: a ``.npy`` is taken as stored, (C, H, W) or (H, W) (one band added). A GeoTIFF is
read with tifffile and transposed from its own axes (``YX``, ``SYX`` planar, ``YXS``
interleaved, ``IYX`` one page per band) to (C, H, W), bands in the file's sample/page order.

Nodata: the GDAL_NODATA tag (42113) is honoured for floating-point GeoTIFFs, whose nodata
samples become NaN, so that :func:`shared.sensors.profiles.validate_raster` refuses them until the
caller fills them. Integer GeoTIFFs keep their counts (NaN does not exist there); the nodata
value is reported by :func:`read_raster_info` so the caller can mask it. ``.npy`` files carry no
nodata value; NaNs in them are kept as they are. The reader itself allows NaN; validation flags it.

Declared sizes are checked from the header before any sample is read: the bytes
(``max_bytes``), and the image plane against a cap (``max_plane``, a task's largest scene) or
an exact size (``plane``, a mask must match its raster). A compressed TIFF is thus refused on
its tags, never after it expanded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from shared.errors import DatasetError, InvalidRasterError

DEFAULT_MAX_BYTES = 1 << 30
NPY_SUFFIXES = (".npy",)
TIFF_SUFFIXES = (".tif", ".tiff")
GDAL_NODATA_TAG = 42113
_ALLOWED_KINDS = "uif"  # unsigned, signed, float; never bool/object/complex/str


@dataclass(frozen=True)
class RasterInfo:
    """A raster read from disk with what its file said about it.

    Shape:
        data: (C, H, W).
    """

    data: NDArray[Any]
    nodata: float | None
    source_axes: str


@dataclass(frozen=True)
class PlaneLimit:
    """What the image plane (H, W) a file declares may be: at most ``largest``, exactly
    ``exact``, or anything (both None)."""

    largest: tuple[int, int] | None = None
    exact: tuple[int, int] | None = None

    def check(self, height: int, width: int, path: Path) -> None:
        """Refuse a declared plane outside the limit, before anything is decoded."""
        if self.exact is not None and (height, width) != self.exact:
            raise InvalidRasterError(
                f"{path.name}: declares a {height}x{width} image, but it must be "
                f"{self.exact[0]}x{self.exact[1]} (the raster it belongs to); upload this "
                "scene's own mask"
            )
        if self.largest is not None and (height > self.largest[0] or width > self.largest[1]):
            raise InvalidRasterError(
                f"{path.name}: declares a {height}x{width} image, above the largest accepted "
                f"{self.largest[0]}x{self.largest[1]}; split the scene into tiles"
            )


NO_PLANE_LIMIT = PlaneLimit()


def read_raster(
    path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, plane: PlaneLimit = NO_PLANE_LIMIT
) -> NDArray[Any]:
    """Read a ``.npy`` or GeoTIFF raster as (C, H, W) in its stored dtype.

    Shape:
        returns: (C, H, W).

    Raises:
        DatasetError: the file is missing, of an unknown type, truncated or unreadable.
        InvalidRasterError: the contents are not a raster (dtype, number of dims, size).
    """
    return read_raster_info(path, max_bytes=max_bytes, plane=plane).data


def read_raster_info(
    path: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    allow_bool: bool = False,
    plane: PlaneLimit = NO_PLANE_LIMIT,
) -> RasterInfo:
    """Like :func:`read_raster`, also returning the file's nodata value and original axes.

    ``allow_bool`` admits boolean samples (for masks); rasters refuse them.
    """
    path = Path(path)
    kinds = _ALLOWED_KINDS + ("b" if allow_bool else "")
    if not path.is_file():
        raise DatasetError(f"raster file {path} does not exist; check the path")
    suffix = path.suffix.lower()
    if suffix in NPY_SUFFIXES:
        data = _read_npy(path, max_bytes, kinds, plane)
        info = RasterInfo(_to_chw(data, path), None, "CYX" if data.ndim == 3 else "YX")
    elif suffix in TIFF_SUFFIXES:
        info = _read_tiff(path, max_bytes, kinds, plane)
    else:
        raise DatasetError(
            f"{path.name}: unknown raster type {suffix!r}; use .npy or GeoTIFF (.tif/.tiff)"
        )
    return info


def read_mask(
    path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, plane: PlaneLimit = NO_PLANE_LIMIT
) -> NDArray[Any]:
    """Read a binary mask (``.npy`` or GeoTIFF) as (H, W) uint8 holding only 0 and 1.

    Accepts bool, 0/1 and 0/255 masks (the 38-Cloud convention), with or without a leading
    band axis of length 1.

    Shape:
        returns: (H, W).

    Raises:
        DatasetError: the file is missing or unreadable.
        InvalidRasterError: more than one band, or values other than 0/1 (or 0/255).
    """
    raster = read_raster_info(path, max_bytes=max_bytes, allow_bool=True, plane=plane).data
    if raster.shape[0] != 1:
        raise InvalidRasterError(
            f"{Path(path).name}: a mask has one band, got {raster.shape[0]}; save it as (H, W)"
        )
    return binarise_mask(raster[0], name=Path(path).name)


def read_patches(
    path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, plane: PlaneLimit = NO_PLANE_LIMIT,
    mask: bool = False,
) -> NDArray[Any]:  # fmt: skip
    """Read many small scenes of one shape from one ``.npy``: (N, C, h, w), or (N, h, w) for
    single-band patches (or masks, one per patch). ``plane`` bounds each patch's (h, w);
    shape, dtype and size are checked before the array is read.

    Shape:
        returns: (N, C, h, w); masks (N, h, w) uint8 of 0/1.

    Raises:
        DatasetError: not a readable ``.npy`` (a GeoTIFF holds one scene: send it alone).
        InvalidRasterError: the wrong number of dims, dtype, size, or mask values.
    """
    path = Path(path)
    if path.suffix.lower() not in NPY_SUFFIXES:
        raise DatasetError(
            f"{path.name}: patches come as one .npy of shape (N, C, h, w) or (N, h, w)"
        )
    try:
        with path.open("rb") as fh:
            shape, _, dtype = _read_npy_header(fh, np.lib.format.read_magic(fh))
    except (ValueError, EOFError, OSError) as exc:
        raise DatasetError(f"{path.name}: not a readable .npy file ({exc}); re-save it") from exc
    _check_dtype(dtype, path, _ALLOWED_KINDS + ("b" if mask else ""))
    dims = (3,) if mask else (3, 4)
    if len(shape) not in dims or shape[0] < 1:
        expected = "(N, h, w)" if mask else "(N, C, h, w) or (N, h, w)"
        raise InvalidRasterError(f"{path.name}: patches of shape {shape}; expected {expected}")
    plane.check(int(shape[-2]), int(shape[-1]), path)
    declared = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if declared > max_bytes:
        raise InvalidRasterError(
            f"{path.name}: declares {shape} {dtype} = {declared} bytes, above the "
            f"{max_bytes}-byte limit; send the patches in smaller groups"
        )
    try:
        data = np.asarray(np.load(path, allow_pickle=False))
    except (ValueError, EOFError, OSError) as exc:
        raise DatasetError(f"{path.name}: .npy file is truncated or corrupt ({exc})") from exc
    if mask:
        return np.stack([binarise_mask(m, name=path.name) for m in data])
    return data if data.ndim == 4 else data[:, None]


def binarise_mask(mask: NDArray[Any], *, name: str = "mask") -> NDArray[Any]:
    """Turn a bool, 0/1 or 0/255 (H, W) array into uint8 0/1, refusing anything else."""
    if mask.ndim != 2:
        raise InvalidRasterError(f"{name}: a mask must be (H, W), got shape {mask.shape}")
    if mask.dtype.kind == "f" and not np.isfinite(mask).all():
        raise InvalidRasterError(f"{name}: the mask holds NaN/Inf; a mask holds only 0 and 1")
    values = np.unique(mask)
    if set(values.tolist()) <= {0, 1}:
        return mask.astype(np.uint8)
    if set(values.tolist()) <= {0, 255}:
        return (mask == 255).astype(np.uint8)
    shown = ", ".join(str(v) for v in values[:6].tolist())
    raise InvalidRasterError(
        f"{name}: mask values must be 0/1 (or 0/255), found {shown}; threshold it first"
    )


def _read_npy(path: Path, max_bytes: int, kinds: str, plane: PlaneLimit) -> NDArray[Any]:
    try:
        with path.open("rb") as fh:
            version = np.lib.format.read_magic(fh)
            shape, _, dtype = _read_npy_header(fh, version)
    except (ValueError, EOFError, OSError) as exc:
        raise DatasetError(f"{path.name}: not a readable .npy file ({exc}); re-save it") from exc
    _check_dtype(dtype, path, kinds)
    if len(shape) >= 2:
        plane.check(int(shape[-2]), int(shape[-1]), path)
    _check_declared(shape, dtype, path, max_bytes)
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise DatasetError(
            f"{path.name}: .npy file is truncated or corrupt ({exc}); re-save it with np.save"
        ) from exc
    return np.asarray(data)


def _read_npy_header(
    fh: BinaryIO, version: tuple[int, int]
) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fh)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(fh)
    raise ValueError(f"unsupported .npy format version {version}")


def _read_tiff(path: Path, max_bytes: int, kinds: str, plane: PlaneLimit) -> RasterInfo:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            _check_dtype(np.dtype(series.dtype), path, kinds)
            axes = series.axes
            if "Y" in axes and "X" in axes:
                plane.check(series.shape[axes.index("Y")], series.shape[axes.index("X")], path)
            _check_declared(tuple(series.shape), np.dtype(series.dtype), path, max_bytes)
            data = series.asarray()
            nodata = _tiff_nodata(tif.pages[0])
    except InvalidRasterError:
        raise
    except (tifffile.TiffFileError, ValueError, OSError, IndexError) as exc:
        raise DatasetError(f"{path.name}: not a readable TIFF ({exc}); check the file") from exc
    cube = _tiff_to_chw(np.asarray(data), axes, path)
    if nodata is not None and cube.dtype.kind == "f":
        cube = np.where(cube == np.float32(nodata), np.nan, cube).astype(cube.dtype)
    return RasterInfo(cube, nodata, axes)


def _tiff_nodata(page: object) -> float | None:
    tags = getattr(page, "tags", {})
    if GDAL_NODATA_TAG not in tags:
        return None
    text = str(tags[GDAL_NODATA_TAG].value).strip().strip("\x00")
    try:
        return float(text)
    except ValueError:
        return None


def _tiff_to_chw(data: NDArray[Any], axes: str, path: Path) -> NDArray[Any]:
    """Move the band axis (S, I, C, Q, or the only leading axis) first and drop length-1 axes."""
    if "Y" not in axes or "X" not in axes:
        raise InvalidRasterError(f"{path.name}: TIFF has no image plane (axes {axes!r})")
    kept = [i for i, a in enumerate(axes) if a in "YX" or data.shape[i] > 1]
    data = data.reshape([data.shape[i] for i in kept])
    axes = "".join(axes[i] for i in kept)
    band_axes = [i for i, a in enumerate(axes) if a not in "YX"]
    if len(band_axes) > 1:
        raise InvalidRasterError(
            f"{path.name}: TIFF has axes {axes!r}; only one band axis is supported, "
            "write one (bands, rows, columns) image per file"
        )
    order = band_axes + [axes.index("Y"), axes.index("X")]
    return _to_chw(np.ascontiguousarray(np.transpose(data, order)), path)


def _to_chw(data: NDArray[Any], path: Path) -> NDArray[Any]:
    if data.ndim == 2:
        return data[np.newaxis]
    if data.ndim == 3:
        return data
    raise InvalidRasterError(
        f"{path.name}: raster has {data.ndim} dims {data.shape}; expected (H, W) or (C, H, W). "
        "Save one scene per file"
    )


def _check_dtype(dtype: np.dtype[Any], path: Path, kinds: str) -> None:
    if dtype.kind not in kinds or dtype.hasobject:
        raise InvalidRasterError(
            f"{path.name}: dtype {dtype} is not a raster sample type; use unsigned/signed "
            "integers or floats (e.g. uint16 counts or float32 reflectance)"
        )


def _check_declared(
    shape: tuple[int, ...], dtype: np.dtype[Any], path: Path, max_bytes: int
) -> None:
    if len(shape) not in (2, 3) and path.suffix.lower() not in TIFF_SUFFIXES:
        raise InvalidRasterError(
            f"{path.name}: raster has {len(shape)} dims {shape}; expected (H, W) or (C, H, W). "
            "Save one scene per file"
        )
    declared = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if declared > max_bytes:
        raise InvalidRasterError(
            f"{path.name}: declares {shape} {dtype} = {declared} bytes, above the "
            f"{max_bytes}-byte limit; split the scene into tiles"
        )
