"""Onboard ROI detectors: physical thresholds find the targets on generated scenes."""

from __future__ import annotations

import numpy as np
import pytest

from satellite_node.detectors import detect_cloud, detect_fire, detect_roi
from shared.errors import InvalidRasterError, UnknownNameError
from workbench.datasets.generate import generate_scene


def _recall_precision(task: str, seeds: range) -> tuple[float, float]:
    tp = fp = fn = 0
    for seed in seeds:
        scene = generate_scene(task, seed)
        found, truth = detect_roi(task, scene.image), scene.mask.astype(bool)
        tp += int((found & truth).sum())
        fp += int((found & ~truth).sum())
        fn += int((~found & truth).sum())
    return tp / max(tp + fn, 1), tp / max(tp + fp, 1)


def test_fire_threshold_finds_nearly_every_fire_pixel() -> None:
    recall, precision = _recall_precision("fire", range(100, 120))
    assert recall >= 0.95
    assert precision >= 0.4  # false alarms only cost ROI bits


def test_cloud_threshold_finds_cold_cloud_tops() -> None:
    recall, precision = _recall_precision("cloud", range(100, 103))
    assert recall >= 0.85 and precision >= 0.95


def test_fire_threshold_is_a_brightness_temperature() -> None:
    background = np.full((1, 32, 32), 400, dtype=np.uint16)  # ~0.49 W m-2 sr-1 um-1: ~300 K
    background[0, 5, 7] = 16000  # ~19.5 W m-2 sr-1 um-1: far above 360 K
    mask = detect_fire(background)
    assert mask.sum() == 1 and mask[5, 7]
    assert not detect_fire(background, threshold_k=1000.0).any()


def test_cloud_detector_ignores_warm_land() -> None:
    warm = np.full((1, 256, 256), 9600, dtype=np.uint16)  # ~9.4 W m-2 sr-1 um-1 at 11.5 um: ~300 K
    assert not detect_cloud(warm).any()


def test_detectors_refuse_the_wrong_raster() -> None:
    with pytest.raises(InvalidRasterError):
        detect_fire(np.zeros((10, 32, 32), dtype=np.uint16))
    with pytest.raises(UnknownNameError):
        detect_roi("volcano", np.zeros((1, 32, 32), dtype=np.uint16))
