"""STAC items of processed transfers (pystac), with the projection and EO extensions, and the
catalog that gathers them; validation against the STAC schemas, offline.

An item's id is the transfer id. Its properties carry the figures (``eodl:bpp``,
``eodl:psnr_db``, ``eodl:f1_positive``, ``eodl:codec``, ``eodl:transfer_id``...); its assets
are the decoded raster and the predicted mask as COGs, the quicklook and the detections. A
transfer without georeference still has an item: no geometry (STAC allows null), its
quicklook, and ``eodl:georef_note`` saying why.

Validation needs the STAC core schemas (pystac ships them) and the two extensions' schemas,
which this package ships (``stac-schemas/``: projection v2.0.0 and eo v1.1.0, from the
stac-extensions repositories at those tags), so nothing is fetched.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from shared.sensors.profiles import get_profile
from shared.wire.georef import Georef

SCHEMAS = Path(__file__).resolve().parent / "stac-schemas"
PROJECTION = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
EO = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
SHIPPED_SCHEMAS = {PROJECTION: "projection-v2.0.0.json", EO: "eo-v1.1.0.json"}
DENSIFY = 8  # points per edge of a footprint
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
ASSETS = {
    "raster.tif": ("data", COG_TYPE, "decoded raster"),
    "mask.tif": ("data", COG_TYPE, "predicted mask (1 = positive class)"),
    "quicklook.png": ("overview", "image/png", "quicklook"),
    "detections.geojson": ("data", "application/geo+json", "detections in WGS84"),
}


def footprint(georef: Georef, height: int, width: int) -> dict[str, Any]:
    """The raster's outline as a WGS84 GeoJSON polygon (its edges densified, so that a
    projection's curvature is followed)."""
    from rasterio.warp import transform_geom

    from ground_station.geo.cog import crs_of

    a, b, c, d, e, f = georef.transform
    corners = [(0, 0), (width, 0), (width, height), (0, height), (0, 0)]
    edge = np.linspace(0.0, 1.0, DENSIFY, endpoint=False)
    pixels = [
        (c0 + t * (c1 - c0), r0 + t * (r1 - r0))
        for (c0, r0), (c1, r1) in zip(corners, corners[1:], strict=False)
        for t in edge
    ] + [corners[0]]
    ring = [(a * col + b * row + c, d * col + e * row + f) for col, row in pixels]
    polygon = {"type": "Polygon", "coordinates": [ring]}
    return dict(transform_geom(crs_of(georef), "EPSG:4326", polygon))


def bbox_of(geometry: dict[str, Any]) -> list[float]:
    """[west, south, east, north] of a polygon."""
    xs = [p[0] for p in geometry["coordinates"][0]]
    ys = [p[1] for p in geometry["coordinates"][0]]
    return [min(xs), min(ys), max(xs), max(ys)]


def build_item(
    record: Any,
    georef: Georef | None,
    shape: tuple[int, int, int],
    assets: list[str],
    href_of: Any,
) -> Any:
    """The transfer's STAC item (pystac.Item).

    Args:
        record: the transfer's record (id, scene, task, codec, figures, times).
        georef: where the raster lies, or None.
        shape: (bands, height, width) of the decoded raster.
        assets: the asset file names written for it.
        href_of: file name -> the href to write (relative for static files, a URL for the API).
    """
    import pystac
    from pystac.extensions.eo import Band, EOExtension
    from pystac.extensions.projection import ProjectionExtension

    geometry = None if georef is None else footprint(georef, shape[1], shape[2])
    item = pystac.Item(
        id=record.transfer_id,
        geometry=geometry,
        bbox=None if geometry is None else bbox_of(geometry),
        datetime=_when(georef, record),
        properties=_properties(record, georef),
    )
    for name in assets:
        role, media, title = ASSETS[name]
        item.add_asset(
            name.split(".")[0],
            pystac.Asset(href_of(name), title=title, media_type=media, roles=[role]),
        )
    if georef is not None:
        projection = ProjectionExtension.ext(item, add_if_missing=True)
        projection.code = georef.crs if georef.epsg else None
        projection.wkt2 = None if georef.epsg else georef.crs
        projection.shape = [shape[1], shape[2]]
        projection.transform = list(georef.transform)
    if "raster" in item.assets:
        profile = get_profile(record.task)
        bands = [
            Band.create(name=name, center_wavelength=wavelength)
            for name, wavelength in zip(profile.band_names, profile.wavelengths_um, strict=True)
        ]
        EOExtension.ext(item.assets["raster"], add_if_missing=True).bands = bands
    return item


def _when(georef: Georef | None, record: Any) -> datetime:
    if georef is not None and georef.acquired:
        return datetime.fromisoformat(georef.acquired.replace("Z", "+00:00"))
    moment = record.committed_at or record.created_at or datetime.now(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _properties(record: Any, georef: Georef | None) -> dict[str, Any]:
    figures = {
        "eodl:transfer_id": record.transfer_id,
        "eodl:scene_id": record.scene_id,
        "eodl:task": record.task,
        "eodl:codec": record.codec,
        "eodl:bpp": record.bpp,
        "eodl:payload_bpp": record.payload_bpp,
        "eodl:psnr_db": record.psnr_db,
        "eodl:f1_positive": record.f1_positive,
        "eodl:f1_macro": record.f1_macro,
        "eodl:digest_verified": record.digest_verified,
        "eodl:device": record.device,
    }
    if georef is None:
        figures["eodl:georef_note"] = record.georef_note
    return {key: value for key, value in figures.items() if value is not None}


def validator() -> Any:
    """The JSON-schema validator of pystac with the shipped extension schemas (offline)."""
    from pystac.validation.stac_validator import JsonSchemaSTACValidator

    checker = JsonSchemaSTACValidator()
    for uri, name in SHIPPED_SCHEMAS.items():
        checker.schema_cache[uri] = json.loads((SCHEMAS / name).read_text())
    return checker


def validate_item(item_dict: dict[str, Any]) -> list[str]:
    """Validate an item document against the STAC core and its extensions' schemas; the
    schema URIs it was checked against.

    Raises:
        pystac.errors.STACValidationError: what is wrong.
    """
    import pystac.validation

    return list(pystac.validation.validate_dict(item_dict, validator=validator()))


CATALOG_NAME = "catalog.json"


def write_catalog(transfers_root: Path, transfer_ids: list[str], out: Path) -> Path:
    """A static STAC catalog at ``out/catalog.json`` linking each transfer's ``item.json`` (in
    ``transfers_root/<id>/``, beside its COGs) by a relative path; transfers without an item
    are left out. Returns the catalog's path.
    """
    import os

    out.mkdir(parents=True, exist_ok=True)
    links = [
        {"rel": "root", "href": f"./{CATALOG_NAME}", "type": "application/json"},
        {"rel": "self", "href": str((out / CATALOG_NAME).resolve()), "type": "application/json"},
    ]
    for transfer_id in transfer_ids:
        item = transfers_root / transfer_id / "item.json"
        if item.is_file():
            href = os.path.relpath(item.resolve(), out.resolve())
            links.append({"rel": "item", "href": href, "type": "application/geo+json"})
    catalog = {
        "type": "Catalog",
        "stac_version": "1.1.0",
        "id": "eodl-ground",
        "description": "Scenes received and processed by an EO Downlink ground station",
        "links": links,
    }
    path = out / CATALOG_NAME
    tmp = path.with_name(f".{CATALOG_NAME}.tmp")
    tmp.write_text(json.dumps(catalog, indent=1))
    tmp.replace(path)
    return path
