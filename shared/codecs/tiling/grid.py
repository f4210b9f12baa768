"""The tile grid: when a scene is tiled, where each tile lies, how edge tiles are padded.

Tiles never overlap. The tile side is a multiple of the codec's block (64 for the learned
codecs), so an interior tile is coded exactly as it is; an edge tile is padded by mirror
reflection (``symmetric``: any pad length, even past a 1-pixel edge) to the next multiple of the
block and cropped after decoding, so no padding ever reaches the scene.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from shared.codecs.base import CodecKind, RasterSpec
from shared.codecs.registry import codec_info
from shared.errors import ConfigurationError
from shared.wire.tiles import MAX_TILE_SIDE

DEFAULT_TILE_SIDE = 512
DEFAULT_WORKERS = 2
MIN_TILE_SIDE = 64
MAX_WORKERS = 32
LEARNED_BLOCK = 64  # total downsampling of the learned codecs (shared.codecs.learned.codec)
StartMethod = Literal["auto", "fork", "spawn"]


@dataclass(frozen=True)
class TilingPolicy:
    """When a scene is tiled, and how.

    Attributes:
        tile_side: side of a full tile in pixels, a multiple of the codec's block (64 for the
            learned codecs); a scene taller or wider than this is tiled.
        workers: processes coding tiles at the same time; 1 codes them in this process.
        kinds: the codec kinds that tile (learned only by default: see the module docstring).
        start_method: how worker processes start. ``auto`` forks when the calling process runs
            a single thread (cheap: the children inherit the imported torch) and spawns fresh
            interpreters otherwise (a fork of a multi-threaded process can inherit a held lock
            and deadlock). Spawned workers re-import the caller's main module, so a calling
            script needs the ``if __name__ == "__main__":`` guard.
    """

    tile_side: int = DEFAULT_TILE_SIDE
    workers: int = DEFAULT_WORKERS
    kinds: tuple[CodecKind, ...] = field(default=("learned",))
    start_method: StartMethod = "auto"

    def __post_init__(self) -> None:
        if not MIN_TILE_SIDE <= self.tile_side <= MAX_TILE_SIDE:
            raise ConfigurationError(
                f"tile side {self.tile_side} is outside {MIN_TILE_SIDE}..{MAX_TILE_SIDE}; "
                f"use a multiple of {LEARNED_BLOCK} such as {DEFAULT_TILE_SIDE}"
            )
        if not 1 <= self.workers <= MAX_WORKERS:
            raise ConfigurationError(
                f"tiling workers must be 1..{MAX_WORKERS}, got {self.workers}; use about the "
                "number of CPU cores the coder may take"
            )
        if self.start_method not in ("auto", "fork", "spawn"):
            raise ConfigurationError(
                f"start method {self.start_method!r} is unknown; use auto, fork or spawn"
            )

    def applies(self, kind: CodecKind, spec: RasterSpec) -> bool:
        """Whether a raster of ``spec`` coded by a codec of ``kind`` is tiled."""
        return kind in self.kinds and max(spec.height, spec.width) > self.tile_side


@dataclass(frozen=True)
class Tile:
    """One tile of the grid: where it lies in the scene and the padded size it is coded at."""

    top: int
    left: int
    height: int
    width: int
    coded_height: int
    coded_width: int

    def spec(self, scene: RasterSpec) -> RasterSpec:
        """The spec the inner codec codes this tile with (the scene's dtype and scale)."""
        return RasterSpec(
            scene.bands, self.coded_height, self.coded_width, scene.dtype, scene.bit_depth,
            scene.scale,
        )  # fmt: skip

    def cut(self, raster: NDArray[Any]) -> NDArray[Any]:
        """This tile of a (C, H, W) raster, mirror-padded to the coded size. C-contiguous."""
        piece = raster[:, self.top : self.top + self.height, self.left : self.left + self.width]
        pad = ((0, 0), (0, self.coded_height - self.height), (0, self.coded_width - self.width))
        return np.ascontiguousarray(np.pad(piece, pad, mode="symmetric"))

    def place(self, scene: NDArray[Any], decoded: NDArray[Any]) -> None:
        """Crop a decoded tile to its box and write it into ``scene`` (C, H, W)."""
        box = (slice(None), slice(self.top, self.top + self.height))
        scene[(*box, slice(self.left, self.left + self.width))] = decoded[
            :, : self.height, : self.width
        ]


def codec_block(codec: str) -> int:
    """The size a codec's input must be a multiple of (1: any size)."""
    return codec_info(codec).capabilities.block


def grid_shape(spec: RasterSpec, tile_side: int) -> tuple[int, int]:
    """(rows, cols) of the tile grid over a raster."""
    return -(-spec.height // tile_side), -(-spec.width // tile_side)


def tile_grid(spec: RasterSpec, tile_side: int, block: int) -> list[Tile]:
    """The tiles of a raster in raster order; edge tiles are coded padded to ``block``.

    Raises:
        ConfigurationError: ``tile_side`` is not a positive multiple of ``block``.
    """
    if tile_side < 1 or tile_side % block:
        raise ConfigurationError(
            f"tile side {tile_side} is not a multiple of the codec's block of {block} pixels; "
            f"use e.g. {max(block, DEFAULT_TILE_SIDE - DEFAULT_TILE_SIDE % block)}"
        )
    rows, cols = grid_shape(spec, tile_side)
    tiles = []
    for row in range(rows):
        top = row * tile_side
        height = min(tile_side, spec.height - top)
        for col in range(cols):
            left = col * tile_side
            width = min(tile_side, spec.width - left)
            tiles.append(
                Tile(
                    top,
                    left,
                    height,
                    width,
                    -(-height // block) * block,
                    -(-width // block) * block,
                )
            )
    return tiles
