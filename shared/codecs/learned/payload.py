"""The learned codecs' payload: a small versioned byte layout of the rANS strings.

Layout, versions 1 and 2 (all integers little-endian)::

    offset  size  field
    0       4     magic b"EOLP"
    4       1     version (1 raster order, 2 wavefront order)
    5       1     string count n (1 factorized, 2 hyperprior/cheng2020, 3 checkerboard)
    6       4     y rows     } latent grid sizes, u32; the decoder derives them from the
    10      4     y cols     } raster and refuses a payload whose values differ
    14      4     z rows (0 without z)
    18      4     z cols (0 without z)
    22      2     symbol bound, u16 (cheng2020-gmm: 1..128; 0 otherwise)
    24      4n    string lengths, u32 each
    ...           the strings, concatenated in order (y first, z last)
    end-4   4     CRC32C of everything before it

Version 2 has the same layout; it is written for cheng2020-gmm latents coded in wavefront order,
whose y string starts with ``gmm_coding.WAVEFRONT_MARKER`` (kept on the wire, so a version-1
decoder refuses the payload instead of decoding garbage, and the version byte and the marker
must agree). Version 1 payloads (raster order) stay decodable.

Everything is checked here, before rANS sees a byte: CompressAI's decoder crashes on short
strings and silently returns garbage on corrupted ones.
"""

from __future__ import annotations

import struct

import google_crc32c

from shared.codecs.learned.coding import (
    MIN_STRING_BYTES,
    STRING_COUNT,
    LatentLayout,
    LatentStrings,
)
from shared.codecs.learned.gmm_coding import MAX_SYMBOL_BOUND, WAVEFRONT_MARKER
from shared.errors import CodecError

MAGIC = b"EOLP"
VERSION = 2  # written for wavefront-order latents
RASTER_VERSION = 1
VERSIONS = (RASTER_VERSION, VERSION)
_HEADER = struct.Struct("<4sBBIIIIH")
HEADER_BYTES = _HEADER.size
_LENGTH = struct.Struct("<I")
_CRC = struct.Struct("<I")


def pack_payload(coded: LatentStrings, layout: LatentLayout) -> bytes:
    """Serialise coded latents with their layout and a CRC32C trailer."""
    version = VERSION if _is_wavefront(coded.strings) else RASTER_VERSION
    header = _HEADER.pack(
        MAGIC, version, len(coded.strings), *layout.y_shape, *layout.z_shape, coded.symbol_bound
    )
    lengths = b"".join(_LENGTH.pack(len(s)) for s in coded.strings)
    body = header + lengths + b"".join(coded.strings)
    return body + _CRC.pack(google_crc32c.value(body))


def unpack_payload(payload: bytes, layout: LatentLayout, architecture: str) -> LatentStrings:
    """Parse and validate a payload against the layout derived from the raster spec.

    Raises:
        CodecError: empty, truncated, corrupted (CRC), wrong version, or a layout that differs
            from the one the raster spec implies.
    """
    string_count = STRING_COUNT[architecture]
    minimum = _HEADER.size + _LENGTH.size * string_count + _CRC.size
    if len(payload) < minimum:
        raise CodecError(
            f"learned payload of {len(payload)} bytes is shorter than its {minimum}-byte "
            "frame: it is empty or truncated; resend the transfer"
        )
    body, (crc,) = payload[: -_CRC.size], _CRC.unpack(payload[-_CRC.size :])
    magic, version, count, y_rows, y_cols, z_rows, z_cols, bound = _HEADER.unpack_from(body)
    if magic != MAGIC:
        raise CodecError(f"payload magic {magic!r} is not {MAGIC!r}: not a learned-codec payload")
    if version not in VERSIONS:
        raise CodecError(
            f"learned payload version {version} is unknown; this build reads "
            f"versions {VERSIONS}: upgrade the ground software"
        )
    if google_crc32c.value(body) != crc:
        raise CodecError("learned payload CRC32C mismatch: the bytes were corrupted in transit")
    _check_layout(count, (y_rows, y_cols), (z_rows, z_cols), layout, string_count)
    bounds = (1, MAX_SYMBOL_BOUND) if architecture == "cheng2020-gmm" else (0, 0)
    if not bounds[0] <= bound <= bounds[1]:
        raise CodecError(
            f"payload symbol bound {bound} is outside {bounds[0]}..{bounds[1]} for "
            f"{architecture}: the payload is corrupt or from another codec"
        )
    strings = _split_strings(body, count)
    _check_order(version, strings, architecture)
    return LatentStrings(strings, bound)


def _is_wavefront(strings: tuple[bytes, ...]) -> bool:
    return bool(strings) and strings[0].startswith(WAVEFRONT_MARKER)


def _check_order(version: int, strings: tuple[bytes, ...], architecture: str) -> None:
    wavefront = _is_wavefront(strings)
    if version == VERSION and not (wavefront and architecture == "cheng2020-gmm"):
        raise CodecError(
            f"learned payload version {version} carries cheng2020-gmm latents in wavefront "
            f"order, but this one is {architecture} without the wavefront marker: corrupt"
        )
    if version == RASTER_VERSION and wavefront:
        raise CodecError(
            "learned payload version 1 holds a wavefront-order y string: header and strings "
            "disagree, the payload is corrupt"
        )


def _check_layout(
    count: int,
    y_shape: tuple[int, int],
    z_shape: tuple[int, int],
    layout: LatentLayout,
    string_count: int,
) -> None:
    if count != string_count:
        raise CodecError(f"payload holds {count} strings; this codec writes {string_count}")
    if y_shape != layout.y_shape or z_shape != layout.z_shape:
        raise CodecError(
            f"payload latent shapes y={y_shape}, z={z_shape} differ from y={layout.y_shape}, "
            f"z={layout.z_shape} implied by the raster size: header and payload disagree"
        )


def _split_strings(body: bytes, count: int) -> tuple[bytes, ...]:
    offset = _HEADER.size
    lengths = [_LENGTH.unpack_from(body, offset + 4 * i)[0] for i in range(count)]
    offset += _LENGTH.size * count
    if sum(lengths) != len(body) - offset:
        raise CodecError(
            f"payload string lengths sum to {sum(lengths)} bytes but {len(body) - offset} "
            "follow the header: the payload is truncated or corrupt"
        )
    strings = []
    for index, length in enumerate(lengths):
        if length < MIN_STRING_BYTES:
            raise CodecError(
                f"latent string {index} has {length} bytes; at least "
                f"{MIN_STRING_BYTES} are needed: the payload is corrupt"
            )
        strings.append(body[offset : offset + length])
        offset += length
    return tuple(strings)
