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

Version 3 is written for ROI coding (:mod:`shared.codecs.learned.roi_gain`), any architecture
(the y string of cheng2020-gmm keeps its wavefront marker). Between the header and the string
lengths it carries the latent gain map::

    24      1     roi shift, u8 (gain 2**shift inside the ROI, 0..3)
    25      1     background shift, u8 (gain 2**-shift outside, 0..3; not both 0)
    26      b     ROI bitmap of the y grid, row-major, MSB first, b = ceil(rows*cols / 8),
                  padding bits zero, at least one cell set

Payloads without an ROI are written as version 1 or 2, byte for byte as before.

Version 4 is written by a variable-rate cheng2020-gmm (:mod:`shared.codecs.learned.rate_gain`;
wavefront order only). Between the header and the string lengths::

    24      1     rate level code, u8 (level = code / 32, within the weights' trained levels)
    25      1     ROI flag, u8: 0 none, 1 the version-3 ROI section follows at 26

Version 5, written since container format 2 for every payload, is the same content framed in
varints, without what the container already holds (the latent grid follows from the raster's
size, the string count from the architecture, integrity from the container's CRC32C)::

    0       1     version 5 (a version 1-4 payload starts with the magic's b"E")
    1       1     flags: bit 0 wavefront order, bit 1 rate level, bit 2 ROI section,
                  bit 3 band offsets
    [rate]  1     rate level code
    [ROI]         the version-3 ROI section (shifts and bitmap)
    [offs]        band count (u8), one zigzag varint per band: the encoder's mean error
                  per band, added to the decoded samples (`band_offsets.py`)
    ...     v     symbol bound (varint; 0 unless cheng2020-gmm)
    ...     v     the length of every string but the last (varints); the last takes the rest
    ...           the strings; a wavefront y string without its 8-byte marker (the flag says it)

Versions 1-4 stay readable.

Everything is checked here, before rANS sees a byte: CompressAI's decoder crashes on short
strings and silently returns garbage on corrupted ones.
"""

from __future__ import annotations

import struct

import google_crc32c

from shared.codecs.learned import band_offsets
from shared.codecs.learned.architectures import LatentScheme, latent_scheme
from shared.codecs.learned.coding import MIN_STRING_BYTES, LatentLayout, LatentStrings
from shared.codecs.learned.gmm_coding import MAX_SYMBOL_BOUND, WAVEFRONT_MARKER
from shared.codecs.learned.roi_gain import LatentGainMap, RoiGain, bitmap_bytes
from shared.errors import CodecError, ConfigurationError, ContainerError
from shared.varint import decode_uvarint, encode_uvarint

MAGIC = b"EOLP"
VERSION = 2  # written for wavefront-order latents
RASTER_VERSION = 1
ROI_VERSION = 3  # any order, with a latent gain map
RATE_VERSION = 4  # cheng2020-gmm wavefront at a rate level, ROI optional
COMPACT_VERSION = 5  # varint framing, inside a container's CRC
VERSIONS = (RASTER_VERSION, VERSION, ROI_VERSION, RATE_VERSION, COMPACT_VERSION)
_WAVEFRONT, _HAS_RATE, _HAS_ROI, _HAS_OFFSETS = 0x01, 0x02, 0x04, 0x08
_HEADER = struct.Struct("<4sBBIIIIH")
HEADER_BYTES = _HEADER.size
_SHIFTS = struct.Struct("<BB")
_RATE = struct.Struct("<BB")  # level code, ROI flag
_LENGTH = struct.Struct("<I")
_CRC = struct.Struct("<I")


def pack_payload(coded: LatentStrings, layout: LatentLayout) -> bytes:
    """Serialise coded latents as a version-5 payload (its ROI gain map and rate level too).

    Raises:
        ConfigurationError: the gain map was made for another latent grid, or the rate level
            code does not fit a byte.
    """
    strings = list(coded.strings)
    flags = 0
    if _is_wavefront(coded.strings):
        flags, strings[0] = _WAVEFRONT, strings[0][len(WAVEFRONT_MARKER) :]
    section = b""
    if coded.rate_code is not None:
        if not 0 <= coded.rate_code <= 255:
            raise ConfigurationError(f"rate level code {coded.rate_code} does not fit a byte")
        flags, section = flags | _HAS_RATE, bytes([coded.rate_code])
    if coded.gain_map is not None:
        flags, section = flags | _HAS_ROI, section + _gain_section(coded.gain_map, layout)
    if coded.band_offsets is not None:
        flags, section = flags | _HAS_OFFSETS, section + band_offsets.pack(coded.band_offsets)
    lengths = b"".join(encode_uvarint(len(x)) for x in strings[:-1])
    framing = bytes([COMPACT_VERSION, flags]) + section + encode_uvarint(coded.symbol_bound)
    return framing + lengths + b"".join(strings)


def pack_legacy_payload(coded: LatentStrings, layout: LatentLayout) -> bytes:
    """Serialise coded latents as versions 1-4 did (layout, lengths as u32, a CRC32C trailer),
    for the tests that keep those payloads readable.

    Raises:
        ConfigurationError: the gain map was made for another latent grid, or band offsets
            (which only version 5 carries) are given.
    """
    if coded.band_offsets is not None:
        raise ConfigurationError("versions 1-4 carry no band offsets; write version 5")
    version = VERSION if _is_wavefront(coded.strings) else RASTER_VERSION
    section = b""
    if coded.gain_map is not None:
        version, section = ROI_VERSION, _gain_section(coded.gain_map, layout)
    if coded.rate_code is not None:
        if not 0 <= coded.rate_code <= 255:
            raise ConfigurationError(f"rate level code {coded.rate_code} does not fit a byte")
        flag = _RATE.pack(coded.rate_code, coded.gain_map is not None)
        version, section = RATE_VERSION, flag + section
    header = _HEADER.pack(
        MAGIC, version, len(coded.strings), *layout.y_shape, *layout.z_shape, coded.symbol_bound
    )
    lengths = b"".join(_LENGTH.pack(len(s)) for s in coded.strings)
    body = header + section + lengths + b"".join(coded.strings)
    return body + _CRC.pack(google_crc32c.value(body))


def _gain_section(gain_map: LatentGainMap, layout: LatentLayout) -> bytes:
    if gain_map.y_shape != layout.y_shape or len(gain_map.bits) != bitmap_bytes(layout.y_shape):
        raise ConfigurationError(
            f"ROI gain map of grid {gain_map.y_shape} does not fit the latent grid "
            f"{layout.y_shape}; build it with roi_gain.latent_gain_map for this raster"
        )
    levels = gain_map.levels
    return _SHIFTS.pack(levels.roi_shift, levels.background_shift) + gain_map.bits


def unpack_payload(payload: bytes, layout: LatentLayout, architecture: str) -> LatentStrings:
    """Parse and validate a payload against the layout derived from the raster spec.

    Raises:
        CodecError: empty, truncated, corrupted (CRC), wrong version, or a layout that differs
            from the one the raster spec implies.
    """
    if payload[:1] == bytes([COMPACT_VERSION]):
        return _unpack_compact(payload, layout, architecture)
    scheme = latent_scheme(architecture)
    string_count = scheme.string_count
    _check_length(payload, _HEADER.size + _LENGTH.size * string_count + _CRC.size)
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
    _check_bound(bound, scheme, architecture)
    rate_code, has_roi, offset = None, version == ROI_VERSION, _HEADER.size
    if version == RATE_VERSION:
        _check_length(payload, offset + _RATE.size + _LENGTH.size * count + _CRC.size)
        rate_code, flag = _RATE.unpack_from(body, offset)
        if flag not in (0, 1):
            raise CodecError(f"the payload's ROI flag is {flag}, not 0 or 1: it is corrupt")
        has_roi, offset = bool(flag), offset + _RATE.size
    gain_map = None
    if has_roi:
        section = _SHIFTS.size + bitmap_bytes(layout.y_shape)
        _check_length(payload, offset + section + _LENGTH.size * count + _CRC.size)
        gain_map = _read_gain_map(body[offset : offset + section], layout.y_shape)
        offset += section
    strings = _split_strings(body, count, offset)
    _check_order(version, strings, architecture)
    return LatentStrings(strings, bound, gain_map, rate_code)


def _unpack_compact(payload: bytes, layout: LatentLayout, architecture: str) -> LatentStrings:
    """Parse a version-5 payload (the container's CRC32C has already covered its bytes)."""
    scheme = latent_scheme(architecture)
    _check_length(payload, 3)
    flags, offset = payload[1], 2
    if flags & ~(_WAVEFRONT | _HAS_RATE | _HAS_ROI | _HAS_OFFSETS):
        raise CodecError(f"learned payload flags 0x{flags:02x} set unknown bits: it is corrupt")
    rate_code = None
    if flags & _HAS_RATE:
        _check_length(payload, offset + 2)
        rate_code, offset = payload[offset], offset + 1
    gain_map = None
    if flags & _HAS_ROI:
        size = _SHIFTS.size + bitmap_bytes(layout.y_shape)
        _check_length(payload, offset + size + 1)
        gain_map = _read_gain_map(payload[offset : offset + size], layout.y_shape)
        offset += size
    offsets = None
    if flags & _HAS_OFFSETS:
        offsets, offset = band_offsets.unpack(payload, offset)
    bound, offset = _varint(payload, offset, "symbol bound")
    _check_bound(bound, scheme, architecture)
    lengths = []
    for index in range(scheme.string_count - 1):
        length, offset = _varint(payload, offset, f"string {index} length")
        lengths.append(length)
    if sum(lengths) >= len(payload) - offset:
        raise CodecError(
            f"payload string lengths sum to {sum(lengths)} bytes but {len(payload) - offset} "
            "follow the framing, leaving none for the last string: truncated or corrupt"
        )
    lengths.append(len(payload) - offset - sum(lengths))
    strings = _cut(payload, offset, lengths)
    if flags & _WAVEFRONT:
        strings = (WAVEFRONT_MARKER + strings[0], *strings[1:])
    _check_order(RATE_VERSION if rate_code is not None else ROI_VERSION, strings, architecture)
    if flags & _WAVEFRONT and scheme is not LatentScheme.MIXTURE:
        raise CodecError(f"a wavefront-order payload for {architecture}: it is corrupt")
    return LatentStrings(strings, bound, gain_map, rate_code, offsets)


def _varint(payload: bytes, offset: int, what: str) -> tuple[int, int]:
    try:
        return decode_uvarint(payload, offset, what)
    except ContainerError as exc:
        raise CodecError(f"learned payload: {exc}") from exc


def _check_bound(bound: int, scheme: LatentScheme, architecture: str) -> None:
    bounds = (1, MAX_SYMBOL_BOUND) if scheme is LatentScheme.MIXTURE else (0, 0)
    if not bounds[0] <= bound <= bounds[1]:
        raise CodecError(
            f"payload symbol bound {bound} is outside {bounds[0]}..{bounds[1]} for "
            f"{architecture}: the payload is corrupt or from another codec"
        )


def _check_length(payload: bytes, minimum: int) -> None:
    if len(payload) < minimum:
        raise CodecError(
            f"learned payload of {len(payload)} bytes is shorter than its {minimum}-byte "
            "frame: it is empty or truncated; resend the transfer"
        )


def _read_gain_map(section: bytes, y_shape: tuple[int, int]) -> LatentGainMap:
    """Parse and validate the ROI section of a version-3 payload (CRC already verified)."""
    roi_shift, background_shift = _SHIFTS.unpack_from(section)
    try:
        levels = RoiGain(roi_shift, background_shift)
    except ConfigurationError as exc:
        raise CodecError(f"the payload's ROI gains are invalid ({exc}): it is corrupt") from exc
    bits = section[_SHIFTS.size :]
    gain_map = LatentGainMap(y_shape, bits, levels)
    count = y_shape[0] * y_shape[1]
    spare = len(bits) * 8 - count
    if spare and bits[-1] & ((1 << spare) - 1):
        raise CodecError("the payload's ROI bitmap has padding bits set: it is corrupt")
    if not gain_map.cells().any():
        raise CodecError(
            "the payload's ROI bitmap marks no latent cell, which an encoder writes as a "
            "plain (version 1 or 2) payload: it is corrupt"
        )
    return gain_map


def _is_wavefront(strings: tuple[bytes, ...]) -> bool:
    return bool(strings) and strings[0].startswith(WAVEFRONT_MARKER)


def _check_order(version: int, strings: tuple[bytes, ...], architecture: str) -> None:
    wavefront = _is_wavefront(strings)
    mixture = latent_scheme(architecture) is LatentScheme.MIXTURE
    if version == RATE_VERSION and not (wavefront and mixture):
        raise CodecError(
            f"learned payload version 4 carries Gaussian-mixture latents at a rate level in "
            f"wavefront order, but this one is {architecture} without the wavefront marker: "
            "corrupt"
        )
    if version == ROI_VERSION:
        if wavefront and not mixture:
            raise CodecError(
                f"learned payload version 3 holds a wavefront-order y string, which only the "
                f"Gaussian-mixture models write, but the codec is {architecture}: corrupt"
            )
        return
    if version == VERSION and not (wavefront and mixture):
        raise CodecError(
            f"learned payload version {version} carries Gaussian-mixture latents in wavefront "
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


def _split_strings(body: bytes, count: int, offset: int) -> tuple[bytes, ...]:
    lengths = [_LENGTH.unpack_from(body, offset + 4 * i)[0] for i in range(count)]
    offset += _LENGTH.size * count
    if sum(lengths) != len(body) - offset:
        raise CodecError(
            f"payload string lengths sum to {sum(lengths)} bytes but {len(body) - offset} "
            "follow the header: the payload is truncated or corrupt"
        )
    return _cut(body, offset, lengths)


def _cut(body: bytes, offset: int, lengths: list[int]) -> tuple[bytes, ...]:
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
