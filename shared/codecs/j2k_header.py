"""Rebuild a JPEG 2000 codestream's framing from a few fields, so the link carries tile data only.

Our encoder (:mod:`shared.codecs.j2k_openjpeg`, comments stripped) writes one tile, one
tile-part, one quality layer, LRCP, 64x64 code blocks and no colour transform. Everything around
the coded data is then a function of six values (:class:`CodestreamFrame`)::

    SOC | SIZ | COD | QCD | SOT (Psot = 14 + data) | SOD | data | EOC

so container format v2 sends ``data`` and the frame's values, and the ground puts the same
bytes back around it (ISO/IEC 15444-1, A.4-A.6). The QCD step sizes of the 9/7 wavelet are
OpenJPEG's (``opj_dwt_calc_explicit_stepsizes``, its table of synthesis norms): the encoder keeps
the short form only when the rebuilt codestream equals the one OpenJPEG wrote, byte for byte
(:func:`split_codestream`), and carries the whole codestream otherwise, so a different OpenJPEG
costs bytes, never pixels.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from shared.codecs.j2k_openjpeg import max_resolutions

_SOC, _SIZ, _COD, _QCD = b"\xff\x4f", b"\xff\x51", b"\xff\x52", b"\xff\x5c"
_SOT, _SOD, _EOC = b"\xff\x90", b"\xff\x93", b"\xff\xd9"
_SOT_LENGTH = 10  # Lsot: the marker segment without its 2 marker bytes
_TILE_FRAME = 2 + _SOT_LENGTH + 2  # SOT segment and SOD before the data; Psot counts these
_GUARD_BITS = 2
#: OpenJPEG's 9/7 synthesis norms per orientation (LL, HL, LH, HH) and decomposition level.
_NORMS_97 = (
    (1.000, 1.965, 4.177, 8.403, 16.90, 33.84, 67.69, 135.3, 270.6, 540.9),
    (2.022, 3.989, 8.355, 17.04, 34.27, 68.63, 137.3, 274.6, 549.0),
    (2.022, 3.989, 8.355, 17.04, 34.27, 68.63, 137.3, 274.6, 549.0),
    (2.080, 3.865, 8.307, 17.18, 34.71, 69.59, 139.3, 278.6, 557.2),
)


@dataclass(frozen=True)
class CodestreamFrame:
    """The values that fix every byte of our codestreams outside the tile's coded data.

    Attributes:
        bands, height, width: SIZ's components and image size (one tile covers the image).
        precision: bits per sample of every component (unsigned).
        reversible: 5/3 wavelet without quantisation (lossless) instead of 9/7.
        resolutions: decomposition levels + 1.
    """

    bands: int
    height: int
    width: int
    precision: int
    reversible: bool
    resolutions: int

    @property
    def default_resolutions(self) -> bool:
        """Whether ``resolutions`` is what the codec picks for this size by default."""
        return self.resolutions == max_resolutions(self.height, self.width)


def _segment(marker: bytes, body: bytes) -> bytes:
    return marker + struct.pack(">H", len(body) + 2) + body


def _siz(frame: CodestreamFrame) -> bytes:
    h, w = frame.height, frame.width
    body = struct.pack(">HIIIIIIIIH", 0, w, h, 0, 0, w, h, 0, 0, frame.bands)
    return _segment(_SIZ, body + bytes((frame.precision - 1, 1, 1)) * frame.bands)


def _cod(frame: CodestreamFrame) -> bytes:
    levels = frame.resolutions - 1
    body = struct.pack(">BBHBBBBBB", 0, 0, 1, 0, levels, 4, 4, 0, int(frame.reversible))
    return _segment(_COD, body)


def _bands(resolutions: int) -> list[tuple[int, int]]:
    """(orientation, level) of each subband in QCD order: LL first, then HL, LH, HH per level."""
    bands = [(0, resolutions - 1)]
    for resno in range(1, resolutions):
        bands += [(orient, resolutions - 1 - resno) for orient in (1, 2, 3)]
    return bands


def _step_97(orient: int, level: int, precision: int) -> int:
    norm = _NORMS_97[orient][min(level, len(_NORMS_97[orient]) - 1)]
    step = math.floor(8192.0 / norm)
    log2 = step.bit_length() - 1
    shift = 11 - log2
    mantissa = (step << shift if shift >= 0 else step >> -shift) & 0x7FF
    exponent = precision - (log2 - 13)
    return exponent << 11 | mantissa


def _qcd(frame: CodestreamFrame) -> bytes:
    bands = _bands(frame.resolutions)
    if frame.reversible:  # no quantisation: one exponent per band, precision + the band's gain
        gains = {0: 0, 1: 1, 2: 1, 3: 2}
        body = bytes([_GUARD_BITS << 5]) + bytes(
            (frame.precision + gains[o]) << 3 for o, _ in bands
        )
    else:  # scalar expounded: an 11-bit mantissa and a 5-bit exponent per band
        steps = [_step_97(o, level, frame.precision) for o, level in bands]
        body = bytes([_GUARD_BITS << 5 | 2]) + struct.pack(f">{len(steps)}H", *steps)
    return _segment(_QCD, body)


def main_header(frame: CodestreamFrame) -> bytes:
    """SOC, SIZ, COD and QCD as our encoder writes them for ``frame``."""
    return _SOC + _siz(frame) + _cod(frame) + _qcd(frame)


def join_codestream(frame: CodestreamFrame, tile_data: bytes) -> bytes:
    """The standard codestream: ``frame``'s main header and tile-part around ``tile_data``."""
    sot = _SOT + struct.pack(">HHIBB", _SOT_LENGTH, 0, _TILE_FRAME + len(tile_data), 0, 1)
    return main_header(frame) + sot + _SOD + tile_data + _EOC


def split_codestream(codestream: bytes, frame: CodestreamFrame) -> bytes | None:
    """The tile data of ``codestream`` when :func:`join_codestream` gives it back byte for byte
    from ``frame``; ``None`` when it does not (another encoder or setting: carry it whole)."""
    head = len(main_header(frame)) + _TILE_FRAME
    if len(codestream) < head + len(_EOC):
        return None
    tile_data = codestream[head : -len(_EOC)]
    return tile_data if join_codestream(frame, tile_data) == codestream else None
