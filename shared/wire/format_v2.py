"""Container format version 2: every byte a small scene's decoder needs, and nothing else.

Layout (varints are unsigned LEB128, :mod:`shared.varint`; ``[F]`` only when flag F is set)::

    magic b"EODL" (4) | version 2 (1) | codec wire id (varint) | flags (varint)
    bands, height, width (varints) | sample format (1: dtype code << 6 | bit depth)
    [SCALE_INT] scale (varint)      [SCALE_F64] scale (f64)    (neither: 2**bit_depth - 1)
    [QUALITY] quality (1)           [RATE] rate target code (1, see bpp_of_code)
    [MODEL] model id (varint) + first 8 bytes of the weights' SHA-256
    [RESOLUTIONS] JPEG 2000 resolution count (1; absent: the codec's default for the size)
    [PATCHES] patch height, patch width (varints): the raster is a grid of patches, each coded
              alone; the payload starts with their directory (:mod:`shared.wire.patches`)
    [GEOREF] length (varint) + where and when the scene was seen (:mod:`shared.wire.georef`)
    [DIGEST] first 8 bytes of the SHA-256 of the encoder's reconstruction
    [METADATA] metadata length (varint)  [SIDECAR] sidecar length (varint)
    payload (the rest) | metadata JSON | sidecar | CRC32C of everything before it (4)

What the protocol's transfer record carries (scene id, task, timestamps, the onboard PSNR) is
not repeated here. With FRAME set the payload is a JPEG 2000 codestream's tile data and the
reader rebuilds the standard codestream around it (:mod:`shared.codecs.j2k_header`): the writer
sets FRAME only when that rebuild equals the codestream byte for byte. A 32x32 JPEG 2000 patch
at a bpp target thus costs 16 bytes beyond its tile data; in a patch container, each patch
rebuilds its own codestream and costs the one or two bytes of its length. Unknown flag bits
are refused; a version-1-only reader refuses the whole container by its version byte.
"""

from __future__ import annotations

import dataclasses
import math
import struct

import google_crc32c

from shared.codecs.base import ModelRef, RasterSpec
from shared.codecs.j2k_header import CodestreamFrame, join_codestream, split_codestream
from shared.codecs.j2k_openjpeg import max_resolutions
from shared.errors import CodecError, ContainerError
from shared.varint import decode_uvarint, encode_uvarint
from shared.wire.georef import Georef, decode_georef, encode_georef
from shared.wire.header import DTYPE_CODES, MAGIC, ContainerHeader
from shared.wire.patches import join_patches, split_patches

VERSION = 2
FLAG_LOSSLESS = 1 << 0
FLAG_SIDECAR = 1 << 1
FLAG_TILED = 1 << 2
FLAG_RATE = 1 << 3
FLAG_FRAME = 1 << 4
FLAG_DIGEST = 1 << 5
FLAG_METADATA = 1 << 6
FLAG_QUALITY = 1 << 7
FLAG_MODEL = 1 << 8
FLAG_SCALE_INT = 1 << 9
FLAG_SCALE_F64 = 1 << 10
FLAG_RESOLUTIONS = 1 << 11
FLAG_PATCHES = 1 << 12
FLAG_GEOREF = 1 << 13
KNOWN_FLAGS = (1 << 14) - 1
DIGEST_BYTES = 8
WEIGHTS_BYTES = 8
CRC_BYTES = 4
RATE_STEPS_PER_OCTAVE = 16
_DTYPE_BY_CODE = {code: name for name, code in DTYPE_CODES.items()}
_F64 = struct.Struct("<d")


def rate_code(bpp: float) -> int | None:
    """A bpp target as one byte: 16 steps per octave around 1 bpp (code 128), within 2.2 %;
    ``None`` outside 0.004..245 bpp (the container then carries no rate target)."""
    code = round(128 + RATE_STEPS_PER_OCTAVE * math.log2(bpp))
    return code if 1 <= code <= 255 else None


def bpp_of_code(code: int) -> float:
    """The bpp a rate target code stands for."""
    return float(2.0 ** ((code - 128) / RATE_STEPS_PER_OCTAVE))


def _scale_field(spec: RasterSpec) -> tuple[int, bytes]:
    default = spec.dtype != "float32" and spec.scale == float(2**spec.bit_depth - 1)
    if default:
        return 0, b""
    if spec.scale == int(spec.scale) and 0 < spec.scale < 2**62:
        return FLAG_SCALE_INT, encode_uvarint(int(spec.scale))
    return FLAG_SCALE_F64, _F64.pack(spec.scale)


def patch_count(height: int, width: int, patch_shape: tuple[int, int]) -> int:
    """Patches in a raster of ``height`` x ``width`` cut in ``patch_shape`` patches.

    Raises:
        ContainerError: the patch shape does not divide the raster's.
    """
    patch_h, patch_w = patch_shape
    if min(patch_h, patch_w) < 1 or height % patch_h or width % patch_w:
        raise ContainerError(
            f"patches of {patch_h}x{patch_w} do not tile a {height}x{width} raster: the "
            "container is corrupt"
        )
    return (height // patch_h) * (width // patch_w)


def _frame_of(spec: RasterSpec, payload: bytes, lossless: bool) -> tuple[CodestreamFrame, bytes]:
    """The frame and tile data of a JPEG 2000 payload, or raise CodecError if not rebuildable."""
    from shared.codecs.j2k_codestream import inspect_codestream

    cod = inspect_codestream(payload).cod
    frame = CodestreamFrame(
        spec.bands, spec.height, spec.width, spec.bit_depth, cod.reversible,
        cod.decomposition_levels + 1,
    )  # fmt: skip
    tile_data = split_codestream(payload, frame) if cod.reversible == lossless else None
    if tile_data is None:
        raise CodecError("this codestream's framing is not the one the ground rebuilds")
    return frame, tile_data


def _elide_frames(
    spec: RasterSpec, payload: bytes, lossless: bool, patch_shape: tuple[int, int] | None
) -> tuple[CodestreamFrame, bytes]:
    """The (shared) frame and the carried payload of a JPEG 2000 payload, each patch's frame
    elided when it has patches; CodecError if any codestream is not rebuildable."""
    if patch_shape is None:
        return _frame_of(spec, payload, lossless)
    patch = dataclasses.replace(spec, height=patch_shape[0], width=patch_shape[1])
    parts = split_patches(payload, patch_count(spec.height, spec.width, patch_shape))
    framed = [_frame_of(patch, part, lossless) for part in parts]
    if len({frame for frame, _ in framed}) != 1:
        raise CodecError("the patches' codestreams differ in framing")
    return framed[0][0], join_patches([data for _, data in framed])


def pack_v2(
    *,
    codec: str,
    codec_id: int,
    spec: RasterSpec,
    model: ModelRef,
    payload: bytes,
    metadata: bytes,
    sidecar: bytes,
    lossless: bool,
    quality: int | None,
    tiled: bool,
    rate: int | None,
    digest: bytes,
    patch_shape: tuple[int, int] | None = None,
    georef: Georef | None = None,
) -> bytes:
    """Assemble a version-2 container (arguments as :func:`shared.wire.container.pack_container`;
    ``metadata`` already encoded, ``b""`` for none; ``rate`` a :func:`rate_code`; ``digest`` the
    reconstruction's SHA-256 prefix or ``b""``; ``patch_shape`` for a patch container, whose
    ``payload`` is :func:`shared.wire.patches.join_patches` of the patches' payloads;
    ``georef`` where the scene lies, for a patch container with each patch's origin)."""
    flags, fields = _flag_fields(spec, model, lossless, quality, tiled, rate, digest)
    if patch_shape is not None:
        patch_count(spec.height, spec.width, patch_shape)
        if tiled:
            raise ContainerError("a patch container is never tiled: the writer is wrong")
        flags |= FLAG_PATCHES
        fields["patches"] = encode_uvarint(patch_shape[0]) + encode_uvarint(patch_shape[1])
    if georef is not None:
        _check_origins(georef, spec, patch_shape)
        field = encode_georef(georef)
        flags |= FLAG_GEOREF
        fields["georef"] = encode_uvarint(len(field)) + field
    if codec == "jpeg2000" and not tiled:
        try:
            frame, payload = _elide_frames(spec, payload, lossless, patch_shape)
            flags |= FLAG_FRAME
            if not frame.default_resolutions:
                flags |= FLAG_RESOLUTIONS
                fields["resolutions"] = bytes([frame.resolutions])
        except CodecError:
            pass  # carried whole: any standard codestream still decodes
    if metadata:
        flags |= FLAG_METADATA
    if sidecar:
        flags |= FLAG_SIDECAR
    head = MAGIC + bytes([VERSION]) + encode_uvarint(codec_id) + encode_uvarint(flags)
    head += b"".join(encode_uvarint(v) for v in (spec.bands, spec.height, spec.width))
    head += bytes([DTYPE_CODES[spec.dtype] << 6 | spec.bit_depth])
    order = ("scale", "quality", "rate", "model", "resolutions", "patches", "georef", "digest")
    head += b"".join(fields.get(name, b"") for name in order)
    head += encode_uvarint(len(metadata)) if metadata else b""
    head += encode_uvarint(len(sidecar)) if sidecar else b""
    body = head + payload + metadata + sidecar
    return body + struct.pack("<I", google_crc32c.value(body))


def _check_origins(georef: Georef, spec: RasterSpec, patch_shape: tuple[int, int] | None) -> None:
    origins = georef.patch_origins
    if patch_shape is None and origins is not None:
        raise ContainerError("patch origins belong to a patch container: the writer is wrong")
    if patch_shape is not None and origins is not None:
        count = patch_count(spec.height, spec.width, patch_shape)
        if len(origins) != count:
            raise ContainerError(
                f"{len(origins)} patch origins for {count} patches; give one (row, col) per patch"
            )


def _flag_fields(
    spec: RasterSpec,
    model: ModelRef,
    lossless: bool,
    quality: int | None,
    tiled: bool,
    rate: int | None,
    digest: bytes,
) -> tuple[int, dict[str, bytes]]:
    if digest and len(digest) != DIGEST_BYTES or len(model.weights_prefix) not in (0, 8):
        raise ContainerError("a digest or weights prefix is not 8 bytes: the writer is wrong")
    if spec.bit_depth > 63 or spec.dtype not in DTYPE_CODES:
        raise ContainerError(f"{spec.dtype} at {spec.bit_depth} bits has no version-2 code")
    flags = (FLAG_LOSSLESS if lossless else 0) | (FLAG_TILED if tiled else 0)
    scale_flag, scale = _scale_field(spec)
    flags |= scale_flag
    fields = {"scale": scale}
    if quality is not None:
        flags, fields["quality"] = flags | FLAG_QUALITY, bytes([quality])
    if rate is not None:
        flags, fields["rate"] = flags | FLAG_RATE, bytes([rate])
    if model.model_id or model.weights_prefix:
        prefix = model.weights_prefix or bytes(WEIGHTS_BYTES)
        flags, fields["model"] = flags | FLAG_MODEL, encode_uvarint(model.model_id) + prefix
    if digest:
        flags, fields["digest"] = flags | FLAG_DIGEST, digest
    return flags, fields


class _Reader:
    """A cursor over the header bytes whose every read says which field ran short."""

    def __init__(self, data: bytes, limit: int) -> None:
        self.data, self.limit, self.pos = data, limit, 5

    def varint(self, what: str) -> int:
        value, self.pos = decode_uvarint(self.data[: self.limit], self.pos, what)
        return value

    def take(self, count: int, what: str) -> bytes:
        if self.pos + count > self.limit:
            raise ContainerError(f"the container ends inside its {what} field: it is truncated")
        out = self.data[self.pos : self.pos + count]
        self.pos += count
        return bytes(out)


def parse_header_v2(data: bytes) -> ContainerHeader:
    """Read a version-2 header from the whole container (its length fixes the payload's).

    Raises:
        ContainerError: a field is truncated, corrupt, or unknown.
    """
    limit = len(data) - CRC_BYTES
    if limit < 5:
        raise ContainerError(f"a version-2 container of {len(data)} bytes is truncated")
    read = _Reader(data, limit)
    codec_id, flags = read.varint("codec id"), read.varint("flags")
    if flags & ~KNOWN_FLAGS:
        raise ContainerError(
            f"flags 0x{flags:x} set unknown bits (known: 0x{KNOWN_FLAGS:x}); the container is "
            "corrupt or from a newer format: upgrade the ground software"
        )
    bands, height, width = (read.varint(name) for name in ("bands", "height", "width"))
    sample = read.take(1, "sample format")[0]
    dtype, bit_depth = _dtype(sample >> 6), sample & 0x3F
    scale = float(2**bit_depth - 1)
    if flags & FLAG_SCALE_INT:
        scale = float(read.varint("scale"))
    elif flags & FLAG_SCALE_F64:
        scale = _F64.unpack(read.take(8, "scale"))[0]
    quality = read.take(1, "quality")[0] if flags & FLAG_QUALITY else None
    rate = read.take(1, "rate")[0] if flags & FLAG_RATE else None
    model = ModelRef()
    if flags & FLAG_MODEL:
        model_id = read.varint("model id")
        prefix = read.take(WEIGHTS_BYTES, "weights prefix")
        model = ModelRef(model_id, b"" if prefix == bytes(WEIGHTS_BYTES) else prefix)
    resolutions = read.take(1, "resolutions")[0] if flags & FLAG_RESOLUTIONS else None
    patch_shape = None
    if flags & FLAG_PATCHES:
        patch_shape = (read.varint("patch height"), read.varint("patch width"))
        patch_count(height, width, patch_shape)
    georef = None
    if flags & FLAG_GEOREF:
        length = read.varint("georeference length")
        georef = decode_georef(read.take(length, "georeference"))
    digest = read.take(DIGEST_BYTES, "digest") if flags & FLAG_DIGEST else b""
    metadata_bytes = read.varint("metadata length") if flags & FLAG_METADATA else 0
    sidecar_start = read.pos
    sidecar_bytes = read.varint("sidecar length") if flags & FLAG_SIDECAR else 0
    payload_bytes = limit - read.pos - metadata_bytes - sidecar_bytes
    if payload_bytes <= 0:
        raise ContainerError(
            f"the sections declare {metadata_bytes + sidecar_bytes} bytes but only "
            f"{limit - read.pos} follow the header: the container is truncated or corrupt"
        )
    return ContainerHeader(
        version=VERSION,
        codec_id=codec_id,
        model_id=model.model_id,
        weights_prefix=model.weights_prefix,
        bands=bands,
        height=height,
        width=width,
        dtype=dtype,
        bit_depth=bit_depth,
        lossless=bool(flags & FLAG_LOSSLESS),
        quality=quality or None,
        scale=scale,
        payload_bytes=payload_bytes,
        metadata_bytes=metadata_bytes,
        sidecar_bytes=sidecar_bytes,
        crc32c=struct.unpack_from("<I", data, limit)[0],
        tiled=bool(flags & FLAG_TILED),
        header_bytes=read.pos,
        trailer_bytes=CRC_BYTES,
        sidecar_length_bytes=read.pos - sidecar_start,
        digest=digest,
        rate_code=rate,
        frame_elided=bool(flags & FLAG_FRAME),
        resolutions=resolutions,
        patch_shape=patch_shape,
        georef=georef,
    )


def _dtype(code: int) -> str:
    try:
        return _DTYPE_BY_CODE[code]
    except KeyError:
        raise ContainerError(f"sample format names dtype code {code}, which is unknown") from None


def checksum_v2(data: bytes) -> int:
    """The CRC32C a version-2 container should end with."""
    return google_crc32c.value(bytes(data[:-CRC_BYTES]))


def rebuild_payload(header: ContainerHeader, carried: bytes) -> bytes:
    """The codec's payload: ``carried`` itself, or the JPEG 2000 codestream rebuilt around it
    (around each patch's tile data, in a patch container)."""
    if not header.frame_elided:
        return carried
    height, width = header.patch_shape or (header.height, header.width)
    resolutions = header.resolutions or max_resolutions(height, width)
    frame = CodestreamFrame(
        header.bands, height, width, header.bit_depth, header.lossless, resolutions
    )
    if header.patch_shape is None:
        return join_codestream(frame, carried)
    parts = split_patches(carried, patch_count(header.height, header.width, header.patch_shape))
    return join_patches([join_codestream(frame, part) for part in parts])
