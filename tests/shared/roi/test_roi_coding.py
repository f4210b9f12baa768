"""ROI JPEG 2000: at equal total bytes the detected regions come back at higher fidelity."""

from __future__ import annotations

import numpy as np
import pytest

from satellite_node.detectors import detect_roi
from shared.codecs.base import RateTarget
from shared.compression import compress_raster, decompress_container
from shared.errors import ConfigurationError, RateTargetError
from shared.metrics.distortion import psnr_db
from shared.roi.masks import block_mask_from_metadata
from shared.sensors.profiles import CLOUD
from workbench.datasets.generate import generate_scene

BPP = 1.0
SEEDS = range(100, 104)


def _psnr(truth: np.ndarray, recon: np.ndarray, where: np.ndarray) -> float:
    return psnr_db(truth[:, where], recon[:, where], CLOUD.global_max)


def _pair(seed: int) -> tuple[np.ndarray, np.ndarray, object, object]:
    image = generate_scene("cloud", seed).image
    roi = detect_roi("cloud", image)
    common = dict(
        codec="jpeg2000",
        target=RateTarget(bpp=BPP),
        scale=CLOUD.global_max,
        bit_depth=CLOUD.bit_depth,
        metadata={"task": "cloud"},
    )
    plain = compress_raster(image, **common)
    coded = compress_raster(image, roi_mask=roi, **common)
    return image, roi, plain, coded


def test_roi_gains_fidelity_inside_at_equal_total_bytes() -> None:
    gains, losses = [], []
    for seed in SEEDS:
        image, _, plain, coded = _pair(seed)
        decoded = decompress_container(coded.container)
        np.testing.assert_array_equal(decoded.raster, coded.reconstruction)
        record = decoded.container.metadata["roi"]
        inside = block_mask_from_metadata(record, *image.shape[1:]).pixels()
        if inside.all() or not inside.any():
            continue  # overcast or clear: ROI coding is plain coding
        # equal total bytes: the same target, both within the rate search's tolerance
        assert abs(len(coded.container) - len(plain.container)) <= 0.1 * len(plain.container)
        gains.append(
            _psnr(image, decoded.raster, inside) - _psnr(image, plain.reconstruction, inside)
        )
        losses.append(
            _psnr(image, plain.reconstruction, ~inside) - _psnr(image, decoded.raster, ~inside)
        )
    assert len(gains) >= 2
    assert np.mean(gains) >= 1.0, gains
    assert min(gains) >= -0.5, gains  # never markedly worse inside
    assert np.mean(losses) > 0  # the bytes came from the background


def test_container_records_the_roi_for_the_ground() -> None:
    image = generate_scene("fire", 101).image
    roi = detect_roi("fire", image)
    scene = compress_raster(
        image, codec="jpeg2000", target=RateTarget(bpp=2.0), bit_depth=14, roi_mask=roi
    )
    record = decompress_container(scene.container).container.metadata["roi"]
    shown = block_mask_from_metadata(record, 32, 32).pixels()
    assert shown[roi].all()  # every detected pixel is inside the recorded ROI
    assert record["method"] == "lowpass" and record["sigma_px"] > 0


def test_roi_coding_is_refused_where_it_cannot_apply() -> None:
    image = generate_scene("fire", 101).image
    roi = detect_roi("fire", image)
    with pytest.raises(RateTargetError):
        compress_raster(image, codec="jpeg2000", target=RateTarget(lossless=True), roi_mask=roi)
    with pytest.raises(ConfigurationError):  # the ROI record is the codec's to write
        compress_raster(
            image, codec="jpeg2000", target=RateTarget(bpp=2.0), roi_mask=roi, metadata={"roi": 1}
        )


def test_learned_roi_container_records_the_coded_roi_and_round_trips() -> None:
    image = generate_scene("fire", 101).image
    roi = detect_roi("fire", image)
    scene = compress_raster(
        image, codec="cheng2020-gmm", target=RateTarget(quality=2), roi_mask=roi
    )
    decoded = decompress_container(scene.container)
    assert decoded.digest_matches and np.array_equal(decoded.raster, scene.reconstruction)
    record = decoded.container.metadata["roi"]
    assert record["method"] == "latent-gain" and record["gain"] > 1
    assert block_mask_from_metadata(record, 32, 32).pixels()[roi].all()
