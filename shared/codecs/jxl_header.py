"""The image size a JPEG XL file declares, read before libjxl allocates anything.

A JPEG XL file is a bare codestream (``FF 0A``) or an ISO BMFF container whose ``jxlc`` box (or
``jxlp`` boxes, in pieces) holds it. The codestream starts with its SizeHeader (ISO/IEC
18181-1, A.2): bits read least significant first; ``small`` (1 bit); the height as 8 times
(5 bits + 1) when small, else a U32 (2 selector bits, then 9, 13, 18 or 30 bits, + 1); a
ratio code (3 bits): 0 for an explicit width coded like the height, else a fixed aspect ratio.
"""

from __future__ import annotations

import struct

from shared.errors import CodecError

CODESTREAM_SIGNATURE = b"\xff\x0a"
CONTAINER_SIGNATURE = b"\x00\x00\x00\x0cJXL \r\n\x87\n"
_U32_BITS = (9, 13, 18, 30)
_RATIOS = {1: (1, 1), 2: (12, 10), 3: (4, 3), 4: (3, 2), 5: (16, 9), 6: (5, 4), 7: (2, 1)}


class _Bits:
    """Least-significant-bit-first reader over bytes."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, count: int) -> int:
        value = 0
        for i in range(count):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise CodecError("the JPEG XL size header is truncated")
            value |= ((self.data[byte] >> (self.pos & 7)) & 1) << i
            self.pos += 1
        return value

    def u32(self) -> int:
        return self.read(_U32_BITS[self.read(2)]) + 1


def codestream_of(data: bytes) -> bytes:
    """The codestream of a JPEG XL file, bare or boxed.

    Raises:
        CodecError: neither signature, a malformed box, or no codestream box.
    """
    if data.startswith(CODESTREAM_SIGNATURE):
        return data
    if not data.startswith(CONTAINER_SIGNATURE):
        raise CodecError("the payload is not JPEG XL: no codestream or container signature")
    pos, pieces = 0, []
    while pos + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:  # a 64-bit size follows
            if pos + 16 > len(data):
                raise CodecError("a JPEG XL box header is truncated")
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        end = len(data) if size == 0 else pos + size
        if end > len(data) or end < pos + header:
            raise CodecError(f"the JPEG XL box {kind!r} runs past the payload: it is corrupt")
        if kind == b"jxlc":
            return data[pos + header : end]
        if kind == b"jxlp":
            pieces.append(data[pos + header + 4 : end])  # after the 4-byte piece index
        pos = end
    if not pieces:
        raise CodecError("the JPEG XL container holds no codestream box")
    return b"".join(pieces)


def declared_size(data: bytes) -> tuple[int, int]:
    """(height, width) the file's SizeHeader declares.

    Raises:
        CodecError: not JPEG XL, or the header is truncated.
    """
    stream = codestream_of(data)
    if not stream.startswith(CODESTREAM_SIGNATURE):
        raise CodecError("the JPEG XL codestream does not start with FF 0A")
    bits = _Bits(stream[2:])
    small = bits.read(1)
    height = (bits.read(5) + 1) * 8 if small else bits.u32()
    ratio = bits.read(3)
    if ratio:
        num, den = _RATIOS[ratio]
        return height, height * num // den
    width = (bits.read(5) + 1) * 8 if small else bits.u32()
    return height, width
