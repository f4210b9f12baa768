"""The container's fixed binary header, format version 1 (frozen by tests/golden/container_v1.bin).

Layout, little-endian, no padding (``struct`` format ``HEADER_FORMAT``, 55 bytes):

====== ===== =====================================================================
offset bytes field
====== ===== =====================================================================
0      4     magic ``b"EODL"``
4      1     format version (u8, 1)
5      2     codec wire id (u16, from ``shared.codecs.registry``)
7      2     model id (u16; the quality level for learned codecs, 0 for classical)
9      8     first 8 bytes of the weights' SHA-256 (zeros for classical codecs)
17     2     bands (u16)
19     4     height (u32)
23     4     width (u32)
27     1     original dtype code (u8: 1 uint8, 2 uint16, 3 float32)
28     1     bit depth (u8)
29     1     flags (u8: bit 0 lossless, bit 1 sidecar present, bit 2 tiled payload
                   (see ``shared.wire.tiles``); other bits must be 0)
30     1     quality (u8, 0 = none)
31     8     normalisation scale (f64)
39     4     payload section length (u32)
43     4     metadata section length (u32)
47     4     sidecar section length (u32)
51     4     CRC32C (Castagnoli) of bytes 0..50 followed by all three sections
====== ===== =====================================================================

Bit 2 (tiled) came after the golden file: an untiled container is byte-identical to before, and
a reader that knows only bits 0-1 refuses a tiled one as "unknown bits" instead of handing a tile
directory to a codec.

The CRC32C catches corruption on the link and in storage; authenticity is the job of the
protocol's HMAC signature and the commit's SHA-256, so a cryptographic hash here would add
nothing but bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from shared.codecs.base import WEIGHTS_PREFIX_BYTES, ModelRef, RasterSpec
from shared.codecs.registry import codec_info_by_wire_id
from shared.errors import ContainerError, UnknownNameError
from shared.wire.georef import Georef

MAGIC = b"EODL"
FORMAT_VERSION = 1  # this module's fixed layout; version 2 is shared.wire.format_v2
#: What this module's reader takes: exactly the reader every version-1 build shipped, so its
#: answer to a version-2 container is the one an old ground gives (tests hold it to that).
SUPPORTED_VERSIONS: tuple[int, ...] = (1,)
HEADER_FORMAT = "<4sBHH8sHIIBBBBdIIII"
HEADER_SIZE = struct.calcsize(HEADER_FORMAT)
CRC_OFFSET = HEADER_SIZE - 4
_FIELDS = (
    "magic", "version", "codec_id", "model_id", "weights_prefix", "bands", "height", "width",
    "dtype_code", "bit_depth", "flags", "quality", "scale", "payload_bytes", "metadata_bytes",
    "sidecar_bytes", "crc32c",
)  # fmt: skip

DTYPE_CODES: dict[str, int] = {"uint8": 1, "uint16": 2, "float32": 3}
_DTYPE_BY_CODE = {code: name for name, code in DTYPE_CODES.items()}

FLAG_LOSSLESS = 0x01
FLAG_SIDECAR = 0x02
FLAG_TILED = 0x04
_KNOWN_FLAGS = FLAG_LOSSLESS | FLAG_SIDECAR | FLAG_TILED
_NO_WEIGHTS = bytes(WEIGHTS_PREFIX_BYTES)


@dataclass(frozen=True)
class ContainerHeader:
    """The decoded fixed header of a container.

    Attributes:
        version: container format version.
        codec_id: the codec's permanent wire id.
        model_id: quality level of learned weights, 0 for classical codecs.
        weights_prefix: first 8 bytes of the weights' SHA-256, or ``b""`` for none.
        bands, height, width: the raster's shape (C, H, W).
        dtype: the original sample type (``uint8``, ``uint16`` or ``float32``).
        bit_depth: significant bits per sample.
        lossless: the payload decodes to the exact input.
        quality: the quality level used, or ``None``.
        scale: normalisation scale (``x / scale`` lies in [0, 1]).
        payload_bytes, metadata_bytes, sidecar_bytes: section lengths.
        crc32c: the checksum the header declares.
        tiled: the payload is a tile directory plus per-tile payloads (``shared.wire.tiles``).
        header_bytes: bytes before the payload (55 in version 1; variable in version 2).
        trailer_bytes: bytes after the sidecar (version 2's CRC32C; 0 in version 1).
        sidecar_length_bytes: version 2's varint giving the sidecar's length (not counted in
            the rate, like the sidecar itself).
        digest: version 2's reconstruction check, the first bytes of the SHA-256 of the
            encoder's reconstruction (``b""``: none carried; version 1 keeps it in metadata).
        rate_code: version 2's rate target code (:func:`shared.wire.format_v2.bpp_of_code`).
        frame_elided: version 2 carries a JPEG 2000 codestream's tile data only; the reader
            rebuilds the rest (:mod:`shared.codecs.j2k_header`).
        resolutions: the rebuilt codestream's resolution count (``None``: the default).
        patch_shape: version 2's patch (height, width) when the raster is a grid of patches
            coded one by one (:mod:`shared.wire.patches`); ``None`` for one scene.
        georef: version 2's georeference (:mod:`shared.wire.georef`), or ``None``: the
            scene's place on the Earth is not known (always so in version 1).
        payload_bytes counts the bytes carried; a rebuilt codestream is longer.
    """

    version: int
    codec_id: int
    model_id: int
    weights_prefix: bytes
    bands: int
    height: int
    width: int
    dtype: str
    bit_depth: int
    lossless: bool
    quality: int | None
    scale: float
    payload_bytes: int
    metadata_bytes: int
    sidecar_bytes: int
    crc32c: int
    tiled: bool = False
    header_bytes: int = HEADER_SIZE
    trailer_bytes: int = 0
    sidecar_length_bytes: int = 0
    digest: bytes = b""
    rate_code: int | None = None
    frame_elided: bool = False
    resolutions: int | None = None
    patch_shape: tuple[int, int] | None = None
    georef: Georef | None = None

    @property
    def codec_name(self) -> str:
        """The registry name of the codec (the wire id is checked when the header is read)."""
        return codec_info_by_wire_id(self.codec_id).name

    @property
    def has_sidecar(self) -> bool:
        """Whether an evaluation sidecar follows the payload."""
        return self.sidecar_bytes > 0

    @property
    def total_bytes(self) -> int:
        """The size the whole container must have: header plus the three sections."""
        sections = self.payload_bytes + self.metadata_bytes + self.sidecar_bytes
        return self.header_bytes + sections + self.trailer_bytes

    @property
    def rate_bytes(self) -> int:
        """The bytes that count in bpp: the whole container except the evaluation sidecar."""
        return self.total_bytes - self.sidecar_bytes - self.sidecar_length_bytes

    @property
    def spec(self) -> RasterSpec:
        """The raster spec the decoder needs (validates the declared values)."""
        return RasterSpec(
            self.bands, self.height, self.width, self.dtype, self.bit_depth, self.scale
        )

    @property
    def model(self) -> ModelRef:
        """The model id and weights prefix a learned payload names."""
        return ModelRef(self.model_id, self.weights_prefix)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view (the weights prefix as hex), for ``inspect`` and the protocol."""
        return {
            "version": self.version,
            "codec": self.codec_name,
            "codec_id": self.codec_id,
            "model_id": self.model_id,
            "weights_prefix": self.weights_prefix.hex(),
            "bands": self.bands,
            "height": self.height,
            "width": self.width,
            "dtype": self.dtype,
            "bit_depth": self.bit_depth,
            "lossless": self.lossless,
            "quality": self.quality,
            "scale": self.scale,
            "payload_bytes": self.payload_bytes,
            "metadata_bytes": self.metadata_bytes,
            "sidecar_bytes": self.sidecar_bytes,
            "total_bytes": self.total_bytes,
            "rate_bytes": self.rate_bytes,
            "crc32c": f"{self.crc32c:08x}",
            "tiled": self.tiled,
            "header_bytes": self.header_bytes,
            "digest": self.digest.hex(),
            "rate_code": self.rate_code,
            "frame_elided": self.frame_elided,
            "resolutions": self.resolutions,
            "patch_shape": None if self.patch_shape is None else list(self.patch_shape),
            "georef": None if self.georef is None else self.georef.to_dict(),
        }


def encode_header(header: ContainerHeader) -> bytes:
    """Serialise a header (the CRC field as given) to its ``HEADER_SIZE`` bytes.

    Raises:
        ContainerError: a field does not fit its width, or names an unknown codec or dtype.
    """
    _check_encodable(header)
    flags = (
        (FLAG_LOSSLESS if header.lossless else 0)
        | (FLAG_SIDECAR if header.has_sidecar else 0)
        | (FLAG_TILED if header.tiled else 0)
    )
    try:
        return struct.pack(
            HEADER_FORMAT,
            MAGIC,
            header.version,
            header.codec_id,
            header.model_id,
            header.weights_prefix or _NO_WEIGHTS,
            header.bands,
            header.height,
            header.width,
            DTYPE_CODES[header.dtype],
            header.bit_depth,
            flags,
            header.quality or 0,
            header.scale,
            header.payload_bytes,
            header.metadata_bytes,
            header.sidecar_bytes,
            header.crc32c,
        )
    except struct.error as exc:
        raise ContainerError(f"a header field does not fit its width: {exc}") from exc


def _check_encodable(header: ContainerHeader) -> None:
    if header.version not in SUPPORTED_VERSIONS:
        raise ContainerError(
            f"cannot write format version {header.version}; supported: {_versions()}"
        )
    if len(header.weights_prefix) not in (0, WEIGHTS_PREFIX_BYTES):
        raise ContainerError(
            f"weights prefix must be {WEIGHTS_PREFIX_BYTES} bytes of the weights' SHA-256 "
            f"(or empty for classical codecs), got {len(header.weights_prefix)} bytes"
        )
    if header.dtype not in DTYPE_CODES:
        raise ContainerError(
            f"dtype {header.dtype!r} has no wire code; use one of {', '.join(DTYPE_CODES)}"
        )
    _codec_name(header.codec_id)


def decode_header(data: bytes) -> ContainerHeader:
    """Parse and validate the fixed header at the start of ``data``; reads nothing else.

    Checks the magic, the version, the codec wire id, the dtype code and the flags. It does not
    verify the checksum or the section lengths (that needs the whole container).

    Raises:
        ContainerError: the input is empty or short, or a header field is invalid.
    """
    if not data:
        raise ContainerError("container is empty (0 bytes); pass the bytes of an EODL container")
    if len(data) < HEADER_SIZE:
        raise ContainerError(
            f"container is {len(data)} bytes, shorter than the {HEADER_SIZE}-byte header; "
            "it was truncated: fetch or resume the transfer again"
        )
    f = dict(zip(_FIELDS, struct.unpack_from(HEADER_FORMAT, data), strict=True))
    if f["magic"] != MAGIC:
        raise ContainerError(
            f"bad magic {f['magic']!r}: this is not an EODL container (expected {MAGIC!r})"
        )
    if f["version"] not in SUPPORTED_VERSIONS:
        raise ContainerError(
            f"container format version {f['version']} is not supported; this build reads "
            f"version(s) {_versions()}: upgrade the ground software or re-encode"
        )
    _codec_name(f["codec_id"])
    _check_flags(f["flags"], f["sidecar_bytes"])
    return ContainerHeader(
        version=f["version"],
        codec_id=f["codec_id"],
        model_id=f["model_id"],
        weights_prefix=b"" if f["weights_prefix"] == _NO_WEIGHTS else f["weights_prefix"],
        bands=f["bands"],
        height=f["height"],
        width=f["width"],
        dtype=_dtype_name(f["dtype_code"]),
        bit_depth=f["bit_depth"],
        lossless=bool(f["flags"] & FLAG_LOSSLESS),
        quality=f["quality"] or None,
        scale=f["scale"],
        payload_bytes=f["payload_bytes"],
        metadata_bytes=f["metadata_bytes"],
        sidecar_bytes=f["sidecar_bytes"],
        crc32c=f["crc32c"],
        tiled=bool(f["flags"] & FLAG_TILED),
    )


def _check_flags(flags: int, sidecar_len: int) -> None:
    if flags & ~_KNOWN_FLAGS:
        raise ContainerError(
            f"header flags 0x{flags:02x} set unknown bits (known: 0x{_KNOWN_FLAGS:02x}); "
            "the container is corrupt or from a newer format"
        )
    if bool(flags & FLAG_SIDECAR) != (sidecar_len > 0):
        raise ContainerError(
            f"sidecar flag says {'present' if flags & FLAG_SIDECAR else 'absent'} but the "
            f"sidecar section is {sidecar_len} bytes; the header is corrupt"
        )


def _codec_name(codec_id: int) -> str:
    try:
        return codec_info_by_wire_id(codec_id).name
    except UnknownNameError as exc:
        raise ContainerError(f"{exc}; re-encode with a registered codec") from exc


def _dtype_name(code: int) -> str:
    try:
        return _DTYPE_BY_CODE[code]
    except KeyError:
        valid = ", ".join(f"{c} ({n})" for n, c in DTYPE_CODES.items())
        raise ContainerError(f"unknown dtype code {code}; valid codes: {valid}") from None


def _versions() -> str:
    return ", ".join(str(v) for v in SUPPORTED_VERSIONS)
