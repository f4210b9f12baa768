"""Many small scenes of one pass in one container: laid out as a grid, each coded on its own.

A pass of 32x32 fire patches sent one container and one transfer each pays a header, a
checksum and a transfer's requests per patch. Here the patches become one raster, a grid of
them row by row, so that the onboard store, the link and the ground's quicklook, PSNR and
masks treat the pass as one scene; but each patch is coded alone (one codestream or learned
payload each, behind the directory of :mod:`shared.wire.patches`), so any patch decodes
without the others and no patch's pixels leak into another's.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from shared.codecs.base import DecodeLimits, EncodedPayload, RasterSpec, RateTarget
from shared.codecs.registry import open_codec
from shared.errors import CodecError, InvalidRasterError
from shared.wire.format_v2 import patch_count
from shared.wire.patches import join_patches, split_patches

MAX_PATCHES = 65_536


def patch_grid(count: int) -> tuple[int, int]:
    """(rows, cols) of the grid ``count`` patches are laid in: as square as a grid with no
    empty cell can be (rows the largest divisor of ``count`` not above its square root)."""
    rows = max(d for d in range(1, math.isqrt(count) + 1) if count % d == 0)
    return rows, count // rows


def stack_patches(patches: NDArray[Any]) -> tuple[NDArray[Any], tuple[int, int]]:
    """The grid raster of ``patches`` and the patch shape.

    Shape:
        patches: (N, C, h, w), or (N, h, w) for single-band patches.
        returns: (C, rows * h, cols * w), rows and cols from :func:`patch_grid`.

    Raises:
        InvalidRasterError: not 3 or 4 dimensions, no patch, or too many.
    """
    array = np.asarray(patches)
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4 or not 1 <= array.shape[0] <= MAX_PATCHES:
        raise InvalidRasterError(
            f"patches must be (N, C, h, w) or (N, h, w) with 1..{MAX_PATCHES} patches of one "
            f"shape; got an array of shape {np.asarray(patches).shape}"
        )
    return _grid(array, *patch_grid(array.shape[0])), (array.shape[2], array.shape[3])


def place_patches(patches: NDArray[Any], plane: tuple[int, int]) -> NDArray[Any]:
    """Patches back in their grid of ``plane`` = (H, W) (the inverse of
    :func:`unstack_patches`).

    Shape:
        patches: (N, C, h, w) or (N, h, w); returns (C, H, W) or (H, W) alike.
    """
    array = np.asarray(patches)
    flat = array.ndim == 3
    four = array[:, None] if flat else array
    rows, cols = plane[0] // four.shape[2], plane[1] // four.shape[3]
    grid = _grid(four, rows, cols)
    return grid[0] if flat else grid


def _grid(patches: NDArray[Any], rows: int, cols: int) -> NDArray[Any]:
    """(N, C, h, w) patches laid row by row in a rows x cols grid: (C, rows * h, cols * w)."""
    _count, bands, height, width = patches.shape
    grid = patches.reshape(rows, cols, bands, height, width).transpose(2, 0, 3, 1, 4)
    return np.ascontiguousarray(grid.reshape(bands, rows * height, cols * width))


def unstack_patches(raster: NDArray[Any], patch_shape: tuple[int, int]) -> NDArray[Any]:
    """The patches of a grid raster, in order (the inverse of :func:`stack_patches`).

    Shape:
        raster: (C, H, W) or (H, W); returns (N, C, h, w) or (N, h, w) alike.
    """
    height, width = patch_shape
    flat = raster.ndim == 2
    chw = raster[None] if flat else raster
    bands, rows, cols = chw.shape[0], chw.shape[1] // height, chw.shape[2] // width
    grid = chw.reshape(bands, rows, height, cols, width).transpose(1, 3, 0, 2, 4)
    patches = grid.reshape(rows * cols, bands, height, width)
    return patches[:, 0] if flat else patches


def encode_patches(
    raster: NDArray[Any],
    spec: RasterSpec,
    patch_shape: tuple[int, int],
    target: RateTarget,
    *,
    codec: str,
    checkpoints: Any = None,
) -> EncodedPayload:
    """Code each patch of a grid raster alone; the payload is their patch directory.

    Raises:
        CodecError: the patches were coded by different models (a fixed-rate learned codec
            picked different checkpoints for one bpp target: give a quality instead).
    """
    engine = open_codec(codec, checkpoints)
    patch = dataclasses.replace(spec, height=patch_shape[0], width=patch_shape[1])
    results = [engine.encode(p, patch, target) for p in unstack_patches(raster, patch_shape)]
    models = {result.model for result in results}
    if len(models) != 1:
        raise CodecError(
            f"the patches were coded with {len(models)} different models for one rate target; "
            "a patch container names one: give a quality target instead of a bpp one"
        )
    recon = np.stack([result.reconstruction for result in results])
    return EncodedPayload(
        payload=join_patches([result.payload for result in results]),
        model=results[0].model,
        reconstruction=stack_patches(recon)[0],
        quality=results[0].quality,
        lossless=all(result.lossless for result in results),
    )


def decode_patches(
    payload: bytes,
    spec: RasterSpec,
    patch_shape: tuple[int, int],
    limits: DecodeLimits,
    *,
    codec: str,
    model: Any,
    checkpoints: Any = None,
    only: int | None = None,
) -> NDArray[Any]:
    """Decode a patch directory's patches into the grid raster, or patch ``only`` alone.

    Shape:
        returns: (C, H, W) for the grid; (C, h, w) for one patch.

    Raises:
        ContainerError: the directory is corrupt.
        CodecError: a patch did not decode to its declared shape, or ``only`` is out of range.
    """
    count = patch_count(spec.height, spec.width, patch_shape)
    parts = split_patches(payload, count)
    if only is not None and not 0 <= only < count:
        raise CodecError(f"patch {only} does not exist: the container holds patches 0..{count - 1}")
    engine = open_codec(codec, checkpoints)
    patch = dataclasses.replace(spec, height=patch_shape[0], width=patch_shape[1])
    chosen = parts if only is None else [parts[only]]
    decoded = [engine.decode(part, patch, model, limits) for part in chosen]
    for raster in decoded:
        if raster.shape != patch.shape or raster.dtype.name != spec.dtype:
            raise CodecError(
                f"{codec} decoded a {raster.dtype} {raster.shape} patch; the header declares "
                f"{spec.dtype} {patch.shape}"
            )
    if only is not None:
        return decoded[0]
    rows, cols = spec.height // patch_shape[0], spec.width // patch_shape[1]
    return _grid(np.stack(decoded), rows, cols)
