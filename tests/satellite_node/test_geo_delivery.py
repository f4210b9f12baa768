"""Georeferenced end to end: a GeoTIFF uploaded as a user would comes out on the ground as COGs
in the input's CRS and geotransform, a STAC item that validates offline, and fire hotspots in
WGS84 that fall on fire pixels when transformed back. A project-made fixture covers it in CI;
the real Sentinel-2 wildfire scene of ../shared/data does when present. A .npy (no
georeference) still goes through and says so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sat_harness import ServerThread, ground_app, npy, raster_for, satellite_settings, wait_for

from satellite_node.app import create_app

rasterio = pytest.importorskip("rasterio", reason="rasterio is a dependency: make test installs it")

REAL_FIRE = (
    Path(__file__).resolve().parents[3] / "shared/data/fire/s2_swir_activefire_bc_G90292_20230514"
)
S2_TO_COUNTS = 16383 / 2.0 / 10000  # reflectance x 10000 onto the stand-in's 0..2.0 scale
UTM10 = "EPSG:32610"


@pytest.fixture(scope="module")
def ground_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ground")


@pytest.fixture(scope="module")
def link(
    ground_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, str]]:
    """A satellite node and a real ground on loopback."""
    ground = ServerThread(ground_app(ground_dir)).start()
    settings = satellite_settings(tmp_path_factory.mktemp("sat"), ground.url)
    with TestClient(create_app(settings)) as satellite:
        yield satellite, ground.url
    ground.stop()


def _fixture_tif(path: Path) -> np.ndarray:
    """A 3-band Sentinel-2-like GeoTIFF (B9, B11, B12 reflectance x 10000, float32) in UTM 10N
    with three hot clusters in B12; returns its B12."""
    from rasterio.transform import from_origin

    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:96, 0:96]
    b12 = 2000 + 300 * np.sin(xx / 9) + rng.normal(0, 40, (96, 96))
    for row, col in ((20, 30), (60, 70), (75, 15)):
        b12[row - 1 : row + 2, col - 1 : col + 2] = 15000
    cube = np.stack([b12 * 0.8, b12 * 0.9, b12]).astype(np.float32)
    profile = {
        "driver": "GTiff", "width": 96, "height": 96, "count": 3, "dtype": "float32",
        "crs": UTM10, "transform": from_origin(478880.0, 6439940.0, 20.0, 20.0),
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as out:
        out.write(cube)
        out.descriptions = ("20230514 60m: B9 945nm", "20m: B11 1610nm", "20m: B12 2190nm")
    return cube[2]


def _deliver(link: tuple[TestClient, str], files: dict[str, Any], **form: Any) -> dict[str, Any]:
    satellite, ground_url = link
    data = {"task": "fire", "codec": "jpeg2000", "bpp": "4", "priority": "alert", **form}
    answer = satellite.post("/v1/scenes", files=files, data=data)
    assert answer.status_code == 202, answer.text
    scene_id = answer.json()["scene_id"]
    scene = wait_for(lambda: _delivered(satellite, scene_id), 180, "delivery")
    return dict(wait_for(lambda: _processed(ground_url, scene["transfer_id"]), 180, "processing"))


def _delivered(satellite: TestClient, scene_id: str) -> dict[str, Any] | None:
    view = satellite.get(f"/v1/scenes/{scene_id}").json()
    assert view["state"] != "failed", view
    return view if view["state"] == "delivered" else None


def _processed(ground_url: str, transfer_id: str) -> dict[str, Any] | None:
    view = httpx.get(f"{ground_url}/v1/transfers/{transfer_id}").json()
    assert view["state"] != "failed", view
    return view if view["state"] == "processed" else None


def _get(ground_url: str, path: str, target: Path) -> Path:
    answer = httpx.get(ground_url + path)
    assert answer.status_code == 200, answer.text
    target.write_bytes(answer.content)
    return target


def _check_products(
    ground_url: str, view: dict[str, Any], source: Path, source_counts: np.ndarray, tmp: Path
) -> None:
    from rio_cogeo.cogeo import cog_validate

    from ground_station.geo.stac import validate_item

    raster = _get(ground_url, view["files"]["raster.tif"], tmp / "raster.tif")
    mask = _get(ground_url, view["files"]["mask.tif"], tmp / "mask.tif")
    for cog in (raster, mask):
        valid, errors, _warnings = cog_validate(str(cog))
        assert valid, errors
    with rasterio.open(source) as before, rasterio.open(raster) as after:
        assert after.crs == before.crs and after.transform == before.transform
        decoded = after.read(1).astype(np.float64)
    import tifffile  # a reader without GDAL sees the same pixels

    np.testing.assert_array_equal(np.squeeze(tifffile.imread(raster)), decoded)
    error = decoded - source_counts
    psnr = 10 * np.log10(16383.0**2 / np.mean(error**2))
    assert psnr == pytest.approx(view["psnr_db"], abs=0.05)  # the codec's error, no more
    item = httpx.get(ground_url + view["files"]["item.json"]).json()
    checked = validate_item(item)
    assert any("projection" in uri for uri in checked) and any("/eo/" in uri for uri in checked)
    assert item["properties"]["eodl:transfer_id"] == view["transfer_id"]
    assert item["properties"]["proj:code"] == UTM10
    spots = httpx.get(ground_url + view["files"]["detections.geojson"]).json()["features"]
    assert spots and len(spots) == view["detections"]
    _check_points_on_fire(spots, mask)
    print(f"\n{source.name}: {len(spots)} hotspots, each on a fire pixel of mask.tif")


def _check_points_on_fire(spots: list[dict[str, Any]], mask_path: Path) -> None:
    """Each WGS84 point, transformed back to the scene's CRS, lands on a fire pixel."""
    from rasterio.warp import transform

    with rasterio.open(mask_path) as mask:
        fire = mask.read(1)
        lons = [s["geometry"]["coordinates"][0] for s in spots]
        lats = [s["geometry"]["coordinates"][1] for s in spots]
        xs, ys = transform("EPSG:4326", mask.crs, lons, lats)
        for x, y, spot in zip(xs, ys, spots, strict=True):
            row, col = mask.index(x, y)
            assert fire[row, col] == 1, spot
            assert (row, col) == (spot["properties"]["peak_row"], spot["properties"]["peak_col"])


def test_a_geotiff_comes_out_as_cogs_stac_and_hotspots_in_place(
    link: tuple[TestClient, str], tmp_path: Path
) -> None:
    source = tmp_path / "s2_fire.tif"
    b12 = _fixture_tif(source)
    files = {"raster": ("s2_fire.tif", source.read_bytes(), "image/tiff")}
    view = _deliver(
        link, files, bands="B12", scale=str(S2_TO_COUNTS), acquired="2023-05-14T19:20:00Z"
    )
    assert view["georef_note"].startswith("georeferenced: EPSG:32610")
    counts = np.rint(b12.astype(np.float64) * S2_TO_COUNTS)
    _check_products(link[1], view, source, counts, tmp_path)
    lon, lat = view["footprint"]["coordinates"][0][0]
    assert -124 < lon < -123 and 58 < lat < 58.2  # north-east British Columbia


@pytest.mark.skipif(not REAL_FIRE.is_dir(), reason=f"the real sample data is absent ({REAL_FIRE})")
def test_the_real_sentinel2_wildfire_comes_out_in_place(
    link: tuple[TestClient, str], tmp_path: Path
) -> None:
    source = REAL_FIRE / "G90292_20230514_B9_B11_B12.tif"
    truth = np.load(REAL_FIRE / "fire_mask_derived.npy")
    files = {
        "raster": (source.name, source.read_bytes(), "image/tiff"),
        "mask": ("fire_mask_derived.npy", npy(truth), "application/octet-stream"),
    }
    view = _deliver(link, files, bands="B12", scale=str(S2_TO_COUNTS))
    with rasterio.open(source) as dataset:
        counts = np.rint(dataset.read(3).astype(np.float64) * S2_TO_COUNTS)
    _check_products(link[1], view, source, counts, tmp_path)
    print(
        f"\nreal wildfire: {view['detections']} hotspots, bpp {view['bpp']:.3f}, "
        f"PSNR {view['psnr_db']:.2f} dB, F1+ {view['f1_positive']:.3f}"
    )


def test_a_raster_without_georeference_goes_through_and_says_so(
    link: tuple[TestClient, str],
) -> None:
    raster = raster_for("fire", 3)
    view = _deliver(link, {"raster": ("patch.npy", npy(raster), "application/octet-stream")})
    assert view["georef_note"].startswith("not georeferenced")
    assert view["footprint"] is None and "raster.tif" not in view["files"]
    item = httpx.get(link[1] + view["files"]["item.json"]).json()
    assert (
        item["geometry"] is None and "not georeferenced" in item["properties"]["eodl:georef_note"]
    )
    from ground_station.geo.stac import validate_item

    validate_item(item)


def test_the_static_catalog_links_every_item_and_its_files(
    link: tuple[TestClient, str], ground_dir: Path, tmp_path: Path
) -> None:
    import pystac

    from ground_station.geo.stac import validate_item, write_catalog

    ids = [t["transfer_id"] for t in httpx.get(link[1] + "/v1/transfers").json()["items"]]
    assert ids, "the tests above deliver scenes first"
    catalog = pystac.Catalog.from_file(str(write_catalog(ground_dir / "transfers", ids, tmp_path)))
    items = list(catalog.get_items())
    assert sorted(item.id for item in items) == sorted(ids)
    for item in items:
        validate_item(item.to_dict(transform_hrefs=False))
        for asset in item.assets.values():
            assert Path(asset.get_absolute_href()).is_file(), asset.href
    served = httpx.get(link[1] + "/v1/stac/catalog.json").json()
    assert len([x for x in served["links"] if x["rel"] == "item"]) == len(ids)
