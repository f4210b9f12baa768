"""Response bodies of the query API (the protocol's own bodies live in shared.protocol)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ground_station.db import TransferRecord, iso
from shared.protocol.messages import TransferStatus


class TransferView(TransferStatus):
    """One transfer: the protocol status plus every recorded figure (null until known)."""

    task: str
    codec: str
    priority: int
    sha256: str
    bands: int | None = None
    height: int | None = None
    width: int | None = None
    dtype: str | None = None
    bit_depth: int | None = None
    model_id: int | None = None
    quality: int | None = None
    lossless: bool | None = None
    rate_target: str | None = None
    container_bytes: int | None = None
    payload_bytes: int | None = None
    sidecar_bytes: int | None = None
    bpp: float | None = None
    payload_bpp: float | None = None
    bits_per_sample: float | None = None
    psnr_db: float | None = None
    roi_fraction: float | None = None
    digest_verified: bool | None = None
    f1_positive: float | None = None
    f1_macro: float | None = None
    decode_ms: float | None = None
    segment_ms: float | None = None
    device: str | None = None
    segmentation_note: str | None = None
    link_seconds: float | None = None
    created_at: str | None = None
    first_chunk_at: str | None = None
    committed_at: str | None = None
    processed_at: str | None = None
    quicklook_url: str | None = None
    mask_url: str | None = None
    patch_shape: list[int] | None = None  # (h, w): the scene is a grid of patches sent together
    attempts: int = 0
    georef_note: str | None = None  # georeferenced (and its CRS), or why not
    footprint: dict[str, Any] | None = None  # WGS84 GeoJSON polygon of the scene
    detections: int | None = None  # fire hotspots or cloud regions found
    files: dict[str, str] = Field(default_factory=dict)  # product name -> its URL


class TransferPage(BaseModel):
    """``GET /v1/transfers``: one page of transfers and how many match in all."""

    items: list[TransferView]
    total: int
    limit: int
    offset: int


class SummaryRow(BaseModel):
    """Per task and codec: how many transfers, and the mean figures of the processed ones."""

    task: str
    codec: str
    count: int
    processed: int
    failed: int
    mean_bpp: float | None
    mean_psnr_db: float | None
    mean_f1_positive: float | None
    mean_f1_macro: float | None


class Summary(BaseModel):
    """``GET /v1/summary``."""

    groups: list[SummaryRow]


_FIGURES = (
    "bands",
    "height",
    "width",
    "dtype",
    "bit_depth",
    "model_id",
    "quality",
    "lossless",
    "rate_target",
    "container_bytes",
    "payload_bytes",
    "sidecar_bytes",
    "bpp",
    "payload_bpp",
    "bits_per_sample",
    "psnr_db",
    "roi_fraction",
    "digest_verified",
    "f1_positive",
    "f1_macro",
    "decode_ms",
    "segment_ms",
    "device",
    "segmentation_note",
    "link_seconds",
)


def _files(record: TransferRecord) -> dict[str, str]:
    from shared.protocol.routes import GEO_FILE, STAC_ITEM

    tid = record.transfer_id
    names = list(record.geo_files or [])
    files = {name: GEO_FILE.format(transfer_id=tid, name=name) for name in names}
    if record.state == "processed" and record.geo_files is not None:
        files["item.json"] = STAC_ITEM.format(transfer_id=tid)
    return files


def transfer_view(
    record: TransferRecord, chunk_count: int, received: int, missing: list[tuple[int, int]]
) -> TransferView:
    """Build the view of one record (with the chunk counts the store reported)."""
    from ground_station.transfers import receipt_of
    from shared.protocol.routes import MASK, QUICKLOOK

    tid = record.transfer_id
    return TransferView(
        transfer_id=tid,
        scene_id=record.scene_id,
        state=record.state,  # type: ignore[arg-type]
        total_bytes=record.total_bytes,
        chunk_bytes=record.chunk_bytes,
        chunk_count=chunk_count,
        received_chunks=received,
        missing=missing,
        reason=record.reason,
        receipt=receipt_of(record),
        task=record.task,
        codec=record.codec,
        priority=record.priority,
        sha256=record.sha256,
        created_at=iso(record.created_at),
        first_chunk_at=iso(record.first_chunk_at),
        committed_at=iso(record.committed_at),
        processed_at=iso(record.processed_at),
        quicklook_url=QUICKLOOK.format(transfer_id=tid) if record.has_quicklook else None,
        mask_url=MASK.format(transfer_id=tid) if record.has_mask else None,
        attempts=record.attempts or 0,
        patch_shape=(record.announced_header or {}).get("patch_shape"),
        georef_note=record.georef_note,
        footprint=record.footprint,
        detections=record.detections,
        files=_files(record),
        **{name: getattr(record, name) for name in _FIGURES},
    )
