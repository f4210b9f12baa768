"""The tile directory round-trips, and a truncated or corrupt one is refused by name."""

from __future__ import annotations

import struct

import google_crc32c
import pytest

from shared.codecs.base import ModelRef
from shared.errors import ContainerError
from shared.wire.tiles import (
    TILE_MAGIC,
    directory_bytes,
    pack_tiled_payload,
    parse_tile_directory,
    read_tile_side,
)

MODEL = ModelRef(2, bytes(range(1, 9)))
TILES = [(bytes([i]) * (10 + i), MODEL) for i in range(6)]  # a 3 x 2 grid


def _payload() -> bytes:
    return pack_tiled_payload(128, 3, 2, TILES)


def _resealed(payload: bytes, offset: int, fmt: str, value: int) -> bytes:
    """Overwrite one directory field and recompute the directory CRC: only that field lies."""
    raw = bytearray(payload)
    struct.pack_into(fmt, raw, offset, value)
    end = directory_bytes(6) - 4
    struct.pack_into("<I", raw, end, google_crc32c.value(bytes(raw[:end])))
    return bytes(raw)


def test_round_trip_gives_every_tile_and_model() -> None:
    payload = _payload()
    directory = parse_tile_directory(payload, 3, 2)
    assert payload[:4] == TILE_MAGIC and read_tile_side(payload) == 128
    assert (directory.tile_side, directory.rows, directory.cols) == (128, 3, 2)
    assert directory.models == (MODEL,) * 6
    assert [payload[a:b] for a, b in directory.offsets()] == [p for p, _ in TILES]
    classical = pack_tiled_payload(64, 1, 1, [(b"j2k", ModelRef())])
    assert parse_tile_directory(classical, 1, 1).models == (ModelRef(),)


def test_every_truncation_is_refused() -> None:
    payload = _payload()
    for size in range(len(payload)):
        with pytest.raises(ContainerError, match="truncated|shorter"):
            parse_tile_directory(payload[:size], 3, 2)


def test_a_flipped_directory_byte_fails_the_crc() -> None:
    payload = _payload()
    for offset in range(11, directory_bytes(6)):  # past magic/version/side: the CRC catches
        raw = bytearray(payload)
        raw[offset] ^= 0x10
        with pytest.raises(ContainerError, match="CRC32C|grid"):
            parse_tile_directory(bytes(raw), 3, 2)


@pytest.mark.parametrize(
    ("offset", "fmt", "value", "message"),
    [
        (0, "<4s", b"EOLP", "magic"),
        (4, "<B", 2, "version 2"),
        (5, "<H", 0, "side of 0"),
        (7, "<H", 4, "4x2 grid"),
        (11, "<I", 0, "empty payload"),
        (11, "<I", 11, "sum to"),
    ],
)
def test_lying_fields_with_a_valid_crc_are_refused(
    offset: int, fmt: str, value: object, message: str
) -> None:
    with pytest.raises(ContainerError, match=message):
        parse_tile_directory(_resealed(_payload(), offset, fmt, value), 3, 2)  # type: ignore[arg-type]


def test_extra_bytes_after_the_tiles_are_refused() -> None:
    with pytest.raises(ContainerError, match="sum to"):
        parse_tile_directory(_payload() + b"\x00", 3, 2)


def test_packing_refuses_what_the_format_cannot_hold() -> None:
    with pytest.raises(ContainerError, match="grid"):
        pack_tiled_payload(128, 3, 3, TILES)
    with pytest.raises(ContainerError, match="empty"):
        pack_tiled_payload(128, 1, 1, [(b"", MODEL)])
    with pytest.raises(ContainerError, match="1..65535"):
        pack_tiled_payload(70000, 3, 2, TILES)
