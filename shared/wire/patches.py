"""The patch directory of a container that carries many small scenes (format version 2, flag
``FLAG_PATCHES``): a pass's 32x32 fire patches travel with one header instead of one each.

The header gives the patch shape; the raster it declares is the patches laid out row by row in a
grid (:func:`shared.codecs.patches.patch_grid`), so the count is implied. The payload is::

    length of patch 0 .. length of patch n-2 (varints; the last is what remains)
    payload of patch 0 | payload of patch 1 | ... | payload of patch n-1

Each patch's payload is what a container of that patch alone would carry (with the JPEG 2000
frame elided when the header says so), so any one patch decodes without the others.
"""

from __future__ import annotations

from shared.errors import ContainerError
from shared.varint import decode_uvarint, encode_uvarint


def join_patches(payloads: list[bytes]) -> bytes:
    """The directory followed by the payloads.

    Raises:
        ContainerError: no patch, or a patch payload is empty.
    """
    if not payloads:
        raise ContainerError("a patch container needs at least one patch")
    if not all(payloads):
        raise ContainerError("a patch payload is empty; every patch must carry coded bytes")
    lengths = b"".join(encode_uvarint(len(p)) for p in payloads[:-1])
    return lengths + b"".join(payloads)


def split_patches(payload: bytes, count: int) -> list[bytes]:
    """The ``count`` patch payloads of a patch payload.

    Raises:
        ContainerError: the directory is truncated, a length is zero, or the lengths run past
            the payload (the message says which patch).
    """
    pos, lengths = 0, []
    for index in range(count - 1):
        length, pos = decode_uvarint(payload, pos, f"length of patch {index}")
        if length == 0:
            raise ContainerError(f"patch {index} declares an empty payload: corrupt container")
        lengths.append(length)
    remaining = len(payload) - pos - sum(lengths)
    if remaining <= 0:
        raise ContainerError(
            f"the patch lengths add up to {sum(lengths)} bytes, {len(payload) - pos} follow the "
            "directory: the payload is truncated or corrupt"
        )
    lengths.append(remaining)
    out = []
    for length in lengths:
        out.append(bytes(payload[pos : pos + length]))
        pos += length
    return out
