"""Scenes of real size: overlap-free tiles, coded independently and in parallel, one payload.

A learned codec's activations grow with the raster (a 2048 x 2048 scene needs gigabytes in one
piece), so a scene larger than one tile is cut into a grid of ``tile_side`` squares. Tiles
never overlap; the tile side is a multiple of the codec's block (64 for the learned codecs), so
every interior tile is coded exactly as it is, and edge tiles are padded by mirror reflection to
the next multiple of the block and cropped after decoding (no padding ever reaches the scene).
Each worker process codes one tile at a time, so memory is bounded by one tile's activations
per worker. The payload is ``shared.wire.tiles``'s directory followed by the tile payloads; the
digest and PSNR are computed on the assembled scene.

JPEG 2000 stays untiled by default: its wavelet transform and rate allocation are global (no
seams at all), OpenJPEG codes a 2048 x 2048 scene in tens of megabytes, and the codestream
stays readable by any J2K decoder. :class:`TilingPolicy` can tile it too (``kinds``).

Modules: ``grid`` (policy, tiles, padding), ``pool`` (worker processes), ``codec`` (encode and
decode a tiled payload).
"""

from shared.codecs.tiling.codec import decode_tiled, encode_tiled
from shared.codecs.tiling.grid import (
    DEFAULT_TILE_SIDE,
    DEFAULT_WORKERS,
    LEARNED_BLOCK,
    MIN_TILE_SIDE,
    Tile,
    TilingPolicy,
    codec_block,
    grid_shape,
    tile_grid,
)
from shared.codecs.tiling.pool import map_tiles, start_method_for

__all__ = [
    "DEFAULT_TILE_SIDE",
    "DEFAULT_WORKERS",
    "LEARNED_BLOCK",
    "MIN_TILE_SIDE",
    "Tile",
    "TilingPolicy",
    "codec_block",
    "decode_tiled",
    "encode_tiled",
    "grid_shape",
    "map_tiles",
    "start_method_for",
    "tile_grid",
]
