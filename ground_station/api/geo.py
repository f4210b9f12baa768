"""Georeferenced products over HTTP: each transfer's COGs, detections and STAC item; the STAC
catalog of every processed transfer; the detections of all of them, alerts first."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy import select

from ground_station.api.deps import ContextDep, ReadAccess
from ground_station.api.transfers import TransferId
from ground_station.db import TransferRecord
from ground_station.geo.products import DETECTIONS_NAME, ITEM_NAME
from ground_station.geo.stac import ASSETS
from ground_station.transfers import get_record
from shared.errors import NotFoundError
from shared.protocol.routes import DETECTIONS, GEO_FILE, STAC_CATALOG, STAC_ITEM

router = APIRouter(tags=["geo"], dependencies=[ReadAccess])
MEDIA = {name: media for name, (_role, media, _title) in ASSETS.items()}
MEDIA[ITEM_NAME] = "application/geo+json"
STAC_VERSION = "1.1.0"
MAX_ITEMS = 10000


def _file(context: Any, transfer_id: str, name: str) -> Any:
    if name not in MEDIA:
        raise NotFoundError(f"no file {name!r}; a transfer has {', '.join(sorted(MEDIA))}")
    with context.sessions() as session:
        record = get_record(session, transfer_id)
        state, note = record.state, record.georef_note
    path = context.store.artefact(transfer_id, name)
    if not path.is_file():
        why = f" ({note})" if note else ""
        raise NotFoundError(f"transfer {transfer_id!r} (state {state}) has no {name}{why}")
    return path


@router.get(GEO_FILE, response_class=FileResponse)
def get_file(transfer_id: TransferId, name: str, context: ContextDep) -> FileResponse:
    """One of the transfer's products: ``raster.tif`` and ``mask.tif`` (COGs), ``quicklook.png``,
    ``detections.geojson`` (WGS84), ``item.json`` (its STAC item, hrefs relative)."""
    return FileResponse(_file(context, transfer_id, name), media_type=MEDIA[name])


@router.get(STAC_ITEM)
def get_item(transfer_id: TransferId, context: ContextDep, request: Request) -> JSONResponse:
    """The transfer's STAC item, its asset hrefs pointing at this API."""
    item = json.loads(_file(context, transfer_id, ITEM_NAME).read_text())
    base = str(request.base_url).rstrip("/")
    for asset in item.get("assets", {}).values():
        name = asset["href"].removeprefix("./")
        asset["href"] = base + GEO_FILE.format(transfer_id=transfer_id, name=name)
    item["links"] = [
        {"rel": "self", "href": base + STAC_ITEM.format(transfer_id=transfer_id)},
        {"rel": "root", "href": base + STAC_CATALOG, "type": "application/json"},
        {"rel": "parent", "href": base + STAC_CATALOG, "type": "application/json"},
    ]
    return JSONResponse(item, media_type="application/geo+json")


@router.get(STAC_CATALOG)
def get_catalog(context: ContextDep, request: Request) -> JSONResponse:
    """A STAC catalog linking the item of every processed transfer (newest first)."""
    with context.sessions() as session:
        ids = session.scalars(
            select(TransferRecord.transfer_id)
            .where(TransferRecord.state == "processed")
            .order_by(TransferRecord.processed_at.desc())
            .limit(MAX_ITEMS)
        ).all()
    base = str(request.base_url).rstrip("/")
    links = [
        {"rel": "self", "href": base + STAC_CATALOG, "type": "application/json"},
        {"rel": "root", "href": base + STAC_CATALOG, "type": "application/json"},
    ]
    links += [
        {
            "rel": "item",
            "href": base + STAC_ITEM.format(transfer_id=tid),
            "type": "application/geo+json",
        }
        for tid in ids
    ]
    catalog = {
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": "eodl-ground",
        "description": "Scenes received and processed by this EO Downlink ground station",
        "links": links,
    }
    return JSONResponse(catalog)


@router.get(DETECTIONS)
def get_detections(
    context: ContextDep,
    task: Annotated[str | None, Query(description="fire or cloud")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    """The detections of the latest processed transfers as one GeoJSON FeatureCollection in
    WGS84, alerts (highest priority) first, then the newest."""
    query = select(TransferRecord.transfer_id, TransferRecord.priority).where(
        TransferRecord.state == "processed", TransferRecord.detections.is_not(None)
    )
    if task:
        query = query.where(TransferRecord.task == task)
    query = query.order_by(TransferRecord.priority.desc(), TransferRecord.processed_at.desc())
    with context.sessions() as session:
        rows = session.execute(query.limit(limit)).all()
    features = []
    for transfer_id, priority in rows:
        path = context.store.artefact(transfer_id, DETECTIONS_NAME)
        if not path.is_file():
            continue
        for feature in json.loads(path.read_text())["features"]:
            feature["properties"].update(transfer_id=transfer_id, priority=priority)
            features.append(feature)
    return JSONResponse(
        {"type": "FeatureCollection", "features": features}, media_type="application/geo+json"
    )
