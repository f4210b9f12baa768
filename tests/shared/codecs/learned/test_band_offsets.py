"""Per-band offsets: sent where they lower the error, decoded bit-exactly, refused when corrupt."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from shared.codecs.base import RasterSpec, RateTarget
from shared.codecs.learned import band_offsets
from shared.codecs.learned.codec import LearnedCodec, latent_layout
from shared.codecs.learned.payload import pack_legacy_payload, pack_payload, unpack_payload
from shared.codecs.registry import get_codec
from shared.errors import CodecError, ConfigurationError
from shared.metrics.distortion import psnr_db

OFFSETS_FLAG = 0x08


def _shifted(scene: Any, counts: int) -> np.ndarray:
    """The scene with its first band brightened by ``counts`` (a bias the codec never saw)."""
    image = scene.image.astype(np.int64)
    image[0] += counts
    return np.clip(image, 0, 2**scene.spec.bit_depth - 1).astype(scene.spec.dtype)


def test_offsets_correct_a_band_the_codec_reconstructs_off_bit_exactly(
    building_scene: Any,
) -> None:
    codec = get_codec("cheng2020-gmm", checkpoints=building_scene.store)
    assert isinstance(codec, LearnedCodec)
    image, spec, target = _shifted(building_scene, 3000), building_scene.spec, RateTarget(quality=3)
    corrected = codec.encode(image, spec, target)
    latents_only = codec.encode(image, spec, target, correct_bands=False)
    assert corrected.payload[1] & OFFSETS_FLAG and not latents_only.payload[1] & OFFSETS_FLAG
    decoded = codec.decode(corrected.payload, spec, corrected.model)
    assert np.array_equal(decoded, corrected.reconstruction)
    coded = unpack_payload(corrected.payload, latent_layout("cheng2020-gmm", spec), codec.name)
    assert coded.band_offsets is not None and len(coded.band_offsets) == spec.bands
    assert (
        coded.strings
        == unpack_payload(  # the same latents, the offsets beside them
            latents_only.payload, latent_layout("cheng2020-gmm", spec), codec.name
        ).strings
    )
    gain_db = psnr_db(image, corrected.reconstruction, spec.scale) - psnr_db(
        image, latents_only.reconstruction, spec.scale
    )
    assert gain_db > 1.0
    assert len(corrected.payload) - len(latents_only.payload) <= 1 + 3 * spec.bands


def test_offsets_pack_and_unpack_any_sign() -> None:
    values = (0, 1, -1, 63, -64, 64, -65, 8191, -8192, 16383, -16383)
    packed = band_offsets.pack(values)
    assert band_offsets.unpack(b"xx" + packed, 2) == (values, 2 + len(packed))
    assert len(band_offsets.pack((63, -64))) == 3  # one byte each up to |64|


def test_offsets_are_applied_and_clipped_to_the_sensor_range() -> None:
    spec = RasterSpec(2, 2, 2, "uint16", 14, 16383.0)
    samples = np.array([[[0, 10], [16380, 5]], [[7, 7], [7, 7]]], dtype=np.uint16)
    shifted = band_offsets.apply(samples, (5, -10), spec)
    assert shifted.dtype == np.uint16
    assert shifted.tolist() == [[[5, 15], [16383, 10]], [[0, 0], [0, 0]]]
    with pytest.raises(CodecError, match="carries 1 band offsets for a 2-band"):
        band_offsets.apply(samples, (5,), spec)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda packed: packed[:1], "band 0 offset"),
        (lambda packed: b"\x00" + packed[1:], "truncated or empty"),
        (lambda packed: packed[:-1] + b"\x80", "band 9 offset"),
    ],
)
def test_a_corrupt_offsets_section_is_refused(mutate: Any, message: str) -> None:
    packed = band_offsets.pack(tuple(range(-5, 5)))
    with pytest.raises(CodecError, match=message):
        band_offsets.unpack(mutate(packed), 0)


def test_offsets_for_another_band_count_are_refused_at_decode(building_scene: Any) -> None:
    codec = get_codec("cheng2020-gmm", checkpoints=building_scene.store)
    spec = building_scene.spec
    encoded = codec.encode(_shifted(building_scene, 3000), spec, RateTarget(quality=3))
    layout = latent_layout("cheng2020-gmm", spec)
    coded = unpack_payload(encoded.payload, layout, "cheng2020-gmm")
    wrong = pack_payload(replace(coded, band_offsets=(1, 2, 3)), layout)
    with pytest.raises(CodecError, match="carries 3 band offsets for a 10-band"):
        codec.decode(wrong, spec, encoded.model)
    with pytest.raises(ConfigurationError, match="versions 1-4 carry no band offsets"):
        pack_legacy_payload(coded, layout)


def test_offsets_only_where_there_is_a_band_error_to_correct() -> None:
    spec = RasterSpec(1, 2, 2, "uint16", 14, 16383.0)
    raster = np.array([[[100, 100], [100, 100]]], dtype=np.uint16)
    assert band_offsets.measure(raster, raster.copy(), spec) is None  # nothing to correct
    floats = replace(spec, dtype="float32")
    assert band_offsets.measure(raster.astype(np.float32), raster, floats) is None
    top = np.full((1, 2, 2), 16383, np.uint16)  # a reconstruction 3 counts low, up to the top
    assert band_offsets.measure(top, np.full((1, 2, 2), 16380, np.uint16), spec) == (3,)
