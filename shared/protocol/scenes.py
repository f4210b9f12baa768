"""Bodies of the satellite's scene API (``/v1/scenes``), used by the service and its client.

An upload is multipart: the raster file (``.npy`` or GeoTIFF), an optional truth mask file
and the form fields of :class:`SceneRequest`. The answers are :class:`SceneAccepted` (202),
:class:`SceneView` and :class:`SceneList`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

#: Fields a scene upload sends beside its files (the form of ``POST /v1/scenes``).
RASTER_FIELD = "raster"
MASK_FIELD = "mask"
BAND_FILES_FIELD = "band_files"


class SceneRequest(BaseModel):
    """What to do with an uploaded scene: its task, codec and rate.

    Values are checked by the satellite (its refusal says what was wrong), not here.
    """

    task: str = Field(description="fire, cloud or building")
    codec: str = Field(default="auto", description="a codec name, or auto")
    bpp: float | None = Field(default=None, description="target bits per pixel")
    quality: int | None = Field(default=None, description="quality level 1..6")
    lossless: bool = False
    priority: str | None = Field(default=None, description="alert/high/normal/low, 0..9 or auto")
    patches: bool = Field(
        default=False,
        description="the .npy holds many small scenes (N, C, h, w) of one pass: one container",
    )
    bands: str | None = Field(
        default=None, description="GeoTIFF: bands to take by name, comma-separated (e.g. B12)"
    )
    scale: float | None = Field(default=None, description="GeoTIFF: counts per file unit")
    acquired: str | None = Field(default=None, description="acquisition time, ISO 8601")

    def form(self) -> dict[str, str]:
        """The multipart form fields (unset options are left out)."""
        fields = {"task": self.task, "codec": self.codec}
        if self.bpp is not None:
            fields["bpp"] = repr(self.bpp)
        if self.quality is not None:
            fields["quality"] = str(self.quality)
        if self.lossless:
            fields["lossless"] = "true"
        if self.priority is not None:
            fields["priority"] = self.priority
        if self.patches:
            fields["patches"] = "true"
        for name in ("bands", "scale", "acquired"):
            value = getattr(self, name)
            if value is not None:
                fields[name] = repr(value) if isinstance(value, float) else str(value)
        return fields


class SceneAccepted(BaseModel):
    """``POST /v1/scenes``: the scene is stored durably and waits for compression.

    ``priority`` is the one it was stored at; ``notes`` say what differs from the request
    (an alert from a token without that right is stored at ``high``).
    """

    scene_id: str
    state: str
    priority: str | None = None
    notes: list[str] = Field(default_factory=list)


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
    uploader: str | None = None
    queued_at: float | None = None
    patch_shape: tuple[int, int] | None = None  # (h, w): patches of one pass sent together
    georef: dict[str, Any] | None = None  # crs, transform, acquired: where the scene lies
    georef_note: str | None = None  # what intake found (or why there is no georeference)


class SceneList(BaseModel):
    """``GET /v1/scenes``: newest first."""

    scenes: list[SceneView]
    count: int
