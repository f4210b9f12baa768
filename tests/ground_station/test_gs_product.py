"""A transfer's product: a bit-exact round trip of what processing held, and no pickles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ground_station.processing.product import load_product, product_of, save_product


def _result() -> dict[str, object]:
    return {
        "header": {"codec": "jpeg2000", "bands": 2, "height": 5, "width": 7},
        "metadata": {"scene_id": "s-1", "psnr_db": 41.5},
        "digest_matches": True,
    }


def test_a_product_round_trips_bit_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    raster = rng.integers(0, 65535, (2, 5, 7), dtype=np.uint16)
    predicted = rng.integers(0, 2, (5, 7)).astype(np.float32)  # a model's 0/1 output
    truth = rng.integers(0, 2, (1, 5, 7)).astype(bool)  # the sidecar's (1, H, W)
    size = save_product(product_of(raster, predicted, truth, _result()), tmp_path / "p.npz")
    back = load_product(tmp_path / "p.npz")
    assert size == (tmp_path / "p.npz").stat().st_size
    assert back.raster.dtype == np.uint16 and np.array_equal(back.raster, raster)
    assert back.predicted is not None and back.truth is not None
    assert back.predicted.dtype == np.uint8 and np.array_equal(back.predicted, predicted > 0)
    assert back.truth.shape == (5, 7) and np.array_equal(back.truth, truth[0])
    assert back.header == _result()["header"] and back.metadata == _result()["metadata"]
    assert back.digest_matches is True


def test_a_product_without_masks_keeps_them_absent(tmp_path: Path) -> None:
    raster = np.zeros((1, 4, 4), dtype=np.float32)
    save_product(product_of(raster, None, None, _result()), tmp_path / "p.npz")
    back = load_product(tmp_path / "p.npz")
    assert back.predicted is None and back.truth is None


def test_a_product_holding_pickled_objects_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.npz"
    np.savez(path, raster=np.array([{"not": "an array"}], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        load_product(path)
