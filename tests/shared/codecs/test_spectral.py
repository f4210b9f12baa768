"""JPEG 2000 after the integer spectral wavelet: exact lifting at every band count, bit-exact
lossless, rates within 10 % of the target, fewer bits than band-by-band JPEG 2000 where the
bands are correlated, and a corrupt header refused."""

from __future__ import annotations

import numpy as np
import pytest
from test_jpeg2000 import measured_bpp, multispectral_tile, psnr_db, spec_of

from shared.codecs import get_codec
from shared.codecs.base import ModelRef, RasterSpec, RateTarget
from shared.codecs.jpeg2000 import Jpeg2000Codec
from shared.codecs.spectral import SpectralJpeg2000Codec, forward, inverse, levels_for
from shared.errors import CodecError, ConfigurationError, RateTargetError

LOSSLESS = RateTarget(lossless=True)


@pytest.fixture(scope="module")
def codec() -> SpectralJpeg2000Codec:
    return SpectralJpeg2000Codec()


@pytest.mark.parametrize("bands", list(range(1, 17)))
def test_the_lifting_is_exact_at_every_band_count_and_level(bands: int) -> None:
    cube = np.random.default_rng(bands).integers(0, 2**14, (bands, 6, 5))
    for levels in range(levels_for(bands) + 1):
        components = forward(cube, levels)
        assert components.shape == cube.shape
        np.testing.assert_array_equal(inverse(components, levels), cube)


@pytest.mark.parametrize(("bands", "bit_depth"), [(1, 12), (3, 8), (10, 14), (13, 14)])
def test_lossless_is_bit_exact(codec: SpectralJpeg2000Codec, bands: int, bit_depth: int) -> None:
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    cube = np.random.default_rng(bit_depth).integers(0, 2**bit_depth, (bands, 24, 36)).astype(dtype)
    spec = spec_of(cube, bit_depth)
    encoded = codec.encode(cube, spec, LOSSLESS)
    np.testing.assert_array_equal(encoded.reconstruction, cube)
    np.testing.assert_array_equal(codec.decode(encoded.payload, spec, ModelRef()), cube)


def test_correlated_bands_cost_fewer_bits_than_band_by_band_jpeg2000(
    codec: SpectralJpeg2000Codec,
) -> None:
    """Ten bands of one scene under different gains: the spectral transform leaves little in
    the high-pass components, so the whole costs clearly less, lossless and lossy alike."""
    rng = np.random.default_rng(11)
    land = multispectral_tile(11, 1, 128)[0].astype(float)
    gains = np.linspace(0.5, 1.6, 10)[:, None, None]
    cube = np.clip(gains * land + rng.normal(0, 4, (10, 128, 128)), 0, 16383).astype(np.uint16)
    spec = spec_of(cube, 14)
    plain, spectral = Jpeg2000Codec(), codec
    assert len(spectral.encode(cube, spec, LOSSLESS).payload) < 0.9 * len(
        plain.encode(cube, spec, LOSSLESS).payload
    )
    at = RateTarget(bpp=2.0)
    gain = psnr_db(cube, spectral.encode(cube, spec, at).reconstruction, 16383) - psnr_db(
        cube, plain.encode(cube, spec, at).reconstruction, 16383
    )
    assert gain > 0.5, f"the spectral transform gained only {gain:.2f} dB at 2 bpp"


@pytest.mark.parametrize("bpp", [0.5, 2.0])
def test_lossy_lands_within_ten_percent_below_the_target(
    codec: SpectralJpeg2000Codec, bpp: float
) -> None:
    cube = multispectral_tile(12, 10, 128)
    spec = spec_of(cube, 14)
    payload = codec.encode(cube, spec, RateTarget(bpp=bpp)).payload
    assert measured_bpp(payload, spec) == pytest.approx(bpp, rel=0.10)  # as JPEG 2000's


def test_refusals_say_what_is_wrong(codec: SpectralJpeg2000Codec) -> None:
    cube = multispectral_tile(13, 4, 32)
    spec = spec_of(cube, 14)
    payload = codec.encode(cube, spec, RateTarget(bpp=4.0)).payload
    with pytest.raises(CodecError, match="levels"):
        codec.decode(bytes([9]) + payload[1:], spec, ModelRef())
    with pytest.raises(CodecError, match="-bit components"):
        codec.decode(payload[:1] + bytes([30]) + payload[2:], spec, ModelRef())
    with pytest.raises(CodecError, match="no model weights"):
        codec.decode(payload, spec, ModelRef(2, b""))
    wide = RasterSpec(4, 32, 32, "uint16", 16, 65535.0)
    with pytest.raises(ConfigurationError, match="use jpeg2000"):
        codec.encode(cube, wide, LOSSLESS)
    with pytest.raises(RateTargetError):
        codec.encode(cube, spec, RateTarget(bpp=0.01))
    assert isinstance(get_codec("jpeg2000-spectral", checkpoints=object()), SpectralJpeg2000Codec)


def test_a_band_the_rate_leaves_empty_comes_back_at_its_mean_not_mid_grey(
    codec: SpectralJpeg2000Codec,
) -> None:
    """Dark 14-bit bands (Sentinel-2's lie around 50-1300 of 10000) at 0.12 bpp: plain JPEG
    2000 gives most bands no bits and decodes them as 8192; centred, they decode near their
    means (measured on the real samples: 3.7-6.7 dB -> 28-32 dB)."""
    rng = np.random.default_rng(14)
    land = multispectral_tile(14, 1, 128)[0].astype(float) / 16383
    levels = np.linspace(80, 1300, 10)[:, None, None]
    cube = np.clip(levels * (0.6 + 0.8 * land) + rng.normal(0, 6, (10, 128, 128)), 0, 16383)
    cube = cube.astype(np.uint16)
    spec = spec_of(cube, 14)
    target = RateTarget(bpp=0.12)
    plain = psnr_db(cube, Jpeg2000Codec().encode(cube, spec, target).reconstruction, 16383)
    centred = psnr_db(cube, codec.encode(cube, spec, target).reconstruction, 16383)
    assert centred > plain + 10, (plain, centred)


def test_independent_bands_are_coded_untransformed(codec: SpectralJpeg2000Codec) -> None:
    """The encoder keeps the better of transformed and untransformed: noise bands share
    nothing, so the transform only widens them and the payload says 0 levels."""
    cube = np.random.default_rng(15).integers(0, 2**12, (8, 48, 48)).astype(np.uint16)
    spec = spec_of(cube, 12)
    payload = codec.encode(cube, spec, LOSSLESS).payload
    assert payload[0] == 0
    assert len(payload) <= len(Jpeg2000Codec().encode(cube, spec, LOSSLESS).payload) + 32
