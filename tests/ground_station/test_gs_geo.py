"""Patches of one pass in one container, with one georeference and each patch's origin: the
ground places every hotspot it finds patch by patch, in WGS84, on a fire pixel of its own
patch. The real Sentinel-2 wildfire's 32x32 patches when ../shared/data is there; generated
patches on the same grid otherwise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ground_station.geo.products import georef_of_header
from shared.codecs.base import RateTarget
from shared.compression import compress_patches
from shared.wire.georef import Georef

rasterio = pytest.importorskip("rasterio", reason="rasterio is a dependency: make test installs it")

PATCHES = (
    Path(__file__).resolve().parents[3]
    / "shared/data/fire/s2_swir_activefire_bc_G90292_20230514/fire_patches32_B12_derived.npz"
)
SCENE = (20.0, 0.0, 478880.0, 0.0, -20.0, 6439940.0)  # the wildfire scene's 20 m UTM 10N grid
TO_COUNTS = 16383 / 2.0  # B12 reflectance 0..2.0 onto the stand-in's 14 bits


def _patches() -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]], str]:
    if PATCHES.is_file():
        found = np.load(PATCHES)
        keep = [32, 33, 40, 41, 42, 43, 44, 56, 0, 1, 2, 3]  # 8 with fire, 4 without
        image = np.rint(found["image"][keep] * TO_COUNTS).clip(0, 16383).astype(np.uint16)
        origins = [tuple(int(v) for v in found["origin_rowcol"][i]) for i in keep]
        return image, found["mask"][keep], origins, "real"  # type: ignore[return-value]
    rng = np.random.default_rng(3)
    image = (2000 + rng.normal(0, 50, (6, 32, 32))).astype(np.uint16)
    masks = np.zeros((6, 32, 32), np.uint8)
    for index in range(3):
        image[index, 10:13, 10:13] = 15000
        masks[index, 10:13, 10:13] = 1
    return image, masks, [(32 * i, 64) for i in range(6)], "generated"


def test_each_hotspot_of_a_patch_container_lands_on_its_patch(
    make_link: Any, tmp_path: Path
) -> None:
    image, masks, origins, kind = _patches()
    georef = Georef("EPSG:32610", SCENE, "2023-05-14T19:20:00Z", tuple(origins))
    scene = compress_patches(
        image, truth_masks=masks, codec="jpeg2000", target=RateTarget(bpp=4.0),
        scale=16383.0, bit_depth=14, georef=georef,
    )  # fmt: skip
    assert scene.header.georef == georef
    link = make_link()
    link.upload("patches-geo", scene.container, task="fire")
    view = link.wait("patches-geo")
    assert view["state"] == "processed", view["reason"]
    assert view["georef_note"].startswith(f"a grid of {len(origins)} patches in EPSG:32610")
    folder = tmp_path / "transfers" / "patches-geo"
    spots = json.loads((folder / "detections.geojson").read_text())["features"]
    product = np.load(folder / "product.npz", allow_pickle=False)
    predicted = product["predicted"]
    side = image.shape[-1]
    columns = predicted.shape[1] // side
    from rasterio.warp import transform

    lons = [s["geometry"]["coordinates"][0] for s in spots]
    lats = [s["geometry"]["coordinates"][1] for s in spots]
    xs, ys = transform("EPSG:4326", "EPSG:32610", lons, lats) if spots else ([], [])
    for x, y, spot in zip(xs, ys, spots, strict=True):
        index = spot["properties"]["patch"]
        a, _b, c, _d, e, f = georef.for_patch(index).transform  # north-up
        row, col = int((y - f) // e), int((x - c) // a)  # within the patch
        grid_row, grid_col = divmod(index, columns)  # the patch's place in the container's grid
        assert predicted[grid_row * side + row, grid_col * side + col] == 1, spot
    print(f"\n{kind} patches: {len(spots)} hotspots placed in {len(origins)} patches")
    assert georef_of_header({"georef": georef.to_dict()}) == georef


def test_cloud_regions_become_wgs84_polygons_that_cover_their_pixels() -> None:
    from rasterio.warp import transform

    from ground_station.geo.detections import cloud_polygons

    mask = np.zeros((40, 40), np.uint8)
    mask[2:12, 3:20] = 1  # 170 pixels
    mask[25:35, 25:30] = 1  # 50 pixels
    mask[27:29, 27:28] = 0  # a hole of 2
    georef = Georef("EPSG:32617", (900.0, 0.0, 471585.0, 0.0, -900.0, 3787515.0))
    features = cloud_polygons(mask, georef)
    assert [f["properties"]["pixel_count"] for f in features] == [170, 48]
    first = features[0]["geometry"]
    assert first["type"] == "Polygon"
    lons, lats = zip(*first["coordinates"][0], strict=True)
    assert all(-90 < lon < -75 for lon in lons) and all(30 < lat < 35 for lat in lats)
    xs, ys = transform("EPSG:4326", georef.crs, list(lons), list(lats))
    cols = sorted({round((x - 471585.0) / 900.0) for x in xs})
    rows = sorted({round((3787515.0 - y) / 900.0) for y in ys})
    assert (cols[0], cols[-1], rows[0], rows[-1]) == (3, 20, 2, 12)  # the region's pixel edges
    assert len(features[1]["geometry"]["coordinates"]) == 2  # the outline and its hole
