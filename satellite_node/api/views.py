"""Response bodies of the satellite's REST API (the scene bodies live in
:mod:`shared.protocol.scenes`, shared with the client)."""

from __future__ import annotations

from pydantic import BaseModel

from satellite_node.link.profile import LinkProfile
from satellite_node.priority import priority_name
from satellite_node.store import SceneRecord
from shared.protocol.scenes import SceneView


def scene_view(record: SceneRecord) -> SceneView:
    """The API's view of one stored scene."""
    return SceneView(
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
        uploader=record.uploader,
        queued_at=record.queued_at,
        patch_shape=record.patch_shape,
        georef=record.georef,
        georef_note=record.georef_note,
    )


class LinkView(BaseModel):
    """``GET``/``PUT /v1/link``: the profile and what the link is doing now."""

    profile: LinkProfile
    in_pass: bool
    elapsed_s: float
    next_up_s: float | None
    up_until_s: float | None
    utilisation: float
