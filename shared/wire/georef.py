"""The georeference a version-2 container may carry: where the scene lies and when it was seen.

Field layout (behind the header's GEOREF flag, as ``length (varint) | field``)::

    kind (1): bit 0 CRS as WKT (else an EPSG code), bit 1 rotated or sheared transform (else
              north-up), bit 2 acquisition time, bit 3 patch origins
    CRS: EPSG code (varint) | WKT: length (varint) + UTF-8
    transform: north-up: a, c, e, f (4 x f64); else a, b, c, d, e, f (6 x f64), the affine
               x = a * col + b * row + c, y = d * col + e * row + f of the raster's pixel
               corners (GDAL's and rasterio's convention)
    [time]: milliseconds since 1970-01-01 UTC (varint)
    [patches]: count (varint), then each patch's (row, col) offset in the source grid (varints)

An EPSG scene seen at a known time costs 42 bytes: 1 + 3 + 32 + 6. For patches sent together
(:mod:`shared.wire.patches`) the transform is the source scene's, and each patch's origin says
where its pixels lie in it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.errors import ContainerError
from shared.varint import decode_uvarint, encode_uvarint

_WKT, _ROTATED, _TIME, _PATCHES = 1, 2, 4, 8
_KNOWN = _WKT | _ROTATED | _TIME | _PATCHES
_F64 = struct.Struct("<d")
MAX_WKT_BYTES = 16384


@dataclass(frozen=True)
class Georef:
    """A raster's place on the Earth.

    Attributes:
        crs: ``EPSG:<code>``, or a WKT string when the CRS has no EPSG code.
        transform: the affine (a, b, c, d, e, f) from pixel corner (col, row) to CRS (x, y).
        acquired: acquisition time, ISO 8601 in UTC, or None.
        patch_origins: for a grid of patches, each patch's (row, col) in the source raster.
    """

    crs: str
    transform: tuple[float, float, float, float, float, float]
    acquired: str | None = None
    patch_origins: tuple[tuple[int, int], ...] | None = None

    @property
    def epsg(self) -> int | None:
        """The EPSG code, or None when the CRS is WKT."""
        if self.crs.upper().startswith("EPSG:"):
            return int(self.crs.split(":", 1)[1])
        return None

    def for_patch(self, index: int) -> Georef:
        """The georeference of one patch of a grid (its own origin; no patch origins)."""
        if self.patch_origins is None:
            raise ContainerError("this georeference has no patch origins")
        row, col = self.patch_origins[index]
        a, b, c, d, e, f = self.transform
        shifted = (a, b, c + a * col + b * row, d, e, f + d * col + e * row)
        return Georef(self.crs, shifted, self.acquired, None)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Georef:
        """The inverse of :meth:`to_dict` (a store's or a header's JSON).

        Raises:
            ContainerError: a field is missing or malformed.
        """
        try:
            origins = data.get("patch_origins")
            return cls(
                crs=str(data["crs"]),
                transform=tuple(float(v) for v in data["transform"]),  # type: ignore[arg-type]
                acquired=data.get("acquired"),
                patch_origins=None
                if origins is None
                else tuple((int(r), int(c)) for r, c in origins),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ContainerError(f"a georeference record is malformed: {exc!r}") from exc

    def to_dict(self) -> dict[str, object]:
        """A JSON-friendly view."""
        return {
            "crs": self.crs,
            "transform": list(self.transform),
            "acquired": self.acquired,
            "patch_origins": None
            if self.patch_origins is None
            else [list(o) for o in self.patch_origins],
        }


def encode_georef(georef: Georef) -> bytes:
    """The field's bytes (without its length).

    Raises:
        ContainerError: the CRS is neither ``EPSG:<code>`` nor WKT of a sane length, or a
            transform value is not finite.
    """
    a, b, c, d, e, f = (float(v) for v in georef.transform)
    if not all(abs(v) < float("inf") for v in (a, b, c, d, e, f)) or a == 0 or e == 0:
        raise ContainerError(f"georeference transform {georef.transform} is degenerate")
    kind = 0
    epsg = georef.epsg
    if epsg is not None:
        crs = encode_uvarint(epsg)
    else:
        text = georef.crs.encode()
        if not text or len(text) > MAX_WKT_BYTES:
            raise ContainerError(
                f"a CRS without an EPSG code travels as WKT of 1..{MAX_WKT_BYTES} bytes; got "
                f"{len(text)}"
            )
        kind |= _WKT
        crs = encode_uvarint(len(text)) + text
    numbers: tuple[float, ...] = (a, c, e, f)
    if b or d:
        kind |= _ROTATED
        numbers = (a, b, c, d, e, f)
    tail = b""
    if georef.acquired is not None:
        kind |= _TIME
        tail += encode_uvarint(_millis(georef.acquired))
    if georef.patch_origins is not None:
        kind |= _PATCHES
        tail += encode_uvarint(len(georef.patch_origins))
        for row, col in georef.patch_origins:
            tail += encode_uvarint(row) + encode_uvarint(col)
    return bytes([kind]) + crs + b"".join(_F64.pack(v) for v in numbers) + tail


def decode_georef(data: bytes) -> Georef:
    """Read the field written by :func:`encode_georef`.

    Raises:
        ContainerError: truncated, unknown kind bits, or bytes left over.
    """
    if not data:
        raise ContainerError("the georeference field is empty")
    kind, pos = data[0], 1
    if kind & ~_KNOWN:
        raise ContainerError(f"georeference kind 0x{kind:x} has unknown bits")
    if kind & _WKT:
        length, pos = decode_uvarint(data, pos, "georeference WKT length")
        if length > MAX_WKT_BYTES or pos + length > len(data):
            raise ContainerError("the georeference WKT is truncated or too long")
        crs, pos = data[pos : pos + length].decode(errors="replace"), pos + length
    else:
        code, pos = decode_uvarint(data, pos, "georeference EPSG code")
        crs = f"EPSG:{code}"
    count = 6 if kind & _ROTATED else 4
    if pos + 8 * count > len(data):
        raise ContainerError("the georeference transform is truncated")
    values = [_F64.unpack_from(data, pos + 8 * i)[0] for i in range(count)]
    pos += 8 * count
    a, b, c, d, e, f = values if count == 6 else (values[0], 0.0, values[1], 0.0, *values[2:])
    acquired = None
    if kind & _TIME:
        millis, pos = decode_uvarint(data, pos, "georeference time")
        acquired = datetime.fromtimestamp(millis / 1000, UTC).isoformat().replace("+00:00", "Z")
    origins = None
    if kind & _PATCHES:
        n, pos = decode_uvarint(data, pos, "georeference patch count")
        found = []
        for _ in range(n):
            row, pos = decode_uvarint(data, pos, "patch origin row")
            col, pos = decode_uvarint(data, pos, "patch origin column")
            found.append((row, col))
        origins = tuple(found)
    if pos != len(data):
        raise ContainerError(f"{len(data) - pos} bytes follow the georeference field")
    return Georef(crs, (a, b, c, d, e, f), acquired, origins)


def _millis(when: str) -> int:
    try:
        moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        raise ContainerError(
            f"acquisition time {when!r} is not ISO 8601; e.g. 2023-05-14T19:20:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    millis = round(moment.timestamp() * 1000)
    if millis < 0:
        raise ContainerError(f"acquisition time {when!r} is before 1970")
    return millis
