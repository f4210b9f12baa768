"""GeoTIFF intake through rasterio: bands matched by name (descriptions or file names), a band
set resampled onto its finest grid, scale/offset applied, nodata found and filled, the
georeference kept, limits checked before decoding, and clear refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shared.errors import InvalidRasterError
from shared.sensors.geotiff import read_band_files, read_geotiff, to_profile
from shared.sensors.readers import PlaneLimit

rasterio = pytest.importorskip("rasterio", reason="rasterio is a dependency: make test installs it")
from rasterio.transform import from_origin  # noqa: E402

ORIGIN = (500000.0, 5100000.0)


def _write(path: Path, bands: np.ndarray, pixel: float = 10.0, **extra: Any) -> Path:
    descriptions = extra.pop("descriptions", None)
    profile = {
        "driver": "GTiff", "width": bands.shape[2], "height": bands.shape[1],
        "count": bands.shape[0], "dtype": bands.dtype.name, "crs": "EPSG:32633",
        "transform": from_origin(*ORIGIN, pixel, pixel), **extra,
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as out:
        out.write(bands)
        if descriptions:
            out.descriptions = descriptions
    return path


def test_bands_are_taken_by_name_in_the_order_asked(tmp_path: Path) -> None:
    cube = np.stack([np.full((8, 8), v, np.uint16) for v in (100, 200, 300)])
    path = _write(tmp_path / "s2.tif", cube, descriptions=("B9 945nm", "B11 1610nm", "B12 2190nm"))
    geo = read_geotiff(path, bands=["B12", "B9"])
    assert geo.data[:, 0, 0].tolist() == [300, 100]
    assert geo.georef is not None and geo.georef.crs == "EPSG:32633"
    assert geo.georef.transform == (10.0, 0.0, ORIGIN[0], 0.0, -10.0, ORIGIN[1])


def test_a_missing_band_is_refused_with_what_the_file_has(tmp_path: Path) -> None:
    path = _write(tmp_path / "s2.tif", np.zeros((2, 8, 8), np.uint16), descriptions=("B02", "B03"))
    with pytest.raises(InvalidRasterError, match=r"'B04' matches none .*B02; B03.*bands=B12"):
        read_geotiff(path, bands=["B02", "B04"])


def test_a_band_set_is_resampled_onto_its_finest_grid(tmp_path: Path) -> None:
    yy, xx = np.mgrid[0:16, 0:16]
    fine = _write(tmp_path / "T33_B04.tif", (1000 + 10 * xx)[None].astype(np.uint16), 10.0)
    coarse_values = (1000 + 20 * np.mgrid[0:8, 0:8][1] + 5)[None].astype(np.uint16)
    coarse = _write(tmp_path / "T33_B11.tif", coarse_values, 20.0)
    geo = read_band_files([coarse, fine], bands=["B04", "B11"])
    assert geo.data.shape == (2, 16, 16) and geo.band_names == ("B04", "B11")
    assert geo.georef is not None and geo.georef.transform[0] == 10.0
    np.testing.assert_array_equal(geo.data[0], 1000 + 10 * xx)
    inner = geo.data[1][2:-2, 2:-2]  # bilinear on the 20 m ramp follows the 10 m one
    np.testing.assert_allclose(inner, (1000 + 10 * xx)[2:-2, 2:-2], atol=1.0)


def test_a_band_set_missing_a_band_names_the_files(tmp_path: Path) -> None:
    one = _write(tmp_path / "T33_B04.tif", np.zeros((1, 8, 8), np.uint16))
    with pytest.raises(InvalidRasterError, match="'B08' matches none of the files uploaded"):
        read_band_files([one], bands=["B04", "B08"])


def test_scale_offset_and_nodata_are_honoured(tmp_path: Path) -> None:
    raw = np.full((1, 8, 8), 400, np.uint16)
    raw[0, :2, :2] = 0  # fill
    path = _write(tmp_path / "l8.tif", raw, nodata=0)
    with rasterio.open(path, "r+") as dataset:
        dataset.scales, dataset.offsets = (0.5,), (10.0,)
    geo = read_geotiff(path)
    assert geo.nodata is not None and int(geo.nodata.sum()) == 4
    assert geo.data[0, 5, 5] == pytest.approx(210.0)
    counts, filled = to_profile(geo, "uint16", 16383, scale=10.0)
    assert filled == 4 and counts.dtype == np.uint16
    assert counts[0, 0, 0] == counts[0, 5, 5] == 2100  # filled with the band's median


def test_fractional_values_need_a_scale_and_must_fit_the_counts(tmp_path: Path) -> None:
    path = _write(tmp_path / "refl.tif", np.full((1, 8, 8), 0.25, np.float32))
    geo = read_geotiff(path)
    with pytest.raises(InvalidRasterError, match="give scale="):
        to_profile(geo, "uint16", 16383)
    with pytest.raises(InvalidRasterError, match="outside the profile's 0..16383"):
        to_profile(geo, "uint16", 16383, scale=1e6)
    assert to_profile(geo, "uint16", 16383, scale=10000.0)[0].max() == 2500


def test_a_raster_without_crs_reads_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "plain.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=8, height=8, count=1, dtype="uint16"
    ) as out:
        out.write(np.ones((1, 8, 8), np.uint16))
    geo = read_geotiff(path)
    assert geo.georef is None and "no coordinate reference system" in geo.georef_note


def test_the_declared_size_is_refused_before_decoding(tmp_path: Path) -> None:
    path = _write(tmp_path / "big.tif", np.zeros((1, 64, 64), np.uint16), compress="deflate")
    with pytest.raises(InvalidRasterError, match="above the largest accepted 32x32"):
        read_geotiff(path, plane=PlaneLimit(largest=(32, 32)))
    with pytest.raises(InvalidRasterError, match="byte limit"):
        read_geotiff(path, max_bytes=1000)


def test_a_band_set_takes_jpeg2000_band_files_as_products_ship_them(tmp_path: Path) -> None:
    values = (1000 + np.arange(64, dtype=np.uint16).reshape(8, 8))[None]
    jp2 = _write(
        tmp_path / "T33_B08.jp2", values, driver="JP2OpenJPEG", REVERSIBLE="YES", QUALITY=100
    )
    tif = _write(tmp_path / "T33_B04.tif", values + 5)
    geo = read_band_files([jp2, tif], bands=["B04", "B08"])
    np.testing.assert_array_equal(geo.data[1], values[0])  # reversible: exact
    assert geo.georef is not None and geo.georef.crs == "EPSG:32633"
