"""The container: header, codec payload, metadata JSON, optional sidecar; format versions 1
(:mod:`shared.wire.header`, a fixed 55-byte header) and 2 (:mod:`shared.wire.format_v2`, compact).

Version 2 is written by default; both are read. Every refusal happens here, before a decoder
sees a byte: a container whose magic, version, lengths, checksum, codec id, dtype or metadata is
wrong raises :class:`ContainerError`, and one that exceeds a size cap raises
:class:`ResourceLimitError`.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field
from typing import Any

import google_crc32c
from numpy.typing import NDArray

from shared.codecs.base import ModelRef, RasterSpec
from shared.codecs.registry import codec_info, codec_info_by_wire_id
from shared.errors import ContainerError, InvalidRasterError, ResourceLimitError, UnknownNameError
from shared.wire import format_v2
from shared.wire.georef import Georef
from shared.wire.header import (
    CRC_OFFSET,
    FORMAT_VERSION,
    HEADER_SIZE,
    MAGIC,
    ContainerHeader,
    decode_header,
    encode_header,
)
from shared.wire.sidecar import unpack_mask

MAX_METADATA_BYTES = 64 * 1024
WRITTEN_VERSION = format_v2.VERSION
READABLE_VERSIONS = (FORMAT_VERSION, format_v2.VERSION)
DEFAULT_MAX_CONTAINER_BYTES = 512 * 1024 * 1024
DIGEST_KEY = "reconstruction_sha256"
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Container:
    """A verified, unpacked container.

    Attributes:
        header: the fixed header.
        payload: the codec payload (for jpeg2000, a J2K codestream).
        metadata: the metadata JSON object (always holds ``reconstruction_sha256``).
        sidecar: the packed truth mask, or ``None``.
    """

    header: ContainerHeader
    payload: bytes = field(repr=False)
    metadata: dict[str, Any]
    sidecar: bytes | None = field(default=None, repr=False)

    @property
    def digest(self) -> bytes:
        """The reconstruction check it carries: the SHA-256 of the encoder's reconstruction
        (version 1, in the metadata), its first 8 bytes (version 2), or ``b""`` (none)."""
        if self.header.version == FORMAT_VERSION:
            return bytes.fromhex(self.metadata[DIGEST_KEY])
        return self.header.digest

    def reconstruction_matches(self, digest_hex: str) -> bool | None:
        """Whether a decoded raster's SHA-256 (hex) is the encoder's; ``None``: not carried."""
        if not self.digest:
            return None
        return bytes.fromhex(digest_hex)[: len(self.digest)] == self.digest

    @property
    def truth_mask(self) -> NDArray[Any] | None:
        """The sidecar's truth mask, unpacked, or ``None`` when the container carries none."""
        return unpack_mask(self.sidecar) if self.sidecar is not None else None


def encode_metadata(metadata: dict[str, Any]) -> bytes:
    """Version-1 metadata: UTF-8 JSON with sorted keys, no whitespace, and the digest.

    Raises:
        ContainerError: the metadata is not JSON-serialisable (NaN/Inf included), lacks a valid
            ``reconstruction_sha256``, or exceeds ``MAX_METADATA_BYTES``.
    """
    digest = metadata.get(DIGEST_KEY)
    if not isinstance(digest, str) or not _SHA256_RE.fullmatch(digest):
        raise ContainerError(
            f"metadata must hold {DIGEST_KEY!r} as 64 lowercase hex digits "
            "(shared.codecs.base.reconstruction_digest of the encoder's reconstruction)"
        )
    return encode_free_metadata(metadata)


def encode_free_metadata(metadata: dict[str, Any]) -> bytes:
    """Metadata as UTF-8 JSON with sorted keys and no whitespace (deterministic bytes).

    Raises:
        ContainerError: not JSON-serialisable (NaN/Inf included) or over ``MAX_METADATA_BYTES``.
    """
    try:
        text = json.dumps(
            metadata, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise ContainerError(
            f"metadata is not plain JSON ({exc}); use str, int, finite float, bool, None, "
            "lists and dicts with string keys"
        ) from exc
    blob = text.encode("utf-8")
    if len(blob) > MAX_METADATA_BYTES:
        raise ContainerError(
            f"metadata is {len(blob)} bytes; the cap is {MAX_METADATA_BYTES}: keep it to "
            "identifiers and figures"
        )
    return blob


def pack_container(
    *,
    codec: str,
    spec: RasterSpec,
    model: ModelRef,
    payload: bytes,
    metadata: dict[str, Any],
    sidecar: bytes | None = None,
    lossless: bool = False,
    quality: int | None = None,
    tiled: bool = False,
    version: int = WRITTEN_VERSION,
    rate_bpp: float | None = None,
    digest: str | None = None,
    patch_shape: tuple[int, int] | None = None,
    georef: Georef | None = None,
) -> bytes:
    """Assemble a container.

    Args:
        codec: registry name of the codec that made the payload.
        spec: the raster's shape, dtype, bit depth and normalisation scale.
        model: model id and weights prefix (``ModelRef()`` for classical codecs).
        payload: the codec's entropy-coded bytes.
        metadata: JSON object. Version 1: must hold ``reconstruction_sha256``. Version 2:
            free-form, sent only when not empty.
        sidecar: packed truth mask (:func:`shared.wire.sidecar.pack_mask`), or ``None``.
        lossless: the payload decodes to the exact input.
        quality: the quality level (1..255), or ``None``.
        tiled: the payload is a tile directory plus per-tile payloads (``shared.wire.tiles``).
        version: 2 (default) or 1.
        rate_bpp: version 2: the bpp target the encoder was given, carried as a one-byte code.
        digest: version 2: the reconstruction's SHA-256 (hex), of which 8 bytes are carried;
            ``None`` carries no reconstruction check.
        patch_shape: version 2: the raster is a grid of patches of this (height, width), each
            coded alone, and ``payload`` is their :func:`shared.wire.patches.join_patches`.
        georef: version 2: where and when the scene was seen (:mod:`shared.wire.georef`).

    Raises:
        ContainerError: a field does not fit the format, or the metadata is invalid.
        UnknownNameError: the codec is not registered.
    """
    if quality is not None and not 1 <= quality <= 255:
        raise ContainerError(f"quality {quality} does not fit the header; use 1..255 or None")
    if not payload:
        raise ContainerError("the codec payload is empty; a container must carry coded bytes")
    if version == format_v2.VERSION:
        return format_v2.pack_v2(
            codec=codec,
            codec_id=codec_info(codec).wire_id,
            spec=spec,
            model=model,
            payload=payload,
            metadata=encode_free_metadata(metadata) if metadata else b"",
            sidecar=sidecar or b"",
            lossless=lossless,
            quality=quality,
            tiled=tiled,
            rate=None if rate_bpp is None else format_v2.rate_code(rate_bpp),
            digest=b"" if digest is None else bytes.fromhex(digest)[: format_v2.DIGEST_BYTES],
            patch_shape=patch_shape,
            georef=georef,
        )
    if version != FORMAT_VERSION:
        raise ContainerError(f"cannot write container version {version}; use 1 or 2")
    if patch_shape is not None:
        raise ContainerError(
            "container version 1 has no patch directory; write version 2 to send patches together"
        )
    if georef is not None:
        raise ContainerError(
            "container version 1 has no georeference field; write version 2 to keep the "
            "scene's place on the Earth"
        )
    meta_blob = encode_metadata(metadata)
    side_blob = sidecar or b""
    header = ContainerHeader(
        version=FORMAT_VERSION,
        codec_id=codec_info(codec).wire_id,
        model_id=model.model_id,
        weights_prefix=model.weights_prefix,
        bands=spec.bands,
        height=spec.height,
        width=spec.width,
        dtype=spec.dtype,
        bit_depth=spec.bit_depth,
        lossless=lossless,
        quality=quality,
        scale=float(spec.scale),
        payload_bytes=len(payload),
        metadata_bytes=len(meta_blob),
        sidecar_bytes=len(side_blob),
        crc32c=0,
        tiled=tiled,
    )
    head = encode_header(header)[:CRC_OFFSET]
    crc = google_crc32c.Checksum(head)
    for section in (payload, meta_blob, side_blob):
        crc.update(section)
    crc_field = struct.pack("<I", int.from_bytes(crc.digest(), "big"))
    return head + crc_field + payload + meta_blob + side_blob


def read_header(data: bytes) -> ContainerHeader:
    """Read and validate only the fixed header (cheap; for ``inspect`` and pre-checks).

    Raises:
        ContainerError: empty or short input, bad magic, unsupported version, unknown codec id,
            dtype code or flags, or declared raster values that make no sense.
    """
    header = _read_any_header(data)
    try:
        header.spec  # noqa: B018 - validates bands, sizes, bit depth and scale
    except InvalidRasterError as exc:
        raise ContainerError(f"header declares an invalid raster: {exc}") from exc
    return header


def _read_any_header(data: bytes) -> ContainerHeader:
    if len(data) > len(MAGIC) and bytes(data[: len(MAGIC)]) == MAGIC:
        version = data[len(MAGIC)]
        if version == format_v2.VERSION:
            header = format_v2.parse_header_v2(bytes(data))
            _check_codec_id(header.codec_id)
            return header
        if version != FORMAT_VERSION:
            raise ContainerError(
                f"container format version {version} is not supported; this build reads "
                f"versions {', '.join(map(str, READABLE_VERSIONS))}: upgrade the ground "
                "software or re-encode"
            )
    return decode_header(bytes(data[:HEADER_SIZE]))


def _check_codec_id(codec_id: int) -> None:
    try:
        codec_info_by_wire_id(codec_id)
    except UnknownNameError as exc:
        raise ContainerError(f"{exc}; re-encode with a registered codec") from exc


def compute_checksum(data: bytes) -> int:
    """The CRC32C a container declares: version 1 in its header (over the bytes before the CRC
    field and the sections), version 2 as its last 4 bytes (over everything before them)."""
    if len(data) > len(MAGIC) and data[len(MAGIC)] == format_v2.VERSION:
        return format_v2.checksum_v2(data)
    crc = google_crc32c.Checksum(bytes(data[:CRC_OFFSET]))
    crc.update(bytes(data[HEADER_SIZE:]))
    return int.from_bytes(crc.digest(), "big")


def check_lengths(header: ContainerHeader, size: int) -> None:
    """Refuse a container whose section lengths do not add up to its size.

    Raises:
        ContainerError: the data is truncated or has trailing bytes.
    """
    if size < header.total_bytes:
        raise ContainerError(
            f"container is truncated: the header declares {header.total_bytes} bytes, "
            f"{size} arrived; resume or repeat the transfer"
        )
    if size > header.total_bytes:
        raise ContainerError(
            f"container has {size - header.total_bytes} trailing bytes beyond the "
            f"{header.total_bytes} its header declares; it was extended or concatenated"
        )


def unpack_container(data: bytes, max_bytes: int = DEFAULT_MAX_CONTAINER_BYTES) -> Container:
    """Verify and split a container; nothing is decoded.

    Checks, in order: size cap, header (magic, version, codec id, dtype, flags), section lengths,
    metadata cap, CRC32C, metadata JSON and its digest.

    Raises:
        ResourceLimitError: the data exceeds ``max_bytes``.
        ContainerError: anything else is wrong; the message names it.
    """
    if len(data) > max_bytes:
        raise ResourceLimitError(
            f"container of {len(data)} bytes exceeds the cap of {max_bytes} bytes"
        )
    header = read_header(data)
    check_lengths(header, len(data))
    if header.payload_bytes == 0:
        raise ContainerError("container declares an empty codec payload; nothing to decode")
    if header.metadata_bytes > MAX_METADATA_BYTES:
        raise ContainerError(
            f"metadata section of {header.metadata_bytes} bytes exceeds the cap of "
            f"{MAX_METADATA_BYTES}; the container is corrupt or hostile"
        )
    actual = compute_checksum(data)
    if actual != header.crc32c:
        raise ContainerError(
            f"checksum mismatch: header says CRC32C {header.crc32c:08x}, the bytes give "
            f"{actual:08x}; the container was corrupted or truncated: transfer it again"
        )
    payload_end = header.header_bytes + header.payload_bytes
    metadata_end = payload_end + header.metadata_bytes
    sidecar = bytes(data[metadata_end : metadata_end + header.sidecar_bytes]) or None
    payload = bytes(data[header.header_bytes : payload_end])
    if header.version == FORMAT_VERSION:
        metadata = _parse_metadata(bytes(data[payload_end:metadata_end]))
        return Container(header, payload, metadata, sidecar)
    metadata = _parse_json(bytes(data[payload_end:metadata_end])) if header.metadata_bytes else {}
    return Container(header, _rebuilt(header, payload), metadata, sidecar)


def _rebuilt(header: ContainerHeader, carried: bytes) -> bytes:
    if header.resolutions is not None and not header.frame_elided:
        raise ContainerError("the container gives a codestream's resolutions but no frame")
    if header.frame_elided and (header.tiled or header.codec_name != "jpeg2000"):
        raise ContainerError(
            f"the container says its {header.codec_name} payload is JPEG 2000 tile data "
            "(frame flag): it is corrupt"
        )
    return format_v2.rebuild_payload(header, carried)


def _parse_metadata(blob: bytes) -> dict[str, Any]:
    metadata = _parse_json(blob)
    digest = metadata.get(DIGEST_KEY)
    if not isinstance(digest, str) or not _SHA256_RE.fullmatch(digest):
        raise ContainerError(f"metadata lacks a valid {DIGEST_KEY!r} (64 lowercase hex digits)")
    return metadata


def _parse_json(blob: bytes) -> dict[str, Any]:
    try:
        metadata = json.loads(blob.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ContainerError(f"metadata section is not UTF-8 JSON: {exc}") from exc
    except RecursionError as exc:  # json nests by recursion: a hostile depth is corruption
        raise ContainerError("metadata section nests too deeply to be a scene's metadata") from exc
    if not isinstance(metadata, dict):
        raise ContainerError(f"metadata must be a JSON object, got {type(metadata).__name__}")
    return metadata


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
