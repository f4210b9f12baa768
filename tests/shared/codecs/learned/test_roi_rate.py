"""Equal-bytes ROI coding: the chosen (quality, gains) fits the budget and decodes bit-exactly."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from shared.codecs.base import RasterSpec, RateTarget
from shared.codecs.learned.codec import Cheng2020GMMCodec
from shared.codecs.learned.roi_gain import RoiGain
from shared.codecs.learned.roi_rate import bpp_budget_bytes, fit_roi_rate, roi_record_bytes
from shared.errors import ConfigurationError, InvalidRasterError, RateTargetError
from shared.metrics.distortion import psnr_db
from shared.wire.container import DIGEST_KEY, encode_metadata

GAINS = (RoiGain(2, 0),)


def test_fit_picks_the_best_roi_that_fits_and_it_decodes(cloud_scene: Any) -> None:
    codec = Cheng2020GMMCodec(cloud_scene.store)
    spec, image, roi = cloud_scene.spec, cloud_scene.image, cloud_scene.roi
    sizes = {
        q: len(codec.encode(image, spec, RateTarget(quality=q), roi_mask=roi).payload)
        for q in (1, 2)
    }
    assert sizes[1] < sizes[2]
    overhead = 60
    record = roi_record_bytes(codec.encode(image, spec, RateTarget(quality=1), roi_mask=roi).roi)
    budget = sizes[1] + record + overhead + (sizes[2] - sizes[1]) // 2  # q1 fits, q2 does not
    fit = fit_roi_rate(
        codec,
        image,
        spec,
        roi,
        max_bytes=budget,
        fixed_overhead_bytes=overhead,
        gains=GAINS,
        qualities=(1, 2),
    )
    assert fit.quality == 1 and fit.roi_gain == GAINS[0] and fit.tried == 2
    assert fit.total_bytes == sizes[1] + record + overhead <= budget
    decoded = codec.decode(fit.encoded.payload, spec, fit.encoded.model)
    assert np.array_equal(decoded, fit.encoded.reconstruction)
    assert fit.psnr_roi_db == psnr_db(image[:, roi], decoded[:, roi], spec.scale)
    assert fit.psnr_background_db == psnr_db(image[:, ~roi], decoded[:, ~roi], spec.scale)


def test_no_fit_says_how_small_it_got(cloud_scene: Any) -> None:
    codec = Cheng2020GMMCodec(cloud_scene.store)
    with pytest.raises(RateTargetError, match="smallest of 1 candidates"):
        fit_roi_rate(
            codec,
            cloud_scene.image,
            cloud_scene.spec,
            cloud_scene.roi,
            max_bytes=100,
            gains=GAINS,
            qualities=(1,),
        )


def test_bad_arguments_are_refused_before_encoding(cloud_scene: Any) -> None:
    codec = Cheng2020GMMCodec(cloud_scene.store)
    args = (codec, cloud_scene.image, cloud_scene.spec)
    with pytest.raises(InvalidRasterError, match="256x256"):
        fit_roi_rate(*args, np.ones((10, 10)), max_bytes=10_000)
    with pytest.raises(ConfigurationError, match="RoiGain"):
        fit_roi_rate(*args, cloud_scene.roi, max_bytes=10_000, gains=())


def test_record_bytes_are_what_the_container_metadata_adds() -> None:
    record = {"block": 16, "cells": "AAAA/w==", "method": "latent-gain", "gain": 4.0}
    base = {DIGEST_KEY: "0" * 64, "scene_id": "cloud-101"}
    grown = len(encode_metadata({**base, "roi": record})) - len(encode_metadata(base))
    assert roi_record_bytes(record) == grown
    assert roi_record_bytes(None) == 0
    assert bpp_budget_bytes(0.25, RasterSpec(1, 256, 256, "uint16", 14, 16383.0)) == 2048
