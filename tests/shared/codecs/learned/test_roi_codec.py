"""ROI coding on the learned codecs with the shipped checkpoints: bit-exact, and the bits go in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from shared.codecs.base import EncodedPayload, RasterSpec, RateTarget, reconstruction_digest
from shared.codecs.learned.checkpoint import CheckpointStore, init_checkpoint
from shared.codecs.learned.codec import LearnedCodec, latent_layout
from shared.codecs.learned.payload import COMPACT_VERSION
from shared.codecs.learned.roi_gain import RoiGain
from shared.codecs.registry import get_codec
from shared.errors import CodecError, ConfigurationError, InvalidRasterError
from shared.metrics.distortion import psnr_db

ARCHITECTURES = (
    "factorized-prior",
    "scale-hyperprior",
    "mean-scale-hyperprior",
    "cheng2020-anchor",
    "cheng2020-attn",
    "cheng2020-gmm",
    "cheng2020-checkerboard",
)


def _psnr(scene: Any, encoded: EncodedPayload, where: np.ndarray) -> float:
    return psnr_db(scene.image[:, where], encoded.reconstruction[:, where], scene.spec.scale)


def _codec(name: str, store: CheckpointStore) -> LearnedCodec:
    codec = get_codec(name, checkpoints=store)
    assert isinstance(codec, LearnedCodec)
    return codec


def _roi_section(payload: bytes) -> int | None:
    """Offset of a version-5 payload's ROI section (after a rate level code if any), else None."""
    assert payload[0] == COMPACT_VERSION
    flags = payload[1]
    if not flags & 0x04:
        return None
    return 2 + (1 if flags & 0x02 else 0)


@pytest.mark.parametrize(
    ("name", "fixture", "quality"),
    [("cheng2020-gmm", "cloud_scene", 1), ("mean-scale-hyperprior", "building_scene", 2)],
)
def test_roi_round_trip_is_bit_exact_and_favours_the_roi(
    name: str, fixture: str, quality: int, request: pytest.FixtureRequest
) -> None:
    scene: Any = request.getfixturevalue(fixture)
    codec = _codec(name, scene.store)
    target = RateTarget(quality=quality)
    # the band offsets (a tile-wide correction) off on both sides: this measures the ROI gain
    plain = codec.encode(scene.image, scene.spec, target, correct_bands=False)
    coded = codec.encode(scene.image, scene.spec, target, roi_mask=scene.roi, correct_bands=False)
    assert _roi_section(coded.payload) is not None and _roi_section(plain.payload) is None
    decoded = codec.decode(coded.payload, scene.spec, coded.model)
    assert reconstruction_digest(decoded) == reconstruction_digest(coded.reconstruction)
    assert len(plain.payload) < len(coded.payload)  # the ROI's extra precision costs bytes
    inside, outside = scene.roi, ~scene.roi
    gain_inside = _psnr(scene, coded, inside) - _psnr(scene, plain, inside)
    gain_outside = _psnr(scene, coded, outside) - _psnr(scene, plain, outside)
    assert gain_inside > 0.1, (gain_inside, gain_outside)
    assert gain_inside > gain_outside, (gain_inside, gain_outside)


def test_roi_record_and_payload_map_cover_the_detected_pixels(cloud_scene: Any) -> None:
    codec = _codec("cheng2020-gmm", cloud_scene.store)
    coded = codec.encode(
        cloud_scene.image, cloud_scene.spec, RateTarget(quality=1), roi_mask=cloud_scene.roi
    )
    assert coded.roi is not None and coded.roi["method"] == "latent-gain"
    assert coded.roi["block"] == 16 and coded.roi["gain"] == 4.0
    gain_map = codec.coded_roi(coded.payload, cloud_scene.spec)
    assert gain_map is not None
    shown = gain_map.block_mask(cloud_scene.spec.height, cloud_scene.spec.width).pixels()
    assert shown[cloud_scene.roi].all() and not shown.all()
    assert gain_map.to_metadata(cloud_scene.spec.height, cloud_scene.spec.width) == coded.roi


def test_empty_roi_codes_exactly_as_without_roi(cloud_scene: Any) -> None:
    codec = _codec("cheng2020-gmm", cloud_scene.store)
    target = RateTarget(quality=1)
    plain = codec.encode(cloud_scene.image, cloud_scene.spec, target)
    empty = np.zeros(cloud_scene.roi.shape, dtype=bool)
    same = codec.encode(cloud_scene.image, cloud_scene.spec, target, roi_mask=empty)
    assert same.payload == plain.payload and same.roi is None


def test_the_shared_model_is_not_mutated(cloud_scene: Any) -> None:
    codec = _codec("cheng2020-gmm", cloud_scene.store)
    target = RateTarget(quality=1)
    before = codec.encode(cloud_scene.image, cloud_scene.spec, target)
    model, _ = cloud_scene.store.load(codec._select(cloud_scene.spec, target))
    g_a, g_s = model.g_a, model.g_s
    codec.encode(cloud_scene.image, cloud_scene.spec, target, roi_mask=cloud_scene.roi)
    assert model.g_a is g_a and model.g_s is g_s
    assert not any("Gained" in type(m).__name__ for m in model.modules())
    after = codec.encode(cloud_scene.image, cloud_scene.spec, target)
    assert after.payload == before.payload


def test_bad_masks_are_refused_with_the_expected_shape(cloud_scene: Any) -> None:
    codec = _codec("cheng2020-gmm", cloud_scene.store)
    height, width = cloud_scene.roi.shape
    for bad in (
        np.ones((height + 1, width), bool),
        np.ones((2, height, width), bool),
        np.ones(width, bool),
    ):
        with pytest.raises(InvalidRasterError, match=f"{height}x{width}"):
            codec.encode(cloud_scene.image, cloud_scene.spec, RateTarget(quality=1), roi_mask=bad)
    with pytest.raises(ConfigurationError, match="ROI gain"):
        RoiGain(roi_shift=5)


def test_corrupted_roi_map_is_refused_before_decoding(cloud_scene: Any) -> None:
    codec = _codec("cheng2020-gmm", cloud_scene.store)
    roi = cloud_scene.roi.copy()
    roi[-8:, -8:] = True  # the last latent cell, which a 240 x 240 raster does not reach
    coded = codec.encode(cloud_scene.image, cloud_scene.spec, RateTarget(quality=1), roi_mask=roi)
    section = _roi_section(coded.payload)
    assert section is not None
    flipped = bytearray(coded.payload)  # the container's CRC32C refuses this on the link;
    flipped[section + 2] ^= 0x10  # the payload alone decodes other pixels, without a crash
    try:
        other = codec.decode(bytes(flipped), cloud_scene.spec, coded.model)
        assert not np.array_equal(other, coded.reconstruction)
    except CodecError:
        pass
    # a valid CRC over a map with cells outside the raster: read the payload as a 240 x 240
    # raster's (same 16 x 16 latent grid, but only 15 x 15 cells of pixels)
    smaller = RasterSpec(1, 240, 240, "uint16", 16, cloud_scene.spec.scale)
    assert latent_layout(codec.name, smaller) == latent_layout(codec.name, cloud_scene.spec)
    with pytest.raises(CodecError, match="outside the 240x240 raster"):
        codec.decode(coded.payload, smaller, coded.model)
    body = bytearray(coded.payload)
    body[section] = 6  # roi shift 6: not a gain this build writes
    with pytest.raises(CodecError, match="ROI gains are invalid"):
        codec.decode(bytes(body), cloud_scene.spec, coded.model)


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("roi-checkpoints")
    for arch in ARCHITECTURES:
        init_checkpoint(arch, 2, 3, root / f"{arch}-b2-q3", seed=3, N=16)
    return root


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_every_architecture_round_trips_roi_payloads(name: str, tiny_store: Path) -> None:
    spec = RasterSpec(2, 70, 40, "uint8", 8, 255.0)
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:70, 0:40]
    ramp = (np.sin(yy / 4.0) * np.cos(xx / 6.0) + 1.0) * 100.0
    raster = np.clip(ramp[None] + rng.normal(0, 8, (2, 70, 40)), 0, 255).astype(np.uint8)
    roi = np.zeros((70, 40), dtype=bool)
    roi[5:30, 3:20] = True
    codec = _codec(name, CheckpointStore([tiny_store]))
    for gain in (RoiGain(2, 0), RoiGain(1, 2)):
        coded = codec.encode(raster, spec, RateTarget(quality=3), roi_mask=roi, roi_gain=gain)
        decoded = codec.decode(coded.payload, spec, coded.model)
        assert np.array_equal(decoded, coded.reconstruction), (name, gain)
        assert codec.coded_roi(coded.payload, spec).levels == gain


def test_gmm_keeps_its_entropy_model_calibrated(cloud_scene: Any) -> None:
    """Same pixels as coding g_a(x) * G through a plain view, in fewer bytes."""
    from shared.codecs.base import from_unit, to_unit
    from shared.codecs.learned import coding
    from shared.codecs.learned.codec import BLOCK, _pad
    from shared.codecs.learned.rate_gain import coding_gains
    from shared.codecs.learned.roi_gain import gained_view

    codec = _codec("cheng2020-gmm", cloud_scene.store)
    target = RateTarget(quality=1)
    coded = codec.encode(
        cloud_scene.image, cloud_scene.spec, target, roi_mask=cloud_scene.roi, correct_bands=False
    )
    gain_map = codec.coded_roi(coded.payload, cloud_scene.spec)
    model, _ = cloud_scene.store.load(codec._select(cloud_scene.spec, target))
    x = torch.from_numpy(_pad(to_unit(cloud_scene.image, cloud_scene.spec), BLOCK))[None]
    view = gained_view(model, gain_map)
    rate = None  # a variable-rate model codes both ways at the payload's level
    if coded.payload[1] & 0x02:  # version 5's rate level flag; the code follows the flags
        rate = coding_gains(model.rate_gains, coded.payload[2])
    with coding.deterministic_coding():
        out = view.compress(x, rate=rate)
        strings, shape, bound = out["strings"], out["shape"], out["symbol_bound"]
        x_hat = view.decompress(strings, shape, bound, rate=rate)["x_hat"]
    h, w = cloud_scene.spec.height, cloud_scene.spec.width
    same = from_unit(x_hat[0, :, :h, :w].numpy(), cloud_scene.spec)
    assert np.array_equal(same, coded.reconstruction)
    view_bytes = sum(len(s[0]) for s in out["strings"])
    assert len(coded.payload) < 0.8 * view_bytes
