"""The truth-mask sidecar survives bit-exactly and refuses malformed bytes."""

from __future__ import annotations

import numpy as np
import pytest

from shared.errors import ContainerError, InvalidRasterError
from shared.wire import pack_mask, unpack_mask


@pytest.mark.parametrize("shape", [(1,), (7, 9), (1, 13, 5), (32, 32)])
@pytest.mark.parametrize("dtype", [np.uint8, np.bool_])
def test_mask_round_trip_is_exact(shape: tuple[int, ...], dtype: type) -> None:
    mask = (np.random.default_rng(0).random(shape) > 0.6).astype(dtype)
    packed = pack_mask(mask)
    out = unpack_mask(packed)
    assert out.dtype == mask.dtype and out.shape == mask.shape
    np.testing.assert_array_equal(out, mask)


def test_mask_takes_one_bit_per_pixel() -> None:
    packed = pack_mask(np.ones((64, 64), dtype=np.uint8))
    assert len(packed) == 2 + 2 * 4 + 64 * 64 // 8


@pytest.mark.parametrize(
    "mask",
    [
        np.full((4, 4), 255, np.uint8),
        np.zeros((4, 4), np.float32),
        np.zeros((0, 4), np.uint8),
        np.zeros((1, 1, 2, 2), np.uint8),
    ],
)
def test_pack_refuses_non_binary_or_odd_masks(mask: np.ndarray) -> None:
    with pytest.raises(InvalidRasterError):
        pack_mask(mask)


def test_unpack_refuses_wrong_length() -> None:
    packed = pack_mask(np.ones((9, 9), dtype=np.uint8))
    for broken in (packed[:-1], packed + b"\x00", packed[:1], b"\x07\x02" + packed[2:]):
        with pytest.raises(ContainerError):
            unpack_mask(broken)
