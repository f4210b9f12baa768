"""The learned payload layout: round trip and refusals before rANS sees a byte."""

from __future__ import annotations

import struct

import google_crc32c
import pytest

from shared.codecs.learned.coding import LatentLayout, LatentStrings
from shared.codecs.learned.payload import HEADER_BYTES, pack_payload, unpack_payload
from shared.errors import CodecError

LAYOUT = LatentLayout((4, 8), (1, 2))
CODED = LatentStrings((b"y" * 40, b"z" * 12), symbol_bound=5)


def _reseal(body: bytes) -> bytes:
    return body + struct.pack("<I", google_crc32c.value(body))


def test_round_trip_and_frame_size() -> None:
    payload = pack_payload(CODED, LAYOUT)
    assert len(payload) == HEADER_BYTES + 4 * 2 + 40 + 12 + 4
    assert unpack_payload(payload, LAYOUT, "cheng2020-gmm") == CODED
    plain = LatentStrings(CODED.strings)
    assert unpack_payload(pack_payload(plain, LAYOUT), LAYOUT, "cheng2020-anchor") == plain


def test_layout_must_match_the_raster() -> None:
    payload = pack_payload(CODED, LAYOUT)
    with pytest.raises(CodecError, match="differ"):
        unpack_payload(payload, LatentLayout((8, 8), (2, 2)), "cheng2020-gmm")
    with pytest.raises(CodecError, match="3"):  # checkerboard writes three strings
        unpack_payload(payload, LAYOUT, "cheng2020-checkerboard")
    with pytest.raises(CodecError, match="symbol bound"):  # only gmm carries a bound
        unpack_payload(payload, LAYOUT, "mean-scale-hyperprior")


def test_malformed_frames_are_refused() -> None:
    body = pack_payload(CODED, LAYOUT)[:-4]
    short_string = _reseal(pack_payload(LatentStrings((b"y" * 40, b"z" * 3), 5), LAYOUT)[:-4])
    cases = {
        "empty": b"",
        "truncated": body[:-9] + body[-4:],
        "version": _reseal(body[:4] + b"\x02" + body[5:]),
        "crc": body + b"\x00\x00\x00\x00",
        "lengths": _reseal(body + b"extra"),
        "bound": _reseal(body[:22] + struct.pack("<H", 999) + body[24:]),
        "short string": short_string,
    }
    refused = []
    for name, bad in cases.items():
        try:
            unpack_payload(bad, LAYOUT, "cheng2020-gmm")
        except CodecError:
            refused.append(name)
    assert refused == list(cases)
