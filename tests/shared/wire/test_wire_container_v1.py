"""Version-1 containers round-trip, and every malformed one is refused with a message naming
the fault (version 2: test_wire_container_v2.py)."""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import numpy as np
import pytest

from shared.codecs.base import ModelRef, RasterSpec
from shared.errors import ContainerError, ResourceLimitError, UnknownNameError
from shared.wire import (
    HEADER_SIZE,
    MAX_METADATA_BYTES,
    compute_checksum,
    pack_container,
    pack_mask,
    read_header,
    unpack_container,
)

DIGEST = hashlib.sha256(b"reconstruction").hexdigest()
SPEC = RasterSpec(bands=1, height=32, width=48, dtype="uint16", bit_depth=14, scale=16383.0)


def _pack(**overrides: Any) -> bytes:
    args: dict[str, Any] = {
        "codec": "jpeg2000",
        "spec": SPEC,
        "model": ModelRef(),
        "payload": b"\xff\x4f\xff\x51" + bytes(range(60)),
        "metadata": {"reconstruction_sha256": DIGEST, "scene_id": "s-1", "psnr_db": 41.5},
        "version": 1,
    }
    args.update(overrides)
    return pack_container(**args)


def _patch(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    """Overwrite one header field and re-seal the CRC, so only that field is wrong."""
    raw = bytearray(data)
    struct.pack_into(fmt, raw, offset, value)
    struct.pack_into("<I", raw, 51, compute_checksum(bytes(raw)))
    return bytes(raw)


def _with_metadata(blob: bytes) -> bytes:
    """A container whose metadata section is ``blob``, with consistent lengths and CRC."""
    base = _pack()
    header = read_header(base)
    payload = base[HEADER_SIZE : HEADER_SIZE + header.payload_bytes]
    raw = bytearray(base[:HEADER_SIZE] + payload + blob)
    struct.pack_into("<I", raw, 43, len(blob))
    struct.pack_into("<I", raw, 51, compute_checksum(bytes(raw)))
    return bytes(raw)


def test_round_trip_keeps_every_field() -> None:
    mask = np.eye(32, 48, dtype=np.uint8)
    model = ModelRef(model_id=4, weights_prefix=bytes(range(1, 9)))
    data = _pack(codec="cheng2020-gmm", model=model, sidecar=pack_mask(mask), quality=4)
    container = unpack_container(data)
    h = container.header
    assert (h.codec_name, h.codec_id, h.model, h.quality, h.lossless) == (
        "cheng2020-gmm",
        15,
        model,
        4,
        False,
    )
    assert h.spec == SPEC and h.total_bytes == len(data)
    assert container.payload.startswith(b"\xff\x4f\xff\x51")
    assert container.metadata["scene_id"] == "s-1"
    np.testing.assert_array_equal(container.truth_mask, mask)
    view = h.to_dict()
    assert view["total_bytes"] == len(data)
    assert view["rate_bytes"] == len(data) - h.sidecar_bytes  # the sidecar never counts in bpp
    assert view["weights_prefix"] == "0102030405060708" and view["codec"] == "cheng2020-gmm"


def test_lossless_flag_and_classical_model_round_trip() -> None:
    container = unpack_container(_pack(lossless=True))
    assert container.header.lossless and container.header.quality is None
    assert container.header.model == ModelRef() and container.sidecar is None
    assert container.truth_mask is None


def test_metadata_bytes_are_sorted_compact_json() -> None:
    data = _pack(metadata={"z": 1, "reconstruction_sha256": DIGEST, "a": "é"})
    header = read_header(data)
    start = HEADER_SIZE + header.payload_bytes
    blob = data[start : start + header.metadata_bytes]
    assert blob == ('{"a":"é","reconstruction_sha256":"' + DIGEST + '","z":1}').encode()


def test_read_header_needs_only_the_header() -> None:
    data = _pack()
    assert read_header(data[:HEADER_SIZE]) == read_header(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"EODL\x01", "shorter than"),
        (b"JUNK" + bytes(80), "bad magic"),
    ],
)
def test_refuses_empty_short_and_foreign_input(data: bytes, message: str) -> None:
    with pytest.raises(ContainerError, match=message):
        unpack_container(data)


def test_refuses_unknown_version_and_names_supported_ones() -> None:
    with pytest.raises(ContainerError, match=r"version 3 is not supported.*versions 1, 2"):
        unpack_container(_patch(_pack(), 4, "<B", 3))


def test_refuses_bad_checksum() -> None:
    raw = bytearray(_pack())
    raw[HEADER_SIZE + 10] ^= 0x01
    with pytest.raises(ContainerError, match="checksum mismatch"):
        unpack_container(bytes(raw))


def test_refuses_truncated_and_extended_data() -> None:
    data = _pack()
    with pytest.raises(ContainerError, match="truncated"):
        unpack_container(data[:-1])
    with pytest.raises(ContainerError, match="trailing bytes"):
        unpack_container(data + b"\x00")


def test_refuses_unknown_codec_id_and_dtype_code() -> None:
    with pytest.raises(ContainerError, match="unknown codec wire id 999"):
        unpack_container(_patch(_pack(), 5, "<H", 999))
    with pytest.raises(ContainerError, match="unknown dtype code 9"):
        unpack_container(_patch(_pack(), 27, "<B", 9))


def test_refuses_unknown_flags_and_inconsistent_sidecar_flag() -> None:
    with pytest.raises(ContainerError, match="unknown bits"):
        unpack_container(_patch(_pack(), 29, "<B", 0x80))
    with pytest.raises(ContainerError, match="sidecar flag"):
        unpack_container(_patch(_pack(), 29, "<B", 0x02))


def test_refuses_invalid_declared_raster() -> None:
    with pytest.raises(ContainerError, match="invalid raster"):
        read_header(_patch(_pack(), 28, "<B", 0))  # bit depth 0


def test_refuses_oversized_metadata() -> None:
    blob = b'{"reconstruction_sha256":"' + DIGEST.encode() + b'","pad":"'
    blob += b"x" * MAX_METADATA_BYTES + b'"}'
    with pytest.raises(ContainerError, match="metadata section of .* exceeds the cap"):
        unpack_container(_with_metadata(blob))


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"\xff\xfe not utf-8", "not UTF-8 JSON"),
        (b"{not json", "not UTF-8 JSON"),
        (b'{"reconstruction_sha256": NaN}', "not UTF-8 JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"scene_id": "s"}', "reconstruction_sha256"),
    ],
)
def test_refuses_bad_metadata(blob: bytes, message: str) -> None:
    with pytest.raises(ContainerError, match=message):
        unpack_container(_with_metadata(blob))


def test_metadata_nested_beyond_any_scene_is_a_container_error() -> None:
    depth = 5000  # json.loads recurses per level: deeper than Python's recursion limit
    blob = b'{"reconstruction_sha256":"' + DIGEST.encode() + b'","x":'
    blob += b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(ContainerError, match="nests too deeply"):
        unpack_container(_with_metadata(blob))


def test_size_cap_is_a_resource_limit() -> None:
    data = _pack()
    with pytest.raises(ResourceLimitError, match="exceeds the cap"):
        unpack_container(data, max_bytes=len(data) - 1)
    assert unpack_container(data, max_bytes=len(data)).header.total_bytes == len(data)


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"model": ModelRef(1, b"\x01\x02")}, ContainerError, "weights prefix"),
        ({"model": ModelRef(70000, bytes(8))}, ContainerError, "does not fit"),
        ({"quality": 0}, ContainerError, "quality 0"),
        ({"payload": b""}, ContainerError, "payload is empty"),
        ({"metadata": {"scene_id": "x"}}, ContainerError, "reconstruction_sha256"),
        (
            {"metadata": {"reconstruction_sha256": DIGEST, "psnr_db": float("inf")}},
            ContainerError,
            "not plain JSON",
        ),
        (
            {"metadata": {"reconstruction_sha256": DIGEST, "x": object()}},
            ContainerError,
            "not plain JSON",
        ),
        ({"codec": "png"}, UnknownNameError, "valid codecs"),
    ],
)
def test_pack_refuses_what_the_format_cannot_hold(
    overrides: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        _pack(**overrides)


def test_container_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        unpack_container(b"")
