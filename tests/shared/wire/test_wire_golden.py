"""Format version 1 is frozen: the packer must reproduce the committed golden bytes exactly."""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from shared.wire import HEADER_SIZE, compute_checksum, read_header, unpack_container

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "golden"


@pytest.fixture(scope="module")
def make_golden() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_golden", GOLDEN_DIR / "make_golden.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def golden() -> bytes:
    return (GOLDEN_DIR / "container_v1.bin").read_bytes()


def test_packer_reproduces_golden_bytes(make_golden: ModuleType, golden: bytes) -> None:
    assert make_golden.golden_bytes() == golden


def test_golden_header_layout_is_little_endian_v1(golden: bytes) -> None:
    assert HEADER_SIZE == 55
    assert golden[:4] == b"EODL"
    assert golden[4] == 1  # format version
    assert struct.unpack_from("<HH", golden, 5) == (15, 3)  # cheng2020-gmm, quality-3 model
    assert golden[9:17] == bytes.fromhex("0123456789abcdef")
    assert struct.unpack_from("<HII", golden, 17) == (10, 8, 8)
    assert tuple(golden[27:31]) == (2, 14, 0b10, 3)  # uint16, 14 bits, sidecar flag, quality
    assert struct.unpack_from("<d", golden, 31) == (10000.0,)
    payload, metadata, sidecar = struct.unpack_from("<III", golden, 39)
    assert HEADER_SIZE + payload + metadata + sidecar == len(golden)
    assert struct.unpack_from("<I", golden, 51)[0] == compute_checksum(golden)


def test_golden_unpacks_to_its_inputs(make_golden: ModuleType, golden: bytes) -> None:
    container = unpack_container(golden)
    assert container.header == read_header(golden)
    assert container.header.codec_name == "cheng2020-gmm"
    assert container.header.spec == make_golden.GOLDEN_SPEC
    assert container.header.model == make_golden.GOLDEN_MODEL
    assert container.payload == make_golden.GOLDEN_PAYLOAD
    assert container.metadata == make_golden.GOLDEN_METADATA
    np.testing.assert_array_equal(container.truth_mask, make_golden.golden_mask())


def test_generator_refuses_to_overwrite_without_force(make_golden: ModuleType) -> None:
    before = (GOLDEN_DIR / "container_v1.bin").read_bytes()
    assert make_golden.main([]) == 1
    assert (GOLDEN_DIR / "container_v1.bin").read_bytes() == before


@pytest.mark.parametrize(
    "name",
    [
        "container_v2.bin",
        "container_v2_j2k.bin",
        "container_v2_patches.bin",
        "container_v2_georef.bin",
    ],
)
def test_version_2_is_frozen_too(make_golden: ModuleType, name: str) -> None:
    """The packer reproduces both version-2 files. The JPEG 2000 one is packed from the
    codestream it rebuilds (so that an OpenJPEG upgrade cannot move the tile data under it)."""
    golden = (GOLDEN_DIR / name).read_bytes()
    container = unpack_container(golden)
    assert golden[:5] == b"EODL\x02"
    if name == "container_v2.bin":
        assert make_golden.golden_bytes(2) == golden
        assert container.header.spec == make_golden.GOLDEN_SPEC
        assert container.header.model == make_golden.GOLDEN_MODEL
        assert container.payload == make_golden.GOLDEN_PAYLOAD
        np.testing.assert_array_equal(container.truth_mask, make_golden.golden_mask())
        return
    from shared.wire import pack_container

    patches = name in ("container_v2_patches.bin", "container_v2_georef.bin")
    georef = make_golden.GOLDEN_GEOREF if name == "container_v2_georef.bin" else None
    assert container.header.georef == georef
    repacked = pack_container(
        codec="jpeg2000",
        spec=make_golden.GOLDEN_PATCHES_SPEC if patches else make_golden.GOLDEN_J2K_SPEC,
        model=container.header.model,
        payload=container.payload,
        metadata={},
        rate_bpp=2.0,
        patch_shape=(32, 32) if patches else None,
        georef=georef,
    )
    assert repacked == golden
    if georef is not None:  # EPSG 32610, north-up, a time (42 bytes), four origins (11), length
        assert len(golden) - len((GOLDEN_DIR / "container_v2_patches.bin").read_bytes()) == 54
        return
    # beyond what is carried (tile data; for patches, also their 3 lengths): 16 bytes, and
    # 3 more for four patches (a second flags byte, the patch shape)
    assert len(golden) - container.header.payload_bytes == (19 if patches else 16)
    if patches:  # every patch decodes alone to what its own container gives
        from shared.compression import decompress_container, decompress_patch

        for index in range(4):
            alone = pack_container(
                codec="jpeg2000",
                spec=make_golden.GOLDEN_J2K_SPEC,
                model=container.header.model,
                payload=make_golden.golden_j2k_codestream(index),
                metadata={},
                rate_bpp=2.0,
            )
            expected = decompress_container(alone).raster
            np.testing.assert_array_equal(decompress_patch(golden, index), expected)
