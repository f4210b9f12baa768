"""The evaluation sidecar: a binary truth mask packed losslessly, one bit per pixel.

Layout, little-endian: dtype code (u8: 0 bool, 1 uint8), ndim (u8, 1..3), ndim dimensions (u32
each), then ``np.packbits`` of the C-order flattened mask (most significant bit first, the last
byte zero-padded). The sidecar rides in the container for evaluation on the ground; it is never
counted in the payload figures.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np
from numpy.typing import NDArray

from shared.errors import ContainerError, InvalidRasterError

_MASK_DTYPES: dict[str, int] = {"bool": 0, "uint8": 1}
_MASK_DTYPE_BY_CODE = {code: name for name, code in _MASK_DTYPES.items()}
_PREFIX = "<BB"
_MAX_NDIM = 3


def pack_mask(mask: NDArray[Any]) -> bytes:
    """Pack a binary mask (bool, or uint8 holding only 0 and 1) into sidecar bytes.

    Shape:
        mask: (H, W), (1, H, W) or any shape of 1 to 3 dimensions.

    Raises:
        InvalidRasterError: the mask is not binary, has an unsupported dtype or shape.
    """
    if mask.dtype.name not in _MASK_DTYPES:
        raise InvalidRasterError(
            f"truth mask dtype {mask.dtype} is not supported; pass bool or uint8 0/1 "
            "(e.g. (mask > 0).astype(np.uint8))"
        )
    if not 1 <= mask.ndim <= _MAX_NDIM or mask.size == 0:
        raise InvalidRasterError(
            f"truth mask shape {mask.shape} is not supported; pass (H, W) or (1, H, W)"
        )
    if mask.dtype == np.uint8 and mask.size and int(mask.max()) > 1:
        raise InvalidRasterError(
            f"truth mask holds the value {int(mask.max())}; a binary mask holds only 0 and 1"
        )
    head = struct.pack(_PREFIX, _MASK_DTYPES[mask.dtype.name], mask.ndim)
    dims = struct.pack(f"<{mask.ndim}I", *mask.shape)
    bits = np.packbits(np.ascontiguousarray(mask, dtype=bool).ravel())
    return head + dims + bits.tobytes()


def unpack_mask(data: bytes) -> NDArray[Any]:
    """Unpack sidecar bytes into the mask that was packed, same shape and dtype.

    Raises:
        ContainerError: the sidecar is malformed (its length does not match its declared shape).
    """
    prefix_size = struct.calcsize(_PREFIX)
    if len(data) < prefix_size:
        raise ContainerError(f"sidecar of {len(data)} bytes is too short to hold a mask")
    code, ndim = struct.unpack_from(_PREFIX, data)
    if code not in _MASK_DTYPE_BY_CODE or not 1 <= ndim <= _MAX_NDIM:
        raise ContainerError(
            f"sidecar declares mask dtype code {code} and {ndim} dimensions; expected code 0 or "
            f"1 and 1..{_MAX_NDIM} dimensions: the sidecar is corrupt"
        )
    dims_end = prefix_size + 4 * ndim
    if len(data) < dims_end:
        raise ContainerError("sidecar is truncated inside the mask shape")
    shape = struct.unpack_from(f"<{ndim}I", data, prefix_size)
    count = math.prod(shape)
    expected = dims_end + (count + 7) // 8
    if count == 0 or len(data) != expected:
        raise ContainerError(
            f"sidecar declares a mask of shape {shape} ({expected} bytes) but holds "
            f"{len(data)} bytes: the sidecar is corrupt"
        )
    bits = np.frombuffer(data, dtype=np.uint8, offset=dims_end)
    flat = np.unpackbits(bits, count=count)
    return flat.reshape(shape).astype(_MASK_DTYPE_BY_CODE[code])
