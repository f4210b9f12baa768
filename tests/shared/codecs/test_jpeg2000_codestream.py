"""JPEG 2000 decoder guards: the header is read and checked before OpenJPEG allocates anything."""

from __future__ import annotations

import resource
import struct

import numpy as np
import pytest

import shared.codecs.jpeg2000 as jpeg2000
from shared.codecs.base import DecodeLimits, ModelRef, RasterSpec, RateTarget
from shared.codecs.j2k_codestream import inspect_codestream, parse_siz, strip_comments
from shared.codecs.j2k_openjpeg import EncoderSettings, decode_codestream, encode_codestream
from shared.codecs.jpeg2000 import Jpeg2000Codec
from shared.errors import CodecError, EODownlinkError, ResourceLimitError

SPEC = RasterSpec(1, 32, 32, "uint16", 14, 16383.0)
XSIZ, YSIZ, XTSIZ, YTSIZ = 8, 12, 24, 28  # byte offsets of SIZ fields in a codestream


def _raster(spec: RasterSpec = SPEC, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    smooth = np.cumsum(rng.integers(-40, 41, spec.shape), axis=2) + 8000
    return np.clip(smooth, 0, 2**spec.bit_depth - 1).astype(spec.dtype)


@pytest.fixture(scope="module")
def codestream() -> bytes:
    return Jpeg2000Codec().encode(_raster(), SPEC, RateTarget(lossless=True)).payload


@pytest.fixture()
def openjpeg_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count calls into the real OpenJPEG decode (it still runs)."""
    calls: list[int] = []
    real = jpeg2000.decode_codestream

    def counting(*args: object, **kwargs: object) -> np.ndarray:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jpeg2000, "decode_codestream", counting)
    return calls


def _patched(data: bytes, **fields: int) -> bytes:
    out = bytearray(data)
    for offset, value in fields.items():
        struct.pack_into(">I", out, {"x": XSIZ, "y": YSIZ, "tx": XTSIZ, "ty": YTSIZ}[offset], value)
    return bytes(out)


def test_siz_is_parsed_without_decoding() -> None:
    raster = _raster(RasterSpec(5, 40, 24, "uint16", 11, 2047.0))
    data = encode_codestream(raster, EncoderSettings(11, False, None, 3))
    siz = parse_siz(data)
    assert (siz.bands, siz.height, siz.width, siz.tiles) == (5, 40, 24, 1)
    assert {(c.precision, c.signed, c.dx, c.dy) for c in siz.components} == {(11, False, 1, 1)}
    assert inspect_codestream(data).cod.decomposition_levels == 2


def test_stripping_the_comment_keeps_the_pixels() -> None:
    raster = _raster()
    data = encode_codestream(raster, EncoderSettings(14, True, 20.0, 4))
    stripped = strip_comments(data)
    assert inspect_codestream(data).has_comment and not inspect_codestream(stripped).has_comment
    assert len(stripped) < len(data)
    np.testing.assert_array_equal(
        decode_codestream(stripped, SPEC.shape), decode_codestream(data, SPEC.shape)
    )


def test_declared_bomb_is_refused_before_openjpeg_runs(
    codestream: bytes, openjpeg_calls: list[int]
) -> None:
    bomb = _patched(codestream, x=16384, y=16384, tx=16384, ty=16384)
    assert len(bomb) < 2000 and parse_siz(bomb).pixels == 16384 * 16384
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for spec in (SPEC, RasterSpec(1, 16384, 16384, "uint16", 14, 16383.0)):
        with pytest.raises(ResourceLimitError, match="16384x16384"):
            Jpeg2000Codec().decode(bomb, spec, ModelRef(), DecodeLimits(max_pixels=4096**2))
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert openjpeg_calls == [] and grown_kib < 64 * 1024  # a decode would need 1 GiB


def test_too_many_declared_tiles_are_refused(codestream: bytes, openjpeg_calls: list[int]) -> None:
    with pytest.raises(ResourceLimitError, match="4096 tiles"):
        Jpeg2000Codec().decode(_patched(codestream, x=64, y=64, tx=1, ty=1), SPEC, ModelRef())
    with pytest.raises(CodecError, match="declares 1024 tiles but carries tile-parts for 1"):
        Jpeg2000Codec().decode(_patched(codestream, tx=1, ty=1), SPEC, ModelRef())
    assert openjpeg_calls == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (RasterSpec(2, 32, 32, "uint16", 14, 16383.0), "shape"),
        (RasterSpec(1, 32, 31, "uint16", 14, 16383.0), "shape"),
        (RasterSpec(1, 16, 32, "uint16", 14, 16383.0), "shape"),
        (RasterSpec(1, 32, 32, "uint16", 16, 65535.0), "14-bit"),
        (RasterSpec(1, 32, 32, "uint8", 8, 255.0), "14-bit"),
    ],
)
def test_codestream_not_matching_the_spec_is_refused(
    codestream: bytes, openjpeg_calls: list[int], spec: RasterSpec, message: str
) -> None:
    with pytest.raises(CodecError, match=message):
        Jpeg2000Codec().decode(codestream, spec, ModelRef())
    assert openjpeg_calls == []


def test_model_weights_and_oversized_payloads_are_refused(codestream: bytes) -> None:
    codec = Jpeg2000Codec()
    with pytest.raises(CodecError, match="no model weights"):
        codec.decode(codestream, SPEC, ModelRef(3, b"\x01" * 8))
    with pytest.raises(ResourceLimitError, match="payload of"):
        codec.decode(codestream, SPEC, ModelRef(), DecodeLimits(max_payload_bytes=100))


@pytest.mark.parametrize("cut", [1, 2, 3, 10, 200, -60, -20, -4, -1])
def test_truncated_codestreams_are_refused(
    codestream: bytes, openjpeg_calls: list[int], cut: int
) -> None:
    with pytest.raises(CodecError):
        Jpeg2000Codec().decode(codestream[:cut], SPEC, ModelRef())
    assert openjpeg_calls == []


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not a codestream at all",
        b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(200),  # a JP2 box file, not a codestream
        bytes(np.random.default_rng(1).integers(0, 256, 600, dtype=np.uint8)),
    ],
    ids=["empty", "text", "jp2-boxes", "random"],
)
def test_non_codestreams_are_refused(payload: bytes, openjpeg_calls: list[int]) -> None:
    with pytest.raises(CodecError):
        Jpeg2000Codec().decode(payload, SPEC, ModelRef())
    assert openjpeg_calls == []


@pytest.mark.parametrize(
    ("offset", "value"),
    [(5, 0x00), (41, 0x00), (42, 0x0F), (45, 0x00), (52, 0x00), (58, 0x07), (-1, 0x00)],
    ids=["Lsiz", "Csiz", "Ssiz", "COD-marker", "COD-layers", "COD-transform", "EOC"],
)
def test_corrupted_markers_are_refused(codestream: bytes, offset: int, value: int) -> None:
    corrupted = bytearray(codestream)
    assert corrupted[offset] != value
    corrupted[offset] = value
    with pytest.raises(CodecError):
        Jpeg2000Codec().decode(bytes(corrupted), SPEC, ModelRef())


def test_trailing_bytes_after_eoc_are_refused(codestream: bytes) -> None:
    with pytest.raises(CodecError, match="chain broken"):
        Jpeg2000Codec().decode(codestream + b"\x00\x00", SPEC, ModelRef())


def test_flipped_entropy_coded_bytes_never_leak_foreign_errors(codestream: bytes) -> None:
    """Bit errors in packets are the container checksum's job; here: a domain error or pixels."""
    codec = Jpeg2000Codec()
    sod = codestream.index(b"\xff\x93") + 2  # the packets follow the SOD marker
    for position in range(sod, len(codestream) - 2, max(1, (len(codestream) - sod) // 12)):
        flipped = bytearray(codestream)
        flipped[position] ^= 0x5A
        try:
            decoded = codec.decode(bytes(flipped), SPEC, ModelRef())
        except EODownlinkError:
            continue
        assert decoded.shape == SPEC.shape and decoded.dtype == np.uint16
