"""Scene intake: turn a multipart upload into a validated raster (and mask) for the store.

Everything that can be judged from the upload itself is judged here, synchronously, so that a
bad upload gets a 4xx that says what was wrong; only encoding waits for the worker.
"""

from __future__ import annotations

import io
import re
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from satellite_node.priority import PRIORITY_NAMES, parse_priority
from satellite_node.store.records import NewScene
from shared.codecs.base import RateTarget
from shared.codecs.patches import stack_patches
from shared.codecs.registry import codec_info
from shared.errors import InvalidRasterError, PayloadTooLargeError
from shared.protocol.tokens import ApiToken
from shared.sensors.geotiff import GEO_SUFFIXES, read_band_files, read_geotiff, to_profile
from shared.sensors.profiles import SensorProfile, get_profile, validate_raster
from shared.sensors.readers import (
    NPY_SUFFIXES,
    TIFF_SUFFIXES,
    PlaneLimit,
    read_mask,
    read_patches,
    read_raster,
)
from shared.wire.georef import Georef

_BLOCK = 1 << 20


@dataclass(frozen=True)
class SceneUpload:
    """A validated upload, ready to be stored.

    Shape:
        raster: (C, H, W) in the profile's dtype (patches sent together: their grid).
        mask: (H, W) uint8 of 0/1, or None.

    Attributes:
        patch_shape: (h, w) when the raster is a grid of patches to send in one container.
        georef, georef_note: where the scene lies (from its GeoTIFF), or None and why not.
    """

    task: str
    codec: str
    rate: RateTarget
    priority: int
    raster_name: str
    raster: np.ndarray = field(repr=False)
    mask: np.ndarray | None = field(default=None, repr=False)
    patch_shape: tuple[int, int] | None = None
    georef: Georef | None = None
    georef_note: str = "a .npy carries no georeference"

    def for_store(self, token: ApiToken | None = None) -> NewScene:
        """The upload in the store's format (``.npy`` bytes, the rate as JSON fields), sent
        by the holder of ``token`` (None without authentication)."""
        return NewScene(
            uploader=None if token is None else token.name,
            task=self.task,
            codec=self.codec,
            rate=rate_to_dict(self.rate),
            priority=self.priority,
            raster_name=self.raster_name,
            raster=npy_bytes(self.raster),
            mask=None if self.mask is None else npy_bytes(self.mask),
            patch_shape=self.patch_shape,
            georef=None if self.georef is None else self.georef.to_dict(),
            georef_note=self.georef_note,
        )


def within_rights(upload: SceneUpload, token: ApiToken | None) -> tuple[SceneUpload, list[str]]:
    """The upload as the token may send it, and notes on what was changed.

    An alert (asked for, or the task's default, as for fire) from a token without the alert
    right is stored at ``high``, the highest priority it may use.
    """
    if token is None or upload.priority != PRIORITY_NAMES["alert"] or token.may_alert():
        return upload, []
    note = (
        f"priority lowered from alert to high: token {token.name!r} may not send alerts "
        "(ask the operator for the alert right)"
    )
    return replace(upload, priority=PRIORITY_NAMES["high"]), [note]


def rate_target(
    bpp: float | None, quality: int | None, lossless: bool, default_bpp: float
) -> RateTarget:
    """The upload's rate target; ``default_bpp`` when it gives none (RateTargetError if two)."""
    if bpp is None and quality is None and not lossless:
        return RateTarget(bpp=default_bpp)
    return RateTarget(bpp=bpp, quality=quality, lossless=lossless)


def rate_to_dict(rate: RateTarget) -> dict[str, Any]:
    """A rate target as the store keeps it (JSON)."""
    return {"bpp": rate.bpp, "quality": rate.quality, "lossless": rate.lossless}


def rate_from_dict(data: dict[str, Any]) -> RateTarget:
    """The rate target the store kept."""
    return RateTarget(
        bpp=data.get("bpp"), quality=data.get("quality"), lossless=bool(data.get("lossless"))
    )


def check_codec_name(codec: str) -> str:
    """``auto`` or a registered codec name (UnknownNameError lists the valid ones)."""
    name = codec.strip()
    if name != "auto":
        codec_info(name)
    return name


def _suffix(filename: str, what: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix not in (*NPY_SUFFIXES, *TIFF_SUFFIXES):
        raise InvalidRasterError(
            f"{what} file {filename!r} has an unknown type; upload a .npy or a GeoTIFF (.tif)"
        )
    return suffix


def _spool(source: BinaryIO, target: BinaryIO, max_bytes: int, what: str) -> None:
    total = 0
    while block := source.read(_BLOCK):
        total += len(block)
        if total > max_bytes:
            raise PayloadTooLargeError(
                f"the {what} file is over the {max_bytes}-byte upload limit; split the scene "
                "into tiles or raise SAT_MAX_UPLOAD_BYTES"
            )
        target.write(block)
    if total == 0:
        raise InvalidRasterError(f"the {what} file is empty; upload the raster's bytes")
    target.flush()


def read_upload(
    source: BinaryIO,
    filename: str,
    max_bytes: int,
    *,
    mask: bool,
    plane: PlaneLimit,
    patches: bool = False,
) -> np.ndarray:
    """Read an uploaded raster (C, H, W) or mask (H, W) through the project's readers; with
    ``patches``, many small scenes in one ``.npy`` (raster (N, C, h, w), mask (N, h, w)).

    The upload is spooled under its own (sanitised) name, so the readers' messages name it.
    ``plane`` bounds the image the file declares, checked before it is decoded (a raster:
    the task's largest scene; a mask: exactly its raster's plane; patches: each patch).
    """
    what = "mask" if mask else "raster"
    suffix = _suffix(filename, what)
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", Path(filename).stem)[:100] or what
    with tempfile.TemporaryDirectory(prefix="eodl-upload-") as folder:
        path = Path(folder) / f"{stem}{suffix}"
        with path.open("wb") as spool:
            _spool(source, spool, max_bytes, what)
        if patches:
            return read_patches(path, max_bytes=max_bytes * 4, plane=plane, mask=mask)
        if mask:
            return read_mask(path, max_bytes=max_bytes * 4, plane=plane)
        return read_raster(path, max_bytes=max_bytes * 4, plane=plane)


@dataclass(frozen=True)
class GeoUpload:
    """A georeferenced upload read: the raster in the profile's counts and its place.

    Shape:
        raster: (C, H, W) in the profile's dtype.
    """

    raster: np.ndarray = field(repr=False)
    georef: Georef | None
    georef_note: str


def read_geo_upload(
    files: list[tuple[BinaryIO, str]],
    profile: SensorProfile,
    max_bytes: int,
    *,
    plane: PlaneLimit,
    bands: list[str] | None = None,
    scale: float | None = None,
    acquired: str | None = None,
) -> GeoUpload:
    """Read a GeoTIFF (one file) or a band set (one file per band) with its georeference,
    bands matched to the profile (or to ``bands``), converted to the profile's counts
    (``scale``: counts per file unit; nodata filled, and said so in the note).

    Raises:
        InvalidRasterError: a band is missing or ambiguous, a size is over a limit, or the
            values do not map onto the profile's counts.
        PayloadTooLargeError: a file is over the upload limit.
    """
    with tempfile.TemporaryDirectory(prefix="eodl-upload-") as folder:
        paths = []
        for index, (source, filename) in enumerate(files):
            suffix = Path(filename).suffix.lower()
            if suffix not in GEO_SUFFIXES:
                raise InvalidRasterError(
                    f"{filename!r}: a band set is GeoTIFF or JPEG 2000 files, one per band"
                )
            stem = re.sub(r"[^A-Za-z0-9._-]", "_", Path(filename).stem)[:100] or "band"
            path = Path(folder) / f"{index:02d}-{stem}{suffix}"
            with path.open("wb") as spool:
                _spool(source, spool, max_bytes, "raster")
            paths.append(path)
        limit = max_bytes * 4
        if len(paths) > 1:
            geo = read_band_files(
                paths, bands=bands or list(profile.band_names), acquired=acquired,
                max_bytes=limit, plane=plane,
            )  # fmt: skip
        else:
            wanted = bands or _default_bands(paths[0], profile)
            geo = read_geotiff(
                paths[0], bands=wanted, acquired=acquired, max_bytes=limit, plane=plane
            )
    raster, filled = to_profile(geo, profile.dtype, profile.max_count, scale)
    note = geo.georef_note + (
        f"; {filled} nodata pixels filled with band medians" if filled else ""
    )
    return GeoUpload(raster, geo.georef, note)


def _default_bands(path: Path, profile: SensorProfile) -> list[str] | None:
    """The file's bands as they are when it has the profile's count, else the profile's
    band names, to be matched."""
    import rasterio

    with rasterio.open(path) as dataset:
        return None if dataset.count == profile.bands else list(profile.band_names)


def validate_upload(upload: SceneUpload) -> None:
    """Check the raster against its task's sensor profile and the mask against the raster.

    Raises:
        InvalidRasterError: what was wrong (band count, dtype, NaNs, size, mask shape).
    """
    validate_raster(upload.raster, get_profile(upload.task))
    if upload.mask is not None and upload.mask.shape != upload.raster.shape[1:]:
        raise InvalidRasterError(
            f"the mask is {upload.mask.shape[0]}x{upload.mask.shape[1]} but the raster is "
            f"{upload.raster.shape[1]}x{upload.raster.shape[2]}; upload the mask of this scene"
        )


def build_upload(
    *,
    task: str,
    codec: str,
    rate: RateTarget,
    priority: str | None,
    raster_name: str,
    raster: np.ndarray,
    mask: np.ndarray | None,
    patches: bool = False,
    geo: GeoUpload | None = None,
) -> SceneUpload:
    """Assemble and validate an upload (task, codec and priority checked first); with
    ``patches``, ``raster`` (N, C, h, w) and ``mask`` (N, h, w) become their grids; ``geo``:
    what :func:`read_geo_upload` found (the georeference travels with the scene)."""
    get_profile(task)
    patch_shape = None
    if patches:
        if mask is not None and mask.shape != (raster.shape[0], *raster.shape[-2:]):
            raise InvalidRasterError(
                f"the masks are {mask.shape} but the patches {raster.shape}: upload one mask "
                "per patch, (N, h, w)"
            )
        raster, patch_shape = stack_patches(raster)
        mask = None if mask is None else stack_patches(mask)[0][0]
    upload = SceneUpload(
        task,
        check_codec_name(codec),
        rate,
        parse_priority(priority, task),
        Path(raster_name).name[:200] or "raster",
        raster,
        mask,
        patch_shape,
        None if geo is None else geo.georef,
        "a .npy carries no georeference" if geo is None else geo.georef_note,
    )
    validate_upload(upload)
    return upload


def npy_bytes(array: np.ndarray) -> bytes:
    """An array as ``.npy`` bytes (no pickles), the store's raw format."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()
