"""Chunk arithmetic and the per-chunk CRC32C shared by sender and receiver.

Chunks are numbered from 0; every chunk is ``chunk_bytes`` long except possibly the last.
A zero-byte transfer has no chunks.
"""

from __future__ import annotations

from collections.abc import Iterable

import google_crc32c

from shared.errors import ConfigurationError

HEADER_CHUNK_CRC32C = "X-EODL-Chunk-CRC32C"
DEFAULT_CHUNK_BYTES = 256 * 1024
#: Link bytes of one request beyond its body (request line and signed headers); the sender
#: charges it to the link and the planner budgets it.
REQUEST_OVERHEAD_BYTES = 512


def crc32c_hex(data: bytes) -> str:
    """CRC32C (Castagnoli) of ``data`` as 8 lowercase hex digits, the header's format."""
    return f"{google_crc32c.value(bytes(data)):08x}"


def _check_sizes(total_bytes: int, chunk_bytes: int) -> None:
    if total_bytes < 0:
        raise ConfigurationError(f"total_bytes must be >= 0, got {total_bytes}")
    if chunk_bytes < 1:
        raise ConfigurationError(f"chunk_bytes must be >= 1, got {chunk_bytes}")


def chunk_count(total_bytes: int, chunk_bytes: int) -> int:
    """Number of chunks ``total_bytes`` splits into (ceil division)."""
    _check_sizes(total_bytes, chunk_bytes)
    return -(-total_bytes // chunk_bytes)


def chunk_bounds(index: int, total_bytes: int, chunk_bytes: int) -> tuple[int, int]:
    """Byte range ``[start, stop)`` of chunk ``index``.

    Raises:
        ConfigurationError: ``index`` is outside ``0 .. chunk_count - 1``.
    """
    count = chunk_count(total_bytes, chunk_bytes)
    if not (0 <= index < count):
        raise ConfigurationError(
            f"chunk index {index} is out of range; this transfer has chunks 0..{count - 1}"
        )
    start = index * chunk_bytes
    return start, min(start + chunk_bytes, total_bytes)


def missing_ranges(received: Iterable[int], count: int) -> list[tuple[int, int]]:
    """Inclusive ``[start, end]`` ranges of chunk indices in ``0..count-1`` not yet received.

    This is the receiver's NAK list; indices outside the range are ignored.
    """
    have = {i for i in received if 0 <= i < count}
    ranges: list[tuple[int, int]] = []
    start: int | None = None
    for i in range(count):
        if i in have:
            if start is not None:
                ranges.append((start, i - 1))
                start = None
        elif start is None:
            start = i
    if start is not None:
        ranges.append((start, count - 1))
    return ranges
