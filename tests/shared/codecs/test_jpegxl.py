"""JPEG XL codec: bit-exact lossless at 8-16 bits, rates within 10 % below the target, the
declared size checked before libjxl decodes, and the same refusals as the other codecs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_jpeg2000 import (
    measured_bpp,
    multispectral_tile,
    psnr_db,
    real_rasters,
    spec_of,
    thermal_scene,
)

from shared.codecs import get_codec
from shared.codecs.base import DecodeLimits, ModelRef, RasterSpec, RateTarget
from shared.codecs.jpegxl import JpegXlCodec
from shared.codecs.jxl_header import codestream_of, declared_size
from shared.compression import compress_raster, decompress_container
from shared.errors import (
    CodecError,
    ConfigurationError,
    InvalidRasterError,
    RateTargetError,
    ResourceLimitError,
)
from shared.wire.patches import join_patches, split_patches

LOSSLESS = RateTarget(lossless=True)


@pytest.fixture(scope="module")
def codec() -> JpegXlCodec:
    return JpegXlCodec()


def test_registry_builds_the_codec_with_foreign_options() -> None:
    codec = get_codec("jpeg-xl", checkpoints=object())
    assert isinstance(codec, JpegXlCodec) and codec.wire_id == 2


@pytest.mark.parametrize("bit_depth", [8, 12, 14, 16])
def test_lossless_is_bit_exact_at_every_depth(codec: JpegXlCodec, bit_depth: int) -> None:
    rng = np.random.default_rng(bit_depth)
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    raster = rng.integers(0, 2**bit_depth, (3, 40, 56)).astype(dtype)
    spec = spec_of(raster, bit_depth)
    encoded = codec.encode(raster, spec, LOSSLESS)
    np.testing.assert_array_equal(encoded.reconstruction, raster)
    np.testing.assert_array_equal(codec.decode(encoded.payload, spec, ModelRef()), raster)
    assert encoded.lossless and len(split_patches(encoded.payload, 3)) == 3


@pytest.mark.parametrize(("bpp", "bands"), [(0.5, 1), (2.0, 1), (3.0, 10)])
def test_lossy_lands_within_ten_percent_below_the_target(
    codec: JpegXlCodec, bpp: float, bands: int
) -> None:
    raster = thermal_scene(3) if bands == 1 else multispectral_tile(4, bands)
    spec = spec_of(raster, 14)
    encoded = codec.encode(raster, spec, RateTarget(bpp=bpp))
    assert bpp * 0.9 <= measured_bpp(encoded.payload, spec) <= bpp
    assert psnr_db(raster, encoded.reconstruction, 2**14 - 1) > 30


def test_more_bits_give_more_psnr(codec: JpegXlCodec) -> None:
    raster = thermal_scene(5)
    spec = spec_of(raster, 14)
    psnrs = [
        psnr_db(raster, codec.encode(raster, spec, RateTarget(quality=q)).reconstruction, 16383)
        for q in (1, 3, 6)
    ]
    assert psnrs == sorted(psnrs) and psnrs[-1] - psnrs[0] > 6


def test_a_rate_below_the_coarsest_setting_is_refused_with_the_floor(codec: JpegXlCodec) -> None:
    raster = thermal_scene(6, 32, 32)
    with pytest.raises(RateTargetError, match="coarsest setting takes"):
        codec.encode(raster, spec_of(raster, 14), RateTarget(bpp=0.05))


def test_float_input_is_quantised_to_the_declared_depth(codec: JpegXlCodec) -> None:
    raster = (np.random.default_rng(2).random((1, 24, 24)) * 300).astype(np.float32)
    spec = RasterSpec(1, 24, 24, "float32", 12, 300.0)
    recon = codec.encode(raster, spec, LOSSLESS).reconstruction
    assert recon.dtype == np.float32
    assert np.abs(recon - raster).max() <= 300.0 / (2**12 - 1)


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 7, 5), (2, 3, 40), (16, 9, 9)])
def test_tiny_and_odd_shapes_round_trip(codec: JpegXlCodec, shape: tuple[int, int, int]) -> None:
    raster = np.random.default_rng(1).integers(0, 4096, shape).astype(np.uint16)
    encoded = codec.encode(raster, spec_of(raster, 12), LOSSLESS)
    np.testing.assert_array_equal(encoded.reconstruction, raster)


def test_the_size_header_is_read_before_anything_is_decoded(codec: JpegXlCodec) -> None:
    raster = thermal_scene(7, 48, 80)
    spec = spec_of(raster, 14)
    payload = codec.encode(raster, spec, RateTarget(bpp=1.0)).payload
    assert declared_size(payload) == (48, 80)
    other = RasterSpec(1, 48, 64, "uint16", 14, 16383.0)
    with pytest.raises(CodecError, match="declares 48x80"):
        codec.decode(payload, other, ModelRef())
    with pytest.raises(ResourceLimitError):
        codec.decode(payload, spec, ModelRef(), DecodeLimits(max_pixels=1000))
    lossless = codec.encode(raster, spec, LOSSLESS).payload  # a boxed file: the size is inside
    assert codestream_of(lossless).startswith(b"\xff\x0a") and declared_size(lossless) == (48, 80)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: b"\x00" + p[1:], "not JPEG XL"),
        (lambda p: p[:3], "truncated"),
        (lambda p: p[: len(p) // 2], "could not decode"),
    ],
)
def test_a_damaged_payload_is_refused(codec: JpegXlCodec, damage: object, message: str) -> None:
    raster = thermal_scene(8, 64, 64)
    spec = spec_of(raster, 14)
    payload = codec.encode(raster, spec, RateTarget(bpp=2.0)).payload
    with pytest.raises(CodecError, match=message):
        codec.decode(damage(payload), spec, ModelRef())  # type: ignore[operator]


def test_refusals_say_what_is_wrong(codec: JpegXlCodec) -> None:
    raster = np.full((1, 8, 8), 5000, np.uint16)
    with pytest.raises(InvalidRasterError, match="12-bit depth"):
        codec.encode(raster, spec_of(raster, 12), LOSSLESS)
    with pytest.raises(CodecError, match="no model weights"):
        codec.decode(b"x", spec_of(raster, 14), ModelRef(3, b""))
    with pytest.raises(ConfigurationError, match="effort"):
        JpegXlCodec(effort=0)
    with pytest.raises(ConfigurationError, match="does not code a region of interest"):
        compress_raster(raster, codec="jpeg-xl", target=RateTarget(bpp=2.0), roi_mask=raster[0] > 0)


def test_a_container_round_trips_and_a_bit_exact_decode_follows_the_payload() -> None:
    """Decoding all of the payload matters: a decoder that skipped a band would fail here."""
    cube = multispectral_tile(9, 4, 64)
    scene = compress_raster(cube, codec="jpeg-xl", target=LOSSLESS, bit_depth=14)
    decoded = decompress_container(scene.container)
    np.testing.assert_array_equal(decoded.raster, cube)
    files = split_patches(decoded.container.payload, 4)
    swapped = join_patches([files[1], files[0], *files[2:]])
    spec = spec_of(cube, 14)
    swapped_raster = JpegXlCodec().decode(swapped, spec, ModelRef())
    np.testing.assert_array_equal(swapped_raster[0], cube[1])


def test_real_thermal_and_sentinel2_pixels(codec: JpegXlCodec, sample_data: Path) -> None:
    for raster, bit_depth in real_rasters(sample_data):
        spec = spec_of(raster, bit_depth)
        np.testing.assert_array_equal(codec.encode(raster, spec, LOSSLESS).reconstruction, raster)
        payload = codec.encode(raster, spec, RateTarget(bpp=2.0)).payload
        assert 0.9 * 2.0 <= measured_bpp(payload, spec) <= 2.0
