"""The learned payload layout: round trip and refusals before rANS sees a byte (version 5, the
varint framing written today, and versions 1-4, still read)."""

from __future__ import annotations

import struct

import google_crc32c
import numpy as np
import pytest

from shared.codecs.learned.coding import LatentLayout, LatentStrings
from shared.codecs.learned.gmm_coding import WAVEFRONT_MARKER
from shared.codecs.learned.payload import (
    HEADER_BYTES,
    pack_legacy_payload,
    pack_payload,
    unpack_payload,
)
from shared.codecs.learned.roi_gain import LatentGainMap, RoiGain
from shared.errors import CodecError

LAYOUT = LatentLayout((4, 8), (1, 2))
CODED = LatentStrings((b"y" * 40, b"z" * 12), symbol_bound=5)


def _reseal(body: bytes) -> bytes:
    return body + struct.pack("<I", google_crc32c.value(body))


def _refused(cases: dict[str, bytes]) -> list[str]:
    """The names of the payloads the gmm reader refuses with a CodecError."""
    refused = []
    for name, bad in cases.items():
        try:
            unpack_payload(bad, LAYOUT, "cheng2020-gmm")
        except CodecError:
            refused.append(name)
    return refused


def test_round_trip_and_frame_size() -> None:
    payload = pack_payload(CODED, LAYOUT)
    assert len(payload) == 2 + 1 + 1 + 40 + 12  # version, flags, bound, first length
    assert unpack_payload(payload, LAYOUT, "cheng2020-gmm") == CODED
    plain = LatentStrings(CODED.strings)
    assert unpack_payload(pack_payload(plain, LAYOUT), LAYOUT, "cheng2020-anchor") == plain


def test_a_wavefront_marker_and_a_rate_level_cost_one_flag_and_one_byte() -> None:
    coded = LatentStrings((WAVEFRONT_MARKER + b"y" * 40, b"z" * 12), 5, None, 96)
    payload = pack_payload(coded, LAYOUT)
    assert len(payload) == 2 + 1 + 1 + 1 + 40 + 12
    assert unpack_payload(payload, LAYOUT, "cheng2020-gmm") == coded
    with pytest.raises(CodecError, match="symbol bound|wavefront"):
        unpack_payload(payload, LAYOUT, "mean-scale-hyperprior")


def test_legacy_round_trip_and_frame_size() -> None:
    payload = pack_legacy_payload(CODED, LAYOUT)
    assert len(payload) == HEADER_BYTES + 4 * 2 + 40 + 12 + 4
    assert unpack_payload(payload, LAYOUT, "cheng2020-gmm") == CODED


def test_legacy_layout_must_match_the_raster() -> None:
    payload = pack_legacy_payload(CODED, LAYOUT)
    with pytest.raises(CodecError, match="differ"):
        unpack_payload(payload, LatentLayout((8, 8), (2, 2)), "cheng2020-gmm")
    with pytest.raises(CodecError, match="3"):  # checkerboard writes three strings
        unpack_payload(payload, LAYOUT, "cheng2020-checkerboard")
    with pytest.raises(CodecError, match="symbol bound"):  # only gmm carries a bound
        unpack_payload(payload, LAYOUT, "mean-scale-hyperprior")


def test_only_gmm_carries_a_symbol_bound() -> None:
    with pytest.raises(CodecError, match="symbol bound"):
        unpack_payload(pack_payload(CODED, LAYOUT), LAYOUT, "mean-scale-hyperprior")


def test_malformed_frames_are_refused() -> None:
    good = pack_payload(CODED, LAYOUT)
    cases = {
        "empty": b"",
        "flags": good[:1] + b"\x80" + good[2:],
        "bound": good[:2] + b"\x00" + good[3:],
        "lengths": good[:3] + bytes([60]) + good[4:],  # the first string would eat the last
        "varint": good[:3] + b"\xa8\x00" + good[4:],  # 40 as a two-byte varint
        "short string": pack_payload(LatentStrings((b"y" * 40, b"z" * 3), 5), LAYOUT),
        "truncated": good[:3],
    }
    assert _refused(cases) == list(cases)


def test_malformed_legacy_frames_are_refused() -> None:
    body = pack_legacy_payload(CODED, LAYOUT)[:-4]
    short = _reseal(pack_legacy_payload(LatentStrings((b"y" * 40, b"z" * 3), 5), LAYOUT)[:-4])
    cases = {
        "truncated": body[:-9] + body[-4:],
        "version": _reseal(body[:4] + b"\x02" + body[5:]),
        "crc": body + b"\x00\x00\x00\x00",
        "lengths": _reseal(body + b"extra"),
        "bound": _reseal(body[:22] + struct.pack("<H", 999) + body[24:]),
        "short string": short,
    }
    assert _refused(cases) == list(cases)


def test_an_roi_section_rides_version_5_and_is_checked() -> None:
    cells = np.zeros(LAYOUT.y_shape, dtype=bool)
    cells[:, :3] = True
    gain_map = LatentGainMap(
        LAYOUT.y_shape, np.packbits(cells.reshape(-1)).tobytes(), RoiGain(2, 1)
    )
    coded = LatentStrings((WAVEFRONT_MARKER + b"y" * 40, b"z" * 12), 5, gain_map, 32)
    payload = pack_payload(coded, LAYOUT)
    assert payload[1] == 0x07  # wavefront, rate level and ROI
    assert unpack_payload(payload, LAYOUT, "cheng2020-gmm") == coded
    bad = bytearray(payload)
    bad[3] = 7  # the ROI shift, after version, flags and the rate code
    with pytest.raises(CodecError, match="ROI gains are invalid"):
        unpack_payload(bytes(bad), LAYOUT, "cheng2020-gmm")
