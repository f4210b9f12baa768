"""The tile directory of a tiled payload (container header flag ``FLAG_TILED``).

A tiled payload is this directory followed by the inner codec's per-tile payloads, in raster
order of the tile grid (row by row). Layout, version 1, little-endian, no padding::

    offset  size  field
    0       4     magic b"EOTD"
    4       1     directory version (1)
    5       2     tile side in pixels (u16); edge tiles are cropped from padded tiles
    7       2     tile rows (u16)
    9       2     tile cols (u16)
    11      14n   per tile: payload length (u32), model id (u16), weights prefix (8 bytes)
    11+14n  4     CRC32C of everything before it

The grid is implied by the raster's size and the tile side; the reader refuses a directory whose
grid differs, whose lengths do not add up to the bytes that follow, or whose CRC is wrong, before
any tile is decoded. Each tile names its own model (quality and weights), so tiles may one day be
coded at different qualities; the container header carries the first tile's model.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import google_crc32c

from shared.codecs.base import WEIGHTS_PREFIX_BYTES, ModelRef
from shared.errors import ContainerError

TILE_MAGIC = b"EOTD"
TILE_DIRECTORY_VERSION = 1
MAX_TILE_SIDE = 65535
_HEAD = struct.Struct("<4sBHHH")
_ENTRY = struct.Struct(f"<IH{WEIGHTS_PREFIX_BYTES}s")
_CRC = struct.Struct("<I")
_NO_WEIGHTS = bytes(WEIGHTS_PREFIX_BYTES)


@dataclass(frozen=True)
class TileDirectory:
    """Where each tile's payload lies and which model coded it.

    Attributes:
        tile_side: side of a full tile in pixels.
        rows, cols: the tile grid (``ceil(H / tile_side)`` by ``ceil(W / tile_side)``).
        lengths: each tile's payload length in bytes, in raster order of the grid.
        models: each tile's model (quality and weights prefix), in the same order.
    """

    tile_side: int
    rows: int
    cols: int
    lengths: tuple[int, ...]
    models: tuple[ModelRef, ...]

    @property
    def size(self) -> int:
        """Bytes the directory itself takes on the wire."""
        return directory_bytes(self.rows * self.cols)

    def offsets(self) -> list[tuple[int, int]]:
        """(start, stop) of each tile's payload within the whole tiled payload."""
        spans, start = [], self.size
        for length in self.lengths:
            spans.append((start, start + length))
            start += length
        return spans


def directory_bytes(tiles: int) -> int:
    """Size of a directory for ``tiles`` tiles."""
    return _HEAD.size + _ENTRY.size * tiles + _CRC.size


def pack_tiled_payload(
    tile_side: int, rows: int, cols: int, tiles: list[tuple[bytes, ModelRef]]
) -> bytes:
    """The directory followed by the tile payloads, in raster order of the grid.

    Raises:
        ContainerError: the grid, a tile side or a field does not fit the format, or a tile
            payload is empty.
    """
    if len(tiles) != rows * cols or not 1 <= tile_side <= MAX_TILE_SIDE:
        raise ContainerError(
            f"{len(tiles)} tiles of side {tile_side} do not fill a {rows}x{cols} grid; "
            f"pass one payload per tile and a side of 1..{MAX_TILE_SIDE}"
        )
    if any(not payload for payload, _ in tiles):
        raise ContainerError("a tile payload is empty; every tile must carry coded bytes")
    try:
        head = _HEAD.pack(TILE_MAGIC, TILE_DIRECTORY_VERSION, tile_side, rows, cols)
        entries = b"".join(
            _ENTRY.pack(len(payload), model.model_id, model.weights_prefix or _NO_WEIGHTS)
            for payload, model in tiles
        )
    except struct.error as exc:
        raise ContainerError(f"a tile directory field does not fit its width: {exc}") from exc
    body = head + entries
    return body + _CRC.pack(google_crc32c.value(body)) + b"".join(p for p, _ in tiles)


def parse_tile_directory(payload: bytes, rows: int, cols: int) -> TileDirectory:
    """Read and verify the directory at the start of a tiled payload.

    Args:
        payload: the whole tiled payload (directory and tiles).
        rows: tile rows of the grid.
        cols: tile columns of the grid. Both must be what the raster's size and the
            directory's tile side give: pass the grid the caller derived (see
            :func:`read_tile_side` for the side).

    Raises:
        ContainerError: truncated, bad magic, unknown version, CRC mismatch, a grid that
            differs, an empty tile, or lengths that do not add up to the payload.
    """
    side = read_tile_side(payload)
    _magic, _version, _side, got_rows, got_cols = _HEAD.unpack_from(payload)
    if (got_rows, got_cols) != (rows, cols):
        raise ContainerError(
            f"tile directory declares a {got_rows}x{got_cols} grid but the raster size and "
            f"tile side {side} give {rows}x{cols}: header and payload disagree"
        )
    tiles = rows * cols
    size = directory_bytes(tiles)
    if len(payload) < size:
        raise ContainerError(
            f"tiled payload of {len(payload)} bytes is shorter than its {size}-byte directory "
            f"for {rows}x{cols} tiles: it was truncated; resend the transfer"
        )
    body = bytes(payload[: size - _CRC.size])
    (crc,) = _CRC.unpack_from(payload, size - _CRC.size)
    if google_crc32c.value(body) != crc:
        raise ContainerError("tile directory CRC32C mismatch: the directory is corrupt")
    lengths, models = [], []
    for index in range(tiles):
        length, model_id, prefix = _ENTRY.unpack_from(body, _HEAD.size + _ENTRY.size * index)
        if length == 0:
            raise ContainerError(
                f"tile {index} declares an empty payload: the directory is corrupt"
            )
        lengths.append(length)
        models.append(ModelRef(model_id, b"" if prefix == _NO_WEIGHTS else prefix))
    if sum(lengths) != len(payload) - size:
        raise ContainerError(
            f"tile payload lengths sum to {sum(lengths)} bytes but {len(payload) - size} follow "
            "the directory: the payload is truncated or corrupt"
        )
    return TileDirectory(side, rows, cols, tuple(lengths), tuple(models))


def read_tile_side(payload: bytes) -> int:
    """The tile side a tiled payload declares (magic and version checked; nothing else).

    Raises:
        ContainerError: the payload is shorter than the directory head, or its magic or
            version is wrong.
    """
    if len(payload) < _HEAD.size:
        raise ContainerError(
            f"tiled payload of {len(payload)} bytes is shorter than the {_HEAD.size}-byte "
            "directory head: it was truncated; resend the transfer"
        )
    magic, version, side, _rows, _cols = _HEAD.unpack_from(payload)
    if magic != TILE_MAGIC:
        raise ContainerError(
            f"tiled payload magic {magic!r} is not {TILE_MAGIC!r}: the header's tiled flag is "
            "set on a payload that is not tiled; the container is corrupt"
        )
    if version != TILE_DIRECTORY_VERSION:
        raise ContainerError(
            f"tile directory version {version} is unknown; this build reads version "
            f"{TILE_DIRECTORY_VERSION}: upgrade the ground software"
        )
    if side == 0:
        raise ContainerError("tile directory declares a tile side of 0: it is corrupt")
    return int(side)
