"""Readers: .npy and GeoTIFF to (C, H, W); malformed files refused with a clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from shared.errors import DatasetError, InvalidRasterError
from shared.sensors.profiles import get_profile, validate_raster
from shared.sensors.readers import read_mask, read_raster, read_raster_info


def test_npy_round_trip_chw_and_hw(tmp_path: Path) -> None:
    cube = np.arange(2 * 4 * 5, dtype=np.uint16).reshape(2, 4, 5)
    np.save(tmp_path / "cube.npy", cube)
    np.save(tmp_path / "plane.npy", cube[0])
    np.testing.assert_array_equal(read_raster(tmp_path / "cube.npy"), cube)
    plane = read_raster(tmp_path / "plane.npy")
    assert plane.shape == (1, 4, 5)
    np.testing.assert_array_equal(plane[0], cube[0])


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        read_raster(tmp_path / "nope.npy")


def test_unknown_suffix(tmp_path: Path) -> None:
    (tmp_path / "scene.png").write_bytes(b"\x89PNG")
    with pytest.raises(DatasetError, match="use .npy or GeoTIFF"):
        read_raster(tmp_path / "scene.png")


def test_truncated_npy(tmp_path: Path) -> None:
    path = tmp_path / "cut.npy"
    np.save(path, np.zeros((10, 128, 128), np.uint16))
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DatasetError, match="truncated"):
        read_raster(path)


def test_garbage_npy(tmp_path: Path) -> None:
    path = tmp_path / "junk.npy"
    path.write_bytes(b"not a numpy file at all")
    with pytest.raises(DatasetError, match="not a readable .npy"):
        read_raster(path)


@pytest.mark.parametrize("dtype", [np.complex64, object, bool])
def test_non_raster_dtypes(tmp_path: Path, dtype: object) -> None:
    path = tmp_path / "odd.npy"
    np.save(path, np.zeros((4, 4), dtype=dtype), allow_pickle=True)
    with pytest.raises(InvalidRasterError, match="not a raster sample type"):
        read_raster(path)


def test_four_dims_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "stack.npy", np.zeros((2, 3, 4, 5), np.float32))
    with pytest.raises(InvalidRasterError, match="4 dims"):
        read_raster(tmp_path / "stack.npy")


def test_declared_size_checked_before_reading(tmp_path: Path) -> None:
    np.save(tmp_path / "big.npy", np.zeros((1, 64, 64), np.uint16))
    with pytest.raises(InvalidRasterError, match="8192 bytes"):
        read_raster(tmp_path / "big.npy", max_bytes=1000)


def test_nan_allowed_by_reader_flagged_by_validation(tmp_path: Path) -> None:
    raster = np.ones((1, 32, 32), np.float32)
    raster[0, 0, 0] = np.nan
    np.save(tmp_path / "nan.npy", raster)
    read = read_raster(tmp_path / "nan.npy")
    assert np.isnan(read[0, 0, 0])
    from dataclasses import replace

    with pytest.raises(InvalidRasterError, match="NaN"):
        validate_raster(read, replace(get_profile("fire"), dtype="float32"))


def test_wrong_band_count_file_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "three.npy", np.zeros((3, 128, 128), np.uint16))
    with pytest.raises(InvalidRasterError, match="3 bands"):
        validate_raster(read_raster(tmp_path / "three.npy"), get_profile("building"))


@pytest.mark.parametrize("planar", ["separate", "contig"])
def test_geotiff_band_order(tmp_path: Path, planar: str) -> None:
    cube = np.random.default_rng(0).integers(0, 10000, (10, 16, 12)).astype(np.uint16)
    path = tmp_path / "tile.tif"
    data = cube if planar == "separate" else np.moveaxis(cube, 0, -1)
    tifffile.imwrite(path, data, planarconfig=planar, photometric="minisblack")
    np.testing.assert_array_equal(read_raster(path), cube)


def test_geotiff_float_nodata_becomes_nan(tmp_path: Path) -> None:
    plane = np.full((8, 8), 290.0, np.float32)
    plane[2, 3] = -9999.0
    path = tmp_path / "bt.tif"
    tifffile.imwrite(path, plane, extratags=[(42113, "s", 0, "-9999", True)])
    info = read_raster_info(path)
    assert info.nodata == -9999.0
    assert np.isnan(info.data[0, 2, 3]) and np.isnan(info.data).sum() == 1


def test_geotiff_integer_nodata_reported_not_changed(tmp_path: Path) -> None:
    plane = np.arange(64, dtype=np.uint16).reshape(8, 8)
    path = tmp_path / "dn.tif"
    tifffile.imwrite(path, plane, extratags=[(42113, "s", 0, "0", True)])
    info = read_raster_info(path)
    assert info.nodata == 0.0
    np.testing.assert_array_equal(info.data[0], plane)


def test_corrupt_tiff(tmp_path: Path) -> None:
    path = tmp_path / "bad.tif"
    path.write_bytes(b"II*\x00garbage")
    with pytest.raises(DatasetError, match="not a readable TIFF"):
        read_raster(path)


def test_masks_binarised(tmp_path: Path) -> None:
    np.save(tmp_path / "bool.npy", np.eye(4, dtype=bool))
    tifffile.imwrite(tmp_path / "gt.tif", (np.eye(4) * 255).astype(np.uint8))
    for name in ("bool.npy", "gt.tif"):
        mask = read_mask(tmp_path / name)
        assert mask.dtype == np.uint8
        np.testing.assert_array_equal(mask, np.eye(4, dtype=np.uint8))


def test_non_binary_mask_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "labels.npy", np.arange(16, dtype=np.uint8).reshape(4, 4))
    with pytest.raises(InvalidRasterError, match="0/1"):
        read_mask(tmp_path / "labels.npy")
    np.save(tmp_path / "two.npy", np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(InvalidRasterError, match="one band"):
        read_mask(tmp_path / "two.npy")
