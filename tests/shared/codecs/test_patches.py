"""Patches sent together (container v2 ``FLAG_PATCHES``): one header and a patch directory for
a pass of small scenes, each patch still decodable alone and bit-identical to its own container,
and a corrupt or misused patch container refused with a message that says what is wrong."""

from __future__ import annotations

import struct

import google_crc32c
import numpy as np
import pytest

from shared.codecs.base import RateTarget
from shared.codecs.patches import patch_grid, place_patches, stack_patches, unstack_patches
from shared.compression import (
    compress_patches,
    compress_raster,
    decompress_container,
    decompress_patch,
)
from shared.errors import CodecError, ConfigurationError, ContainerError, InvalidRasterError
from shared.sensors.profiles import get_profile
from shared.wire import read_header
from shared.wire.patches import join_patches, split_patches

FIRE = get_profile("fire")


def _patches(count: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows, cols = np.indices((32, 32))
    base = 3000 + 40 * rows + 25 * cols
    out = []
    for k in range(count):
        image = base + rng.integers(0, 400, size=(32, 32))
        y, x = rng.integers(2, 28, size=2)
        image[y : y + 3, x : x + 3] = 15000 + 50 * k
        out.append(image[None].astype(np.uint16))
    return np.stack(out)


def _options(codec: str, target: RateTarget) -> dict[str, object]:
    return {"codec": codec, "target": target, "scale": FIRE.global_max, "bit_depth": 14}


@pytest.mark.parametrize("count", [1, 5, 12, 16])
def test_the_grid_is_as_square_as_a_full_grid_can_be_and_round_trips(count: int) -> None:
    patches = _patches(count)
    grid, shape = stack_patches(patches)
    rows, cols = patch_grid(count)
    assert rows * cols == count and rows <= cols and shape == (32, 32)
    assert grid.shape == (1, 32 * rows, 32 * cols)
    np.testing.assert_array_equal(unstack_patches(grid, shape), patches)
    np.testing.assert_array_equal(place_patches(unstack_patches(grid, shape), grid.shape[1:]), grid)
    if count > 1:
        np.testing.assert_array_equal(grid[:, :32, 32:64], patches[1])  # row by row


@pytest.mark.parametrize(
    "target", [RateTarget(bpp=2.0), RateTarget(lossless=True)], ids=["2bpp", "lossless"]
)
def test_jpeg2000_patches_cost_their_tile_data_and_decode_alone_as_their_own_containers(
    target: RateTarget,
) -> None:
    patches = _patches(12)
    together = compress_patches(patches, **_options("jpeg2000", target))
    alone = [compress_raster(p, **_options("jpeg2000", target)) for p in patches]
    header = together.header
    assert header.patch_shape == (32, 32) and header.frame_elided
    # one header of 20 bytes (CRC included) and a 1-2 byte length per patch, instead of 16
    # bytes per patch
    carried = sum(one.header.payload_bytes for one in alone)
    assert header.header_bytes + 4 <= 20
    assert len(together.container) <= 20 + carried + 2 * (len(alone) - 1)
    assert len(together.container) < sum(len(one.container) for one in alone) - 10 * 11
    decoded = decompress_container(together.container)
    np.testing.assert_array_equal(decoded.raster, together.reconstruction)
    for index, one in enumerate(alone):
        own = decompress_container(one.container).raster
        np.testing.assert_array_equal(decompress_patch(together.container, index), own)
        np.testing.assert_array_equal(unstack_patches(decoded.raster, (32, 32))[index], own)
    if target.lossless:
        np.testing.assert_array_equal(unstack_patches(decoded.raster, (32, 32)), patches)


def test_learned_patches_decode_alone_bit_exact_with_their_check() -> None:
    patches = _patches(2)
    together = compress_patches(patches, **_options("cheng2020-gmm", RateTarget(quality=3)))
    alone = compress_raster(patches[1], **_options("cheng2020-gmm", RateTarget(quality=3)))
    decoded = decompress_container(together.container)
    assert decoded.digest_matches is True  # the reconstruction check covers the whole grid
    np.testing.assert_array_equal(decoded.raster, together.reconstruction)
    np.testing.assert_array_equal(
        decompress_patch(together.container, 1), decompress_container(alone.container).raster
    )
    assert len(together.container) < len(alone.container) * 2


def test_truth_masks_travel_as_their_grid() -> None:
    patches = _patches(4)
    masks = (patches[:, 0] > 10000).astype(np.uint8)
    scene = compress_patches(
        patches, truth_masks=masks, **_options("jpeg2000", RateTarget(bpp=2.0))
    )
    truth = decompress_container(scene.container).truth_mask
    np.testing.assert_array_equal(unstack_patches(truth, (32, 32)), masks)


def _resealed(body: bytes) -> bytes:
    return body + struct.pack("<I", google_crc32c.value(body))


def test_a_corrupt_patch_directory_is_refused_before_any_patch_decodes() -> None:
    scene = compress_patches(_patches(4), **_options("jpeg2000", RateTarget(bpp=2.0)))
    data = scene.container
    start = read_header(data).header_bytes
    first_length = data[start]  # a one-byte varint? make it claim the whole payload
    assert first_length < 0x80 or data[start + 1] < 0x80
    lying = bytearray(data[:-4])
    lying[start : start + 2] = bytes([0xFF, 0x7F])  # 16383 bytes for patch 0
    with pytest.raises(ContainerError, match="patch lengths add up"):
        decompress_container(_resealed(bytes(lying)))
    with pytest.raises(ContainerError, match="empty payload"):
        split_patches(b"\x00" + b"x" * 10, 2)
    with pytest.raises(ContainerError, match="ends inside"):
        split_patches(b"\x85", 3)


def test_a_patch_shape_that_does_not_tile_the_raster_is_refused() -> None:
    scene = compress_patches(_patches(4), **_options("jpeg2000", RateTarget(bpp=2.0)))
    data = bytearray(scene.container[:-4])
    header = read_header(bytes(scene.container))
    shape_at = header.header_bytes - 2  # patch height and width, the last header fields
    assert data[shape_at : shape_at + 2] == bytes([32, 32])
    data[shape_at] = 30
    with pytest.raises(ContainerError, match="do not tile a 64x64 raster"):
        read_header(_resealed(bytes(data)))


def test_misuse_gets_a_clear_error() -> None:
    patches = _patches(4)
    single = compress_raster(patches[0], **_options("jpeg2000", RateTarget(bpp=2.0)))
    with pytest.raises(ContainerError, match="holds one scene"):
        decompress_patch(single.container, 0)
    together = compress_patches(patches, **_options("jpeg2000", RateTarget(bpp=2.0)))
    with pytest.raises(CodecError, match=r"patches 0\.\.3"):
        decompress_patch(together.container, 4)
    with pytest.raises(ConfigurationError, match="version 2"):
        compress_patches(patches, container_version=1, **_options("jpeg2000", RateTarget(bpp=2)))
    with pytest.raises(InvalidRasterError, match=r"\(N, C, h, w\)"):
        compress_patches(patches[0, 0], **_options("jpeg2000", RateTarget(bpp=2.0)))
    with pytest.raises(InvalidRasterError, match="truth masks"):
        compress_patches(
            patches,
            truth_masks=np.zeros((3, 32, 32), np.uint8),
            **_options("jpeg2000", RateTarget(bpp=2.0)),
        )
    with pytest.raises(ContainerError, match="at least one patch"):
        join_patches([])
