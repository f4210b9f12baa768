"""Read a raw JPEG 2000 codestream's structure without decoding it (ISO/IEC 15444-1, Annex A).

OpenJPEG allocates whatever the SIZ marker declares, so the ground reads SOC, SIZ and COD here,
checks them against the expected raster and the decode limits, and walks the tile-part chain to
EOC before any pixel buffer exists. Nothing in this module allocates more than the payload.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from shared.errors import CodecError

SOC = 0xFF4F
SIZ = 0xFF51
COD = 0xFF52
QCD = 0xFF5C
COM = 0xFF64
SOT = 0xFF90
SOD = 0xFF93
EOC = 0xFFD9

# Lsiz Rsiz Xsiz Ysiz XOsiz YOsiz XTsiz YTsiz XTOsiz YTOsiz Csiz
_SIZ_FIXED = struct.Struct(">HHIIIIIIIIH")
_SOT_BODY = struct.Struct(">HHIBB")  # Lsot Isot Psot TPsot TNsot
MAX_COMPONENTS = 16384


@dataclass(frozen=True)
class ComponentSiz:
    """One component's SIZ entry: precision in bits, signedness, subsampling."""

    precision: int
    signed: bool
    dx: int
    dy: int


@dataclass(frozen=True)
class SizInfo:
    """The image and tile geometry a codestream declares in its SIZ marker."""

    width: int
    height: int
    x_offset: int
    y_offset: int
    tile_width: int
    tile_height: int
    tiles: int
    components: tuple[ComponentSiz, ...]

    @property
    def bands(self) -> int:
        """Image components declared in SIZ."""
        return len(self.components)

    @property
    def pixels(self) -> int:
        """Reference-grid pixels declared in SIZ (width x height)."""
        return self.width * self.height


@dataclass(frozen=True)
class CodInfo:
    """The default coding style (COD marker) of a codestream."""

    progression: int
    layers: int
    mct: bool
    decomposition_levels: int
    reversible: bool


@dataclass(frozen=True)
class CodestreamInfo:
    """Main-header facts of a codestream whose tile-part chain ends cleanly at EOC."""

    siz: SizInfo
    cod: CodInfo
    has_comment: bool


def _u16(data: bytes, pos: int) -> int:
    if pos + 2 > len(data):
        raise CodecError(f"J2K codestream truncated at byte {pos}; resend the payload")
    value: int = struct.unpack_from(">H", data, pos)[0]
    return value


def parse_siz(data: bytes) -> SizInfo:
    """Parse SOC and the SIZ marker segment that must follow it.

    Raises:
        CodecError: the bytes do not start a J2K codestream or the SIZ segment is malformed.
    """
    if len(data) < 4 or _u16(data, 0) != SOC:
        raise CodecError("payload is not a raw J2K codestream (no SOC marker FF4F at byte 0)")
    if _u16(data, 2) != SIZ:
        raise CodecError("J2K codestream lacks the SIZ marker (FF51) right after SOC")
    if len(data) < 4 + _SIZ_FIXED.size:
        raise CodecError("J2K codestream truncated inside the SIZ marker segment")
    lsiz, _rsiz, xsiz, ysiz, xo, yo, xt, yt, xto, yto, csiz = _SIZ_FIXED.unpack_from(data, 4)
    if not 1 <= csiz <= MAX_COMPONENTS or lsiz != 38 + 3 * csiz:
        raise CodecError(f"J2K SIZ segment malformed: Lsiz={lsiz} for Csiz={csiz}")
    if len(data) < 4 + lsiz:
        raise CodecError("J2K codestream truncated inside the SIZ component table")
    if not (xo < xsiz and yo < ysiz and xt > 0 and yt > 0 and xto <= xo and yto <= yo):
        raise CodecError(
            f"J2K SIZ geometry invalid: image ({xo},{yo})-({xsiz},{ysiz}), "
            f"tiles {xt}x{yt} from ({xto},{yto})"
        )
    if xto + xt <= xo or yto + yt <= yo:
        raise CodecError("J2K SIZ geometry invalid: the first tile does not cover the image origin")
    table = data[4 + _SIZ_FIXED.size : 4 + lsiz]
    components = tuple(
        ComponentSiz(
            precision=(table[i] & 0x7F) + 1,
            signed=bool(table[i] & 0x80),
            dx=table[i + 1],
            dy=table[i + 2],
        )
        for i in range(0, 3 * csiz, 3)
    )
    if any(c.dx == 0 or c.dy == 0 or c.precision > 38 for c in components):
        raise CodecError("J2K SIZ component table invalid (zero subsampling or precision > 38)")
    tiles_x = -(-(xsiz - xto) // xt)
    tiles_y = -(-(ysiz - yto) // yt)
    return SizInfo(xsiz - xo, ysiz - yo, xo, yo, xt, yt, tiles_x * tiles_y, components)


def _parse_cod(segment: bytes) -> CodInfo:
    if len(segment) < 10:
        raise CodecError("J2K COD marker segment too short")
    _scod, progression, layers, mct, levels = struct.unpack_from(">BBHBB", segment, 0)
    transform = segment[9]
    if layers == 0 or levels > 32 or transform not in (0, 1):
        raise CodecError(
            f"J2K COD segment invalid: {layers} layers, {levels} levels, transform {transform}"
        )
    return CodInfo(progression, layers, bool(mct), levels, transform == 1)


def _main_header(data: bytes) -> tuple[int, CodInfo | None, bool, bool]:
    """Walk the main-header marker segments; return the first SOT's offset, COD, QCD, COM seen."""
    pos = 4 + _u16(data, 4)  # SIZ marker at 2, Lsiz at 4 counts itself
    cod: CodInfo | None = None
    has_qcd = has_com = False
    while True:
        marker = _u16(data, pos)
        if marker == SOT:
            return pos, cod, has_qcd, has_com
        if marker >> 8 != 0xFF or marker < 0xFF30:
            raise CodecError(f"J2K main header corrupt: {marker:04X} at byte {pos} is no marker")
        length = _u16(data, pos + 2)
        if length < 2 or pos + 2 + length > len(data):
            raise CodecError(f"J2K marker {marker:04X} at byte {pos} overruns the payload")
        if marker == COD:
            cod = _parse_cod(data[pos + 4 : pos + 2 + length])
        has_qcd |= marker == QCD
        has_com |= marker == COM
        pos += 2 + length


def _check_tile_parts(data: bytes, start: int, tiles: int) -> None:
    """Follow the SOT chain (each Psot is the tile-part's length) to a final EOC."""
    pos = start
    seen: set[int] = set()
    while pos != len(data) - 2:
        if pos > len(data) - 2 - 2 - _SOT_BODY.size or _u16(data, pos) != SOT:
            raise CodecError(
                f"J2K tile-part chain broken at byte {pos} of {len(data)}: the payload is "
                "truncated or corrupted"
            )
        lsot, isot, psot, _tpsot, _tnsot = _SOT_BODY.unpack_from(data, pos + 2)
        if lsot != 10 or isot >= tiles:
            raise CodecError(f"J2K SOT segment invalid at byte {pos} (Lsot={lsot}, tile {isot})")
        if psot == 0:  # "until EOC": only legal for the last tile-part
            psot = len(data) - 2 - pos
        if psot < 14 or pos + psot > len(data) - 2:
            raise CodecError(f"J2K tile-part at byte {pos} claims {psot} bytes: payload truncated")
        seen.add(isot)
        pos += psot
    if _u16(data, pos) != EOC:
        raise CodecError("J2K codestream does not end with EOC (FFD9): payload truncated")
    if len(seen) != tiles:
        raise CodecError(
            f"J2K codestream declares {tiles} tiles but carries tile-parts for {len(seen)}: "
            "payload truncated or corrupted"
        )


def inspect_codestream(data: bytes) -> CodestreamInfo:
    """Parse the main header and validate the whole marker structure of a codestream.

    Raises:
        CodecError: not a J2K codestream, malformed, truncated, or lacking COD/QCD.
    """
    siz = parse_siz(data)
    first_sot, cod, has_qcd, has_com = _main_header(data)
    if cod is None or not has_qcd:
        raise CodecError("J2K main header lacks the mandatory COD or QCD marker")
    _check_tile_parts(data, first_sot, siz.tiles)
    return CodestreamInfo(siz, cod, has_com)


def strip_comments(data: bytes) -> bytes:
    """Drop COM marker segments from the main header (OpenJPEG always writes one).

    A COM segment carries no decoding information and nothing in the codestream points at main-
    header offsets (no TLM/PLM here), so removing it keeps the codestream valid and saves bytes.
    """
    parse_siz(data)
    pos = 4 + _u16(data, 4)  # SIZ marker at 2, Lsiz at 4 counts itself
    kept = [data[:pos]]
    while (marker := _u16(data, pos)) != SOT:
        end = pos + 2 + _u16(data, pos + 2)
        if marker != COM:
            kept.append(data[pos:end])
        pos = end
    kept.append(data[pos:])
    return b"".join(kept)
