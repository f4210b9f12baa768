"""Response bodies of the satellite's REST API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from satellite_node.link.profile import LinkProfile
from satellite_node.priority import priority_name
from satellite_node.store import SceneRecord


class SceneAccepted(BaseModel):
    """``POST /v1/scenes``: the scene is stored durably and waits for compression."""

    scene_id: str
    state: str


class SceneView(BaseModel):
    """One scene's state and figures."""

    scene_id: str
    state: str
    reason: str | None
    task: str
    codec: str
    codec_used: str | None
    rate: dict[str, Any]
    priority: str
    raster_name: str
    has_mask: bool
    raw_bytes: int
    container_bytes: int | None
    container_sha256: str | None
    bpp: float | None
    payload_bpp: float | None
    bits_per_sample: float | None
    psnr_db: float | None
    lossless: bool
    transfer_id: str | None
    receipt: dict[str, Any] | None
    attempts: int
    created_at: float
    updated_at: float
    delivered_at: float | None

    @classmethod
    def of(cls, record: SceneRecord) -> SceneView:
        return cls(
            scene_id=record.scene_id,
            state=record.state,
            reason=record.reason,
            task=record.task,
            codec=record.codec,
            codec_used=record.codec_used,
            rate=record.rate,
            priority=priority_name(record.priority),
            raster_name=record.raster_name,
            has_mask=record.has_mask,
            raw_bytes=record.raw_bytes,
            container_bytes=record.container_bytes,
            container_sha256=record.container_sha256,
            bpp=record.bpp,
            payload_bpp=record.payload_bpp,
            bits_per_sample=record.bits_per_sample,
            psnr_db=record.psnr_db,
            lossless=bool(record.rate.get("lossless")),
            transfer_id=record.transfer_id,
            receipt=record.receipt,
            attempts=record.attempts,
            created_at=record.created_at,
            updated_at=record.updated_at,
            delivered_at=record.delivered_at,
        )


class SceneList(BaseModel):
    """``GET /v1/scenes``: newest first."""

    scenes: list[SceneView]
    count: int


class LinkView(BaseModel):
    """``GET``/``PUT /v1/link``: the profile and what the link is doing now."""

    profile: LinkProfile
    in_pass: bool
    elapsed_s: float
    next_up_s: float | None
    up_until_s: float | None
    utilisation: float
