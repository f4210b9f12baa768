"""Unsigned LEB128 varints (7 bits a byte, low first), as protobuf writes them: 0..127 cost one
byte, a 128x128 tile's sizes two. Reads are bounded, so a hostile run of continuation bytes is
refused instead of growing an integer without end."""

from __future__ import annotations

from shared.errors import ContainerError

MAX_VARINT_BYTES = 9  # 63 bits: every length or size this format can need


def encode_uvarint(value: int) -> bytes:
    """``value`` (0 <= value < 2**63) as a varint.

    Raises:
        ContainerError: the value is negative or too large.
    """
    if not 0 <= value < 1 << (7 * MAX_VARINT_BYTES):
        raise ContainerError(f"{value} does not fit an unsigned varint of this format")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def decode_uvarint(data: bytes, offset: int, what: str) -> tuple[int, int]:
    """The varint at ``offset`` and the offset after it; ``what`` names the field in errors.

    Raises:
        ContainerError: the data ends inside the varint, it runs past 9 bytes, or it is not in
            its shortest form (a second encoding of the same value would change the CRC's input
            without changing the meaning).
    """
    value = 0
    for index in range(MAX_VARINT_BYTES):
        if offset + index >= len(data):
            raise ContainerError(f"the container ends inside its {what} field: it is truncated")
        byte = data[offset + index]
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            if byte == 0 and index > 0:
                raise ContainerError(f"the {what} field is not a shortest varint: corrupt")
            return value, offset + index + 1
    raise ContainerError(f"the {what} field runs past {MAX_VARINT_BYTES} bytes: corrupt")
