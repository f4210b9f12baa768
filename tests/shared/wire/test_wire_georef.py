"""The georeference field of container version 2: it round-trips exactly (EPSG or WKT,
north-up or rotated, time, patch origins), costs 42 bytes for an EPSG scene with its time, is
covered by the checksum, and version 1 refuses it rather than dropping it."""

from __future__ import annotations

import struct

import pytest

from shared.codecs.base import ModelRef, RasterSpec
from shared.errors import ContainerError, IntegrityError
from shared.wire import pack_container, unpack_container
from shared.wire.georef import Georef, decode_georef, encode_georef

UTM = Georef("EPSG:32610", (20.0, 0.0, 478880.0, 0.0, -20.0, 6439940.0), "2023-05-14T19:20:00Z")
SPEC = RasterSpec(bands=1, height=64, width=64, dtype="uint16", bit_depth=14, scale=16383.0)


def _pack(georef: Georef | None, version: int = 2) -> bytes:
    return pack_container(
        codec="cheng2020-gmm",
        spec=SPEC,
        model=ModelRef(1, bytes(8)),
        payload=b"payload" * 4,
        metadata={},
        version=version,
        georef=georef,
    )


@pytest.mark.parametrize(
    "georef",
    [
        UTM,
        Georef("EPSG:4326", (0.001, 0.0, -123.5, 0.0, -0.001, 58.1)),
        Georef('PROJCS["local",GEOGCS["x"]]', (30.0, 0.5, 1e5, -0.25, -30.0, 2e6), None),
        Georef("EPSG:32610", UTM.transform, UTM.acquired, ((0, 0), (0, 32), (300, 7))),
    ],
)
def test_georeference_round_trips_exactly(georef: Georef) -> None:
    assert decode_georef(encode_georef(georef)) == georef


def test_an_epsg_scene_with_its_time_costs_42_bytes_in_the_container() -> None:
    assert len(encode_georef(UTM)) == 42
    with_georef, without = _pack(UTM), _pack(None)
    assert len(with_georef) - len(without) == 43  # and the field's length byte
    assert unpack_container(with_georef).header.georef == UTM
    assert unpack_container(without).header.georef is None


def test_the_checksum_covers_the_georeference() -> None:
    data = bytearray(_pack(UTM))
    at = data.index(struct.pack("<d", 478880.0))
    data[at + 5] ^= 0x01  # one bit of the origin's x
    with pytest.raises((IntegrityError, ContainerError)):
        unpack_container(bytes(data))


def test_version_1_refuses_a_georeference_instead_of_dropping_it() -> None:
    with pytest.raises(ContainerError, match="version 1 has no georeference"):
        _pack(UTM, version=1)


def test_a_patch_georeference_places_each_patch() -> None:
    grid = Georef("EPSG:32610", UTM.transform, UTM.acquired, ((0, 0), (96, 64)))
    second = grid.for_patch(1)
    assert second.transform[2] == 478880.0 + 64 * 20.0
    assert second.transform[5] == 6439940.0 - 96 * 20.0
    assert second.patch_origins is None and second.acquired == UTM.acquired


@pytest.mark.parametrize(
    ("georef", "message"),
    [
        (Georef("EPSG:32610", (0.0, 0.0, 1.0, 0.0, -1.0, 1.0)), "degenerate"),
        (Georef("", UTM.transform), "WKT"),
        (Georef("EPSG:32610", UTM.transform, "14 May 2023"), "ISO 8601"),
    ],
)
def test_a_bad_georeference_is_refused_with_the_reason(georef: Georef, message: str) -> None:
    with pytest.raises(ContainerError, match=message):
        encode_georef(georef)


def test_a_truncated_field_is_refused() -> None:
    field = encode_georef(UTM)
    for cut in (1, 10, len(field) - 1):
        with pytest.raises(ContainerError):
            decode_georef(field[:cut])
