"""JPEG 2000 codec: bit-exact lossless, rates within 10% of target, true bit depth in SIZ."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from shared.codecs import get_codec
from shared.codecs.base import ModelRef, RasterSpec, RateTarget
from shared.codecs.j2k_codestream import inspect_codestream
from shared.codecs.j2k_rate import QUALITY_BITS_PER_SAMPLE
from shared.codecs.jpeg2000 import Jpeg2000Codec
from shared.errors import InvalidRasterError, RateTargetError

LOSSLESS = RateTarget(lossless=True)


def _field(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A 1/f^2 random field in [0, 1]: the spatial statistics of natural scenes."""
    fy, fx = np.fft.fftfreq(height)[:, None], np.fft.fftfreq(width)[None, :]
    power = fy**2 + fx**2
    power[0, 0] = 1.0
    noise = rng.normal(size=(height, width)) + 1j * rng.normal(size=(height, width))
    field = np.real(np.fft.ifft2(noise / power))
    return (field - field.min()) / (field.max() - field.min())


def thermal_scene(seed: int, height: int = 256, width: int = 256) -> np.ndarray:
    """A 14-bit single-band thermal tile stored as uint16, with sensor noise."""
    rng = np.random.default_rng(seed)
    radiance = 2000 + 12000 * _field(rng, height, width) + rng.normal(0, 20, (height, width))
    return np.clip(radiance, 0, 2**14 - 1).astype(np.uint16)[None]


def multispectral_tile(seed: int, bands: int = 10, size: int = 128) -> np.ndarray:
    """A 14-bit multiband tile: one land-cover field seen with per-band gains, plus noise."""
    rng = np.random.default_rng(seed)
    land = _field(rng, size, size)
    cube = [
        500
        + (2500 + 400 * k) * land
        + 400 * _field(rng, size, size)
        + rng.normal(0, 25, land.shape)
        for k in range(bands)
    ]
    return np.clip(np.stack(cube), 0, 2**14 - 1).astype(np.uint16)


def spec_of(raster: np.ndarray, bit_depth: int, scale: float | None = None) -> RasterSpec:
    bands, height, width = raster.shape
    return RasterSpec(
        bands, height, width, raster.dtype.name, bit_depth, scale or float(2**bit_depth - 1)
    )


def measured_bpp(payload: bytes, spec: RasterSpec) -> float:
    return len(payload) * 8 / spec.pixels


def psnr_db(raster: np.ndarray, recon: np.ndarray, peak: float) -> float:
    mse = float(np.mean((raster.astype(np.float64) - recon.astype(np.float64)) ** 2))
    return 10 * np.log10(peak**2 / mse)


@pytest.fixture(scope="module")
def codec() -> Jpeg2000Codec:
    return Jpeg2000Codec()


def test_registry_builds_the_codec_with_foreign_options() -> None:
    codec = get_codec("jpeg2000", checkpoints=object())
    assert isinstance(codec, Jpeg2000Codec)
    assert (codec.name, codec.wire_id, codec.kind) == ("jpeg2000", 1, "classical")


@pytest.mark.parametrize(
    "raster",
    [thermal_scene(0), multispectral_tile(1), multispectral_tile(2, bands=3, size=64)],
    ids=["1x256x256", "10x128x128", "3x64x64"],
)
def test_lossless_is_bit_exact_and_a_raw_codestream(
    codec: Jpeg2000Codec, raster: np.ndarray
) -> None:
    spec = spec_of(raster, 14)
    encoded = codec.encode(raster, spec, LOSSLESS)
    assert encoded.lossless and encoded.quality is None and encoded.model == ModelRef(0, b"")
    assert encoded.payload[:4] == b"\xff\x4f\xff\x51" and encoded.payload[-2:] == b"\xff\xd9"
    np.testing.assert_array_equal(encoded.reconstruction, raster)
    decoded = codec.decode(encoded.payload, spec, ModelRef())
    assert decoded.dtype == np.uint16
    np.testing.assert_array_equal(decoded, raster)
    info = inspect_codestream(encoded.payload)
    assert info.cod.reversible and not info.cod.mct and not info.has_comment
    assert measured_bpp(encoded.payload, spec) < 14 * spec.bands  # it did compress


@pytest.mark.parametrize("bit_depth", [8, 12, 14, 16])
def test_siz_declares_the_true_bit_depth(codec: Jpeg2000Codec, bit_depth: int) -> None:
    raster = (thermal_scene(3, 64, 64) >> (14 - min(bit_depth, 14))).astype(np.uint16)
    if bit_depth == 16:
        raster = raster * 4
    spec = spec_of(raster, bit_depth)
    for target in (LOSSLESS, RateTarget(bpp=1.0)):
        siz = inspect_codestream(codec.encode(raster, spec, target).payload).siz
        assert [c.precision for c in siz.components] == [bit_depth]
        assert not siz.components[0].signed and (siz.height, siz.width) == (64, 64)


def test_multiband_never_uses_the_colour_transform(codec: Jpeg2000Codec) -> None:
    raster = multispectral_tile(4, bands=3, size=64)
    for target in (LOSSLESS, RateTarget(bpp=2.0)):
        assert not inspect_codestream(
            codec.encode(raster, spec_of(raster, 14), target).payload
        ).cod.mct


@pytest.mark.parametrize(
    ("raster", "targets"),
    [(thermal_scene(5), (0.25, 1.0, 3.0)), (multispectral_tile(6), (0.5, 2.0, 8.0))],
    ids=["1x256x256", "10x128x128"],
)
def test_lossy_hits_the_target_bpp_within_ten_percent(
    codec: Jpeg2000Codec, raster: np.ndarray, targets: tuple[float, ...]
) -> None:
    spec = spec_of(raster, 14)
    psnrs = []
    for bpp in targets:
        encoded = codec.encode(raster, spec, RateTarget(bpp=bpp))
        assert measured_bpp(encoded.payload, spec) == pytest.approx(bpp, rel=0.10)
        assert not encoded.lossless and not inspect_codestream(encoded.payload).cod.reversible
        np.testing.assert_array_equal(
            codec.decode(encoded.payload, spec, ModelRef()), encoded.reconstruction
        )
        psnrs.append(psnr_db(raster, encoded.reconstruction, 2**14 - 1))
    assert psnrs == sorted(psnrs) and psnrs[0] > 30  # more bits, better pixels


@pytest.mark.parametrize("quality", [1, 4, 6])
def test_quality_levels_follow_the_bits_per_sample_ladder(
    codec: Jpeg2000Codec, quality: int
) -> None:
    raster = multispectral_tile(7, bands=4, size=64)
    spec = spec_of(raster, 14)
    encoded = codec.encode(raster, spec, RateTarget(quality=quality))
    expected = QUALITY_BITS_PER_SAMPLE[quality] * 4
    assert measured_bpp(encoded.payload, spec) == pytest.approx(expected, rel=0.10)
    assert encoded.quality is None


def test_float_input_is_quantised_to_the_declared_depth(codec: Jpeg2000Codec) -> None:
    rng = np.random.default_rng(8)
    kelvin = (280 + 40 * _field(rng, 64, 64)).astype(np.float32)[None]
    spec = RasterSpec(1, 64, 64, "float32", 12, 330.0)
    encoded = codec.encode(kelvin, spec, LOSSLESS)
    levels = np.rint(kelvin.astype(np.float64) / 330.0 * 4095)
    expected = (levels / 4095 * 330.0).astype(np.float32)
    assert encoded.reconstruction.dtype == np.float32
    np.testing.assert_array_equal(encoded.reconstruction, expected)
    assert np.abs(encoded.reconstruction - kelvin).max() <= 330.0 / 4095 / 2 + 1e-4
    assert [c.precision for c in inspect_codestream(encoded.payload).siz.components] == [12]
    lossy = codec.encode(kelvin, spec, RateTarget(bpp=1.0))
    assert measured_bpp(lossy.payload, spec) == pytest.approx(1.0, rel=0.10)
    np.testing.assert_array_equal(
        codec.decode(lossy.payload, spec, ModelRef()), lossy.reconstruction
    )


def test_fire_patch_32x32_round_trips_and_reports_its_rate_floor(codec: Jpeg2000Codec) -> None:
    patch = thermal_scene(9, 32, 32)
    spec = spec_of(patch, 14)
    np.testing.assert_array_equal(codec.encode(patch, spec, LOSSLESS).reconstruction, patch)
    for bpp in (1.0, 2.0, 4.0):
        payload = codec.encode(patch, spec, RateTarget(bpp=bpp)).payload
        assert measured_bpp(payload, spec) == pytest.approx(bpp, rel=0.10)
    with pytest.raises(RateTargetError, match="smallest codestream measured is 0.[5-9]"):
        codec.encode(patch, spec, RateTarget(bpp=0.2))


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 7, 5), (2, 3, 40), (16, 9, 9)])
def test_tiny_and_odd_shapes_round_trip(codec: Jpeg2000Codec, shape: tuple[int, int, int]) -> None:
    raster = np.random.default_rng(10).integers(0, 256, shape, dtype=np.uint8)
    spec = spec_of(raster, 8)
    np.testing.assert_array_equal(codec.encode(raster, spec, LOSSLESS).reconstruction, raster)


def test_samples_above_the_declared_depth_are_refused(codec: Jpeg2000Codec) -> None:
    raster = np.full((1, 8, 8), 5000, np.uint16)
    with pytest.raises(InvalidRasterError, match="declare bit_depth >= 13"):
        codec.encode(raster, spec_of(raster, 12), LOSSLESS)


def test_raster_not_matching_its_spec_is_refused(codec: Jpeg2000Codec) -> None:
    raster = np.zeros((2, 8, 8), np.uint16)
    with pytest.raises(InvalidRasterError, match="shape"):
        codec.encode(raster, RasterSpec(1, 8, 8, "uint16", 14, 16383.0), LOSSLESS)
    with pytest.raises(InvalidRasterError, match="1..16 bands"):
        codec.encode(
            np.zeros((17, 8, 8), np.uint16), spec_of(np.zeros((17, 8, 8), np.uint16), 14), LOSSLESS
        )


def test_a_target_above_what_the_tile_needs_keeps_every_pass(codec: Jpeg2000Codec) -> None:
    flat = np.full((1, 64, 64), 1000, np.uint16)
    spec = spec_of(flat, 14)
    encoded = codec.encode(flat, spec, RateTarget(bpp=6.0))
    assert measured_bpp(encoded.payload, spec) < 6.0
    assert np.abs(encoded.reconstruction.astype(int) - 1000).max() <= 1


def real_rasters(sample_data: Path) -> list[tuple[np.ndarray, int]]:
    """A real Landsat TIRS band (16-bit DNs) and a real Sentinel-2 cube (14 bits of 10000),
    with their bit depths."""
    tirs = sample_data / "cloud/l8_tirs_riotilerpds_LC08_016037_20170813_900m"
    b10 = tifffile.imread(next(tirs.glob("*_B10.TIF")))[None]
    s2 = np.load(
        sample_data
        / "building/s2_eolearn_TestEOPatch_slovenia_LULC"
        / "REFERENCE_SCENES_10band_B02-B12_derived.npy"
    )[3]
    cube = np.rint(np.clip(s2, 0, 1) * 10000).astype(np.uint16).transpose(2, 0, 1)
    return [(b10, 16), (cube, 14)]


def test_real_thermal_and_sentinel2_pixels(codec: Jpeg2000Codec, sample_data: Path) -> None:
    for raster, bit_depth in real_rasters(sample_data):
        spec = spec_of(raster, bit_depth)
        np.testing.assert_array_equal(codec.encode(raster, spec, LOSSLESS).reconstruction, raster)
        payload = codec.encode(raster, spec, RateTarget(bpp=1.0)).payload
        assert measured_bpp(payload, spec) == pytest.approx(1.0, rel=0.10)
