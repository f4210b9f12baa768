"""Container format version 2: compact, the JPEG 2000 main header rebuilt on the ground, every
malformed container refused with a message naming the fault, and version-1-only readers
refusing it clearly."""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import numpy as np
import pytest

from shared.codecs.base import ModelRef, RasterSpec, RateTarget
from shared.codecs.j2k_codestream import strip_comments
from shared.codecs.j2k_openjpeg import EncoderSettings, encode_codestream
from shared.compression import compress_raster, decompress_container
from shared.errors import ContainerError
from shared.wire import format_v2, pack_container, pack_mask, read_header, unpack_container
from shared.wire.header import decode_header

DIGEST = hashlib.sha256(b"reconstruction").hexdigest()
SPEC = RasterSpec(bands=1, height=32, width=32, dtype="uint16", bit_depth=14, scale=16383.0)


def _patch() -> np.ndarray:
    rows, cols = np.indices((32, 32))
    image = 5000 + 40 * rows + 25 * cols + 300 * np.sin(rows / 3.0)
    image[10:13, 18:21] = 15500
    return image[np.newaxis].astype(np.uint16)


def _codestream(resolutions: int = 4, comments: bool = False) -> bytes:
    settings = EncoderSettings(precision=14, irreversible=True, ratio=7.0, resolutions=resolutions)
    data = encode_codestream(_patch(), settings)
    return data if comments else strip_comments(data)


def _pack(**overrides: Any) -> bytes:
    args: dict[str, Any] = {
        "codec": "jpeg2000",
        "spec": SPEC,
        "model": ModelRef(),
        "payload": _codestream(),
        "metadata": {},
        "rate_bpp": 2.0,
    }
    args.update(overrides)
    return pack_container(**args)


def _reseal(raw: bytearray) -> bytes:
    struct.pack_into("<I", raw, len(raw) - 4, format_v2.checksum_v2(bytes(raw)))
    return bytes(raw)


def test_a_fire_patch_costs_16_bytes_beyond_its_tile_data() -> None:
    scene = compress_raster(_patch(), codec="jpeg2000", target=RateTarget(bpp=2.0), bit_depth=14)
    header = read_header(scene.container)
    codestream = unpack_container(scene.container).payload
    sod = codestream.index(b"\xff\x93") + 2
    tile_data = len(codestream) - sod - 2  # without the SOT/SOD framing and EOC
    assert header.version == 2 and header.frame_elided
    assert len(scene.container) - tile_data == 16
    assert scene.payload_bpp == len(codestream) * 8 / 1024  # the full standard codestream


def test_the_v2_patch_decodes_bit_identically_to_its_v1_form() -> None:
    options: dict[str, Any] = {"codec": "jpeg2000", "target": RateTarget(bpp=2.0), "bit_depth": 14}
    v1 = compress_raster(_patch(), container_version=1, **options)
    v2 = compress_raster(_patch(), **options)
    assert len(v2.container) < len(v1.container) - 300
    one, two = decompress_container(v1.container), decompress_container(v2.container)
    np.testing.assert_array_equal(one.raster, two.raster)
    assert unpack_container(v1.container).payload == unpack_container(v2.container).payload
    assert one.digest_matches is True and two.digest_matches is None  # J2K: no check carried


def test_round_trip_keeps_every_field() -> None:
    spec = RasterSpec(bands=10, height=130, width=70, dtype="uint16", bit_depth=14, scale=10000.0)
    mask = np.eye(130, 70, dtype=np.uint8)
    model = ModelRef(model_id=5, weights_prefix=bytes(range(1, 9)))
    data = pack_container(
        codec="cheng2020-gmm",
        spec=spec,
        model=model,
        payload=b"learned" * 40,
        metadata={"note": "ünïcode", "n": 3},
        sidecar=pack_mask(mask),
        quality=5,
        rate_bpp=0.3,
        digest=DIGEST,
    )
    container = unpack_container(data)
    header = container.header
    assert (header.version, header.codec_name, header.spec, header.model) == (
        2, "cheng2020-gmm", spec, model,
    )  # fmt: skip
    assert header.quality == 5 and not header.lossless and not header.frame_elided
    assert format_v2.bpp_of_code(header.rate_code or 0) == pytest.approx(0.3, rel=0.022)
    assert container.payload == b"learned" * 40
    assert container.metadata == {"note": "ünïcode", "n": 3}
    np.testing.assert_array_equal(container.truth_mask, mask)
    assert container.digest == bytes.fromhex(DIGEST)[:8]
    assert container.reconstruction_matches(DIGEST) is True
    assert container.reconstruction_matches(hashlib.sha256(b"other").hexdigest()) is False
    assert header.total_bytes == len(data)
    sidecar_field = 2  # the sidecar's length as a varint
    assert header.rate_bytes == len(data) - len(pack_mask(mask)) - sidecar_field


@pytest.mark.parametrize("scale", [16383.0, 10000.0, 0.75, 2.5e9])
def test_scale_round_trips_exactly(scale: float) -> None:
    spec = RasterSpec(1, 32, 32, "uint16", 14, scale)
    data = _pack(spec=spec, codec="cheng2020-gmm", payload=b"x" * 20)
    assert read_header(data).scale == scale


def test_a_codestream_the_ground_cannot_rebuild_is_carried_whole() -> None:
    with_comment = _codestream(comments=True)  # OpenJPEG's COM marker: not our framing
    container = unpack_container(_pack(payload=with_comment))
    assert not container.header.frame_elided
    assert container.payload == with_comment


def test_non_default_resolutions_ride_in_one_byte() -> None:
    default, fewer = _pack(), _pack(payload=_codestream(resolutions=2))
    header = read_header(fewer)
    assert header.frame_elided and header.resolutions == 2
    assert unpack_container(fewer).payload == _codestream(resolutions=2)
    assert read_header(default).resolutions is None


def test_a_version_1_reader_refuses_version_2_clearly() -> None:
    with pytest.raises(ContainerError, match=r"version 2 is not supported.*upgrade the ground"):
        decode_header(_pack())


def test_refuses_an_unknown_version() -> None:
    raw = bytearray(_pack())
    raw[4] = 3
    with pytest.raises(ContainerError, match=r"version 3 is not supported.*versions 1, 2"):
        unpack_container(bytes(raw))


def test_refuses_corruption_truncation_and_extension() -> None:
    data = _pack()
    raw = bytearray(data)
    raw[14] ^= 0x40
    with pytest.raises(ContainerError, match="checksum mismatch"):
        unpack_container(bytes(raw))
    for broken in (data[:-1], data + b"\x00", data[:9]):
        with pytest.raises(ContainerError):
            unpack_container(broken)


def test_refuses_unknown_flags() -> None:
    raw = bytearray(_pack())
    raw[6] |= 0x80  # flags become a three-byte varint: the next bytes are its continuation
    raw.insert(7, 0x80)
    raw.insert(8, 0x01)  # bit 14
    with pytest.raises(ContainerError, match="unknown bits"):
        unpack_container(_reseal(raw))


def test_refuses_a_frame_flag_on_a_learned_payload() -> None:
    data = bytearray(_pack(codec="cheng2020-gmm", payload=b"y" * 30))
    data[6] |= format_v2.FLAG_FRAME
    with pytest.raises(ContainerError, match="JPEG 2000 tile data"):
        unpack_container(_reseal(data))


def test_refuses_a_varint_that_is_not_shortest() -> None:
    raw = bytearray(_pack())
    raw[7:8] = bytes([raw[7] | 0x80, 0x00])  # bands as a two-byte varint of the same value
    with pytest.raises(ContainerError, match="not a shortest varint"):
        unpack_container(_reseal(raw))


def test_refuses_sections_longer_than_the_container() -> None:
    data = bytearray(_pack(metadata={"a": 1}))
    assert data[6] & format_v2.FLAG_METADATA  # the flags
    at = read_header(bytes(data)).header_bytes - 1  # the metadata length, the last field
    data[at : at + 1] = b"\xff\x7f"  # 16383 bytes
    with pytest.raises(ContainerError, match="truncated or corrupt"):
        unpack_container(_reseal(data))


def test_refuses_bad_free_metadata() -> None:
    data = bytearray(_pack(metadata={"a": 1}))
    at = data.index(b'{"a":1}')
    data[at : at + 7] = b"{not js"
    with pytest.raises(ContainerError, match="not UTF-8 JSON"):
        unpack_container(_reseal(data))


def test_rate_codes_cover_the_targets_a_mission_asks_for() -> None:
    for bpp in (0.01, 0.1, 0.3, 1.0, 2.0, 8.0, 64.0):
        code = format_v2.rate_code(bpp)
        assert code is not None
        assert format_v2.bpp_of_code(code) == pytest.approx(bpp, rel=0.022)
    assert format_v2.rate_code(1000.0) is None
