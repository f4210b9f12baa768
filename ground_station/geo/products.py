"""Write a processed transfer's georeferenced products beside its container.

``raster.tif`` and ``mask.tif`` (COGs in the scene's CRS and geotransform), ``detections.geojson``
(fire hotspots or cloud polygons in WGS84) and ``item.json`` (its STAC item, asset hrefs
relative to the folder). A container without georeference gets an item without geometry and
a note that says so; a grid of patches gets its detections placed patch by patch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ground_station.geo.cog import write_cog
from ground_station.geo.detections import cloud_polygons, feature_collection, fire_hotspots
from ground_station.geo.stac import build_item
from shared.codecs.patches import unstack_patches
from shared.durable import atomic_write
from shared.wire.georef import Georef

ITEM_NAME = "item.json"
DETECTIONS_NAME = "detections.geojson"
NO_GEOREF = (
    "not georeferenced: the container carries no georeference (a .npy upload, or a GeoTIFF "
    "without a CRS); the products are not placed on the map"
)


@dataclass
class GeoOutcome:
    """What :func:`write_products` wrote and found."""

    note: str
    footprint: dict[str, Any] | None = None
    detections: int | None = None
    files: list[str] = field(default_factory=list)


def georef_of_header(header: dict[str, Any]) -> Georef | None:
    """The georeference a decoded header (``ContainerHeader.to_dict``) carries."""
    geo = header.get("georef")
    return Georef.from_dict(geo) if geo else None


def _detections(
    task: str, mask: np.ndarray, raster: np.ndarray, georef: Georef
) -> list[dict[str, Any]] | None:
    if task == "fire":
        return fire_hotspots(mask, raster, georef, task)
    if task == "cloud":
        return cloud_polygons(mask, georef)
    return None


def _patch_detections(
    task: str, mask: np.ndarray, raster: np.ndarray, georef: Georef, shape: tuple[int, int]
) -> list[dict[str, Any]] | None:
    masks = unstack_patches(mask[np.newaxis], shape)
    rasters = unstack_patches(raster, shape)
    found: list[dict[str, Any]] = []
    for index, (one_mask, one_raster) in enumerate(zip(masks, rasters, strict=True)):
        features = _detections(task, one_mask[0], one_raster, georef.for_patch(index))
        if features is None:
            return None
        for feature in features:
            feature["properties"]["patch"] = index
        found.extend(features)
    return found


def write_products(
    folder: Path,
    record: Any,
    raster: np.ndarray,
    mask: np.ndarray | None,
    header: dict[str, Any],
) -> GeoOutcome:
    """Write the products of one processed transfer into ``folder``.

    Shape:
        raster: (C, H, W) in the container's dtype; mask: (H, W) 0/1, or None.
    """
    georef = georef_of_header(header)
    patch = header.get("patch_shape")
    outcome = GeoOutcome(note=NO_GEOREF)
    if georef is not None and patch is None:
        write_cog(folder / "raster.tif", raster, georef)
        outcome.files.append("raster.tif")
        if mask is not None:
            write_cog(folder / "mask.tif", mask.astype(np.uint8), georef, mask=True)
            outcome.files.append("mask.tif")
        outcome.note = f"georeferenced: {georef.crs}"
    elif georef is not None:
        outcome.note = f"a grid of {len(georef.patch_origins or ())} patches in {georef.crs}"
    features = None
    if georef is not None and mask is not None:
        if patch is None:
            features = _detections(record.task, mask, raster, georef)
        elif georef.patch_origins is not None:
            shape = (int(patch[0]), int(patch[1]))
            features = _patch_detections(record.task, mask, raster, georef, shape)
    if features is not None:
        document = feature_collection(features, transfer_id=record.transfer_id, task=record.task)
        atomic_write(folder / DETECTIONS_NAME, json.dumps(document).encode())
        outcome.files.append(DETECTIONS_NAME)
        outcome.detections = len(features)
    if record.has_quicklook:
        outcome.files.append("quicklook.png")
    record.georef_note = outcome.note
    placed = georef if patch is None else None
    item = build_item(record, placed, raster.shape, outcome.files, href_of=lambda name: f"./{name}")
    outcome.footprint = item.geometry
    atomic_write(folder / ITEM_NAME, json.dumps(item.to_dict(), indent=1).encode())
    return outcome
