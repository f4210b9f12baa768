"""Encode and decode a scene tile by tile into one tiled payload (``shared.wire.tiles``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from shared.codecs.base import (
    Codec,
    DecodeLimits,
    EncodedPayload,
    ModelRef,
    RasterSpec,
    RateTarget,
)
from shared.codecs.tiling.grid import (
    MIN_TILE_SIDE,
    TilingPolicy,
    codec_block,
    grid_shape,
    tile_grid,
)
from shared.codecs.tiling.pool import map_tiles
from shared.errors import CodecError, ContainerError
from shared.wire.tiles import pack_tiled_payload, parse_tile_directory, read_tile_side


def encode_tiled(
    raster: NDArray[Any],
    spec: RasterSpec,
    target: RateTarget,
    *,
    codec: str,
    policy: TilingPolicy,
    checkpoints: Any = None,
) -> EncodedPayload:
    """Encode a raster tile by tile into one tiled payload.

    Shape:
        raster: (C, H, W) in ``spec.dtype``; the reconstruction has the same shape.

    Raises:
        ConfigurationError: the tile side does not fit the codec's block.
        CodecError: a tile failed to encode, or a worker process died.
    """
    tiles = tile_grid(spec, policy.tile_side, codec_block(codec))
    jobs = [(tile.cut(raster), tile.spec(spec), target) for tile in tiles]
    results = map_tiles(_encode_tile, jobs, codec, checkpoints, policy)
    models = {result.model for result in results}
    if len(models) != 1:
        raise CodecError(
            f"tiles of one scene were coded with {len(models)} different models for one rate "
            "target; the codec's checkpoint choice is not deterministic"
        )
    reconstruction = np.empty(spec.shape, dtype=spec.dtype)
    for tile, result in zip(tiles, results, strict=True):
        tile.place(reconstruction, result.reconstruction)
    rows, cols = grid_shape(spec, policy.tile_side)
    payload = pack_tiled_payload(
        policy.tile_side, rows, cols, [(r.payload, r.model) for r in results]
    )
    return EncodedPayload(
        payload=payload,
        model=results[0].model,
        reconstruction=reconstruction,
        quality=results[0].quality,
        lossless=all(result.lossless for result in results),
    )


def decode_tiled(
    payload: bytes,
    spec: RasterSpec,
    limits: DecodeLimits,
    *,
    codec: str,
    policy: TilingPolicy | None = None,
    checkpoints: Any = None,
) -> NDArray[Any]:
    """Decode a tiled payload tile by tile (``policy.workers`` at a time) into the whole scene.

    The scene's declared size is checked against ``limits`` and the directory is verified
    (magic, version, tile side, grid, lengths, CRC) before any tile is decoded.

    Shape:
        returns: (C, H, W) in ``spec.dtype``.

    Raises:
        ResourceLimitError: the scene exceeds ``limits``.
        ContainerError: the directory is truncated, corrupt or disagrees with the raster size.
        CodecError, WeightsMismatchError: a tile failed to decode.
    """
    limits.check(spec, len(payload))
    block = codec_block(codec)
    side = read_tile_side(payload)
    if side < MIN_TILE_SIDE or side % block:
        raise ContainerError(
            f"tile directory declares a tile side of {side}; {codec} tiles are multiples of "
            f"{block} and at least {MIN_TILE_SIDE}: the payload is corrupt"
        )
    directory = parse_tile_directory(payload, *grid_shape(spec, side))
    tiles = tile_grid(spec, side, block)
    jobs = [
        (payload[start:stop], tile.spec(spec), model, limits)
        for tile, (start, stop), model in zip(
            tiles, directory.offsets(), directory.models, strict=True
        )
    ]
    decoded_tiles = map_tiles(_decode_tile, jobs, codec, checkpoints, policy or TilingPolicy())
    scene = np.empty(spec.shape, dtype=spec.dtype)
    for tile, decoded in zip(tiles, decoded_tiles, strict=True):
        if decoded.shape != tile.spec(spec).shape or decoded.dtype.name != spec.dtype:
            raise CodecError(
                f"{codec} decoded a {decoded.dtype} {decoded.shape} tile; the directory "
                f"declares {spec.dtype} {tile.spec(spec).shape}"
            )
        tile.place(scene, decoded)
    return scene


def _encode_tile(engine: Codec, job: tuple[NDArray[Any], RasterSpec, RateTarget]) -> EncodedPayload:
    return engine.encode(*job)


def _decode_tile(
    engine: Codec, job: tuple[bytes, RasterSpec, ModelRef, DecodeLimits]
) -> NDArray[Any]:
    return engine.decode(*job)
