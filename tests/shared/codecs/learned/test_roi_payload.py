"""Payload version 3 (ROI gain map), as versions 1-4 were written: round trip, old versions
unchanged, corrupt maps refused (version 5 carries the same section: test_learned_payload.py)."""

from __future__ import annotations

import struct

import google_crc32c
import numpy as np
import pytest

from shared.codecs.learned.coding import LatentLayout, LatentStrings
from shared.codecs.learned.gmm_coding import WAVEFRONT_MARKER
from shared.codecs.learned.payload import (
    HEADER_BYTES,
    ROI_VERSION,
    pack_legacy_payload,
    unpack_payload,
)
from shared.codecs.learned.roi_gain import LatentGainMap, RoiGain, latent_gain_map
from shared.errors import CodecError, ConfigurationError, InvalidRasterError

LAYOUT = LatentLayout((4, 8), (1, 2))  # a 64 x 128 padded raster
STRINGS = (WAVEFRONT_MARKER + b"y" * 40, b"z" * 12)
LEVELS = RoiGain(2, 1)


def _reseal(body: bytes) -> bytes:
    return body + struct.pack("<I", google_crc32c.value(body))


def _map(cells: np.ndarray, levels: RoiGain = LEVELS) -> LatentGainMap:
    return LatentGainMap(cells.shape, np.packbits(cells.reshape(-1)).tobytes(), levels)


def _left_half() -> np.ndarray:
    cells = np.zeros(LAYOUT.y_shape, dtype=bool)
    cells[:, :4] = True
    return cells


def test_roi_payload_round_trips_and_says_version_3() -> None:
    coded = LatentStrings(STRINGS, 5, _map(_left_half()))
    payload = pack_legacy_payload(coded, LAYOUT)
    assert payload[4] == ROI_VERSION
    assert len(payload) == HEADER_BYTES + 2 + 4 + 4 * 2 + len(STRINGS[0]) + 12 + 4
    back = unpack_payload(payload, LAYOUT, "cheng2020-gmm")
    assert back == coded
    assert np.array_equal(back.gain_map.cells(), _left_half())
    assert back.gain_map.levels == RoiGain(2, 1)


def test_payloads_without_roi_keep_their_old_bytes() -> None:
    plain = LatentStrings(STRINGS, 5)
    payload = pack_legacy_payload(plain, LAYOUT)
    header = struct.pack("<4sBBIIIIH", b"EOLP", 2, 2, 4, 8, 1, 2, 5)
    body = header + struct.pack("<II", len(STRINGS[0]), 12) + b"".join(STRINGS)
    assert payload == _reseal(body)  # version 2 exactly as before ROI coding existed
    assert unpack_payload(payload, LAYOUT, "cheng2020-gmm").gain_map is None


def test_gain_map_for_another_grid_is_refused_when_packing() -> None:
    coded = LatentStrings(STRINGS, 5, _map(np.ones((8, 8), dtype=bool)))
    with pytest.raises(ConfigurationError, match="does not fit the latent grid"):
        pack_legacy_payload(coded, LAYOUT)


def _resealed_with_section(section: bytes, layout: LatentLayout = LAYOUT) -> bytes:
    good = pack_legacy_payload(
        LatentStrings(STRINGS, 5, _map(np.ones(layout.y_shape, bool))), layout
    )
    body = good[:-4]
    return _reseal(body[:HEADER_BYTES] + section + body[HEADER_BYTES + len(section) :])


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (bytes([7, 0]) + b"\xff" * 4, "ROI gains are invalid"),
        (bytes([0, 0]) + b"\xff" * 4, "ROI gains are invalid"),
        (bytes([2, 0]) + b"\x00" * 4, "marks no latent cell"),
    ],
)
def test_corrupt_roi_sections_are_refused_even_with_a_valid_crc(
    section: bytes, message: str
) -> None:
    with pytest.raises(CodecError, match=message):
        unpack_payload(_resealed_with_section(section), LAYOUT, "cheng2020-gmm")


def test_padding_bits_of_the_bitmap_must_be_zero() -> None:
    layout = LatentLayout((3, 3), (1, 1))  # 9 cells: 7 padding bits
    bad = _resealed_with_section(bytes([1, 0, 0xFF, 0x81]), layout)
    with pytest.raises(CodecError, match="padding bits"):
        unpack_payload(bad, layout, "cheng2020-gmm")


def test_flipped_bitmap_bit_fails_the_crc() -> None:
    payload = bytearray(pack_legacy_payload(LatentStrings(STRINGS, 5, _map(_left_half())), LAYOUT))
    payload[HEADER_BYTES + 2] ^= 0x01
    with pytest.raises(CodecError, match="CRC32C"):
        unpack_payload(bytes(payload), LAYOUT, "cheng2020-gmm")


def test_truncated_roi_section_is_refused() -> None:
    payload = pack_legacy_payload(
        LatentStrings((b"y" * 8, b"z" * 8), 0, _map(_left_half())), LAYOUT
    )
    body = payload[:-4]
    with pytest.raises(CodecError):
        unpack_payload(_reseal(body[: HEADER_BYTES + 3]), LAYOUT, "mean-scale-hyperprior")


def test_wavefront_strings_in_version_3_only_for_gmm() -> None:
    payload = pack_legacy_payload(LatentStrings(STRINGS, 0, _map(_left_half())), LAYOUT)
    with pytest.raises(CodecError, match="only the Gaussian-mixture models"):
        unpack_payload(payload, LAYOUT, "cheng2020-attn")


def test_mask_is_max_pooled_onto_16_pixel_cells() -> None:
    mask = np.zeros((50, 120), dtype=bool)
    mask[17, 33] = True  # one pixel: cell (1, 2)
    mask[49, 119] = True  # the last pixel: cell (3, 7)
    gain_map = latent_gain_map(mask, LAYOUT.y_shape)
    assert gain_map is not None
    assert sorted(zip(*np.nonzero(gain_map.cells()), strict=True)) == [(1, 2), (3, 7)]
    assert latent_gain_map(np.zeros((50, 120)), LAYOUT.y_shape) is None
    with pytest.raises(InvalidRasterError, match="does not fit"):
        latent_gain_map(np.ones((50, 200)), LAYOUT.y_shape)


def test_gain_levels_are_validated() -> None:
    for bad in ((0, 0), (4, 0), (1, -1), (1.5, 0)):
        with pytest.raises(ConfigurationError, match="ROI gain"):
            RoiGain(*bad)  # type: ignore[arg-type]
    assert RoiGain(2, 1).gain == 4.0 and RoiGain(2, 1).background_gain == 0.5
