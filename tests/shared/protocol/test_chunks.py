"""Chunk arithmetic and CRC32C: the sender's and receiver's views of a transfer agree."""

from __future__ import annotations

import pytest

from shared.errors import ConfigurationError
from shared.protocol.chunks import (
    DEFAULT_CHUNK_BYTES,
    chunk_bounds,
    chunk_count,
    crc32c_hex,
    missing_ranges,
)


def test_crc32c_check_value() -> None:
    # The standard CRC-32C check value (RFC 3720, iSCSI).
    assert crc32c_hex(b"123456789") == "e3069283"
    assert crc32c_hex(b"") == "00000000"


@pytest.mark.parametrize(
    ("total", "size", "count"),
    [(0, 4, 0), (1, 4, 1), (4, 4, 1), (5, 4, 2), (DEFAULT_CHUNK_BYTES * 3, DEFAULT_CHUNK_BYTES, 3)],
)
def test_chunk_count(total: int, size: int, count: int) -> None:
    assert chunk_count(total, size) == count


def test_chunk_bounds_cover_every_byte_once() -> None:
    data = bytes(range(256)) * 4 + b"tail"
    parts = [
        data[slice(*chunk_bounds(i, len(data), 100))] for i in range(chunk_count(len(data), 100))
    ]
    assert b"".join(parts) == data
    assert chunk_bounds(10, len(data), 100) == (1000, 1028)


@pytest.mark.parametrize("index", [-1, 11])
def test_chunk_bounds_refuse_out_of_range(index: int) -> None:
    with pytest.raises(ConfigurationError, match="out of range"):
        chunk_bounds(index, 1028, 100)


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        chunk_count(10, 0)
    with pytest.raises(ConfigurationError):
        chunk_count(-1, 10)


def test_missing_ranges() -> None:
    assert missing_ranges([], 0) == []
    assert missing_ranges([], 3) == [(0, 2)]
    assert missing_ranges([0, 1, 2], 3) == []
    assert missing_ranges([0, 2, 3, 7, 42], 9) == [(1, 1), (4, 6), (8, 8)]
