"""``/v1/scenes``: upload a scene (202) and follow it to delivery."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile

from satellite_node.api.deps import ContextDep
from satellite_node.api.views import scene_view
from satellite_node.intake import (
    build_upload,
    rate_target,
    read_geo_upload,
    read_upload,
    within_rights,
)
from satellite_node.priority import priority_name
from satellite_node.store.states import SCENE_STATES
from shared.errors import ConfigurationError, InvalidRasterError, NotFoundError
from shared.protocol.messages import is_valid_id
from shared.protocol.routes import SCENES
from shared.protocol.scenes import SceneAccepted, SceneList, SceneView
from shared.protocol.tokens import ApiToken
from shared.sensors.geotiff import GEO_SUFFIXES
from shared.sensors.profiles import get_profile, max_plane
from shared.sensors.readers import PlaneLimit

router = APIRouter(prefix=SCENES, tags=["scenes"])


@router.post("", status_code=202)
def upload_scene(
    request: Request,
    context: ContextDep,
    raster: Annotated[UploadFile, File(description="the raster: .npy or GeoTIFF")],
    task: Annotated[str, Form(description="fire, cloud or building")],
    mask: Annotated[UploadFile | None, File(description="optional truth mask")] = None,
    codec: Annotated[str, Form(description="a codec name, or auto")] = "auto",
    bpp: Annotated[float | None, Form(description="target bits per pixel")] = None,
    quality: Annotated[int | None, Form(description="quality level 1..6")] = None,
    lossless: Annotated[bool, Form()] = False,
    priority: Annotated[str | None, Form(description="alert/high/normal/low, 0..9 or auto")] = None,
    patches: Annotated[
        bool,
        Form(
            description="the .npy holds many small scenes (N, C, h, w) or (N, h, w) of one "
            "pass, to send together in one container (masks: (N, h, w))"
        ),
    ] = False,
    band_files: Annotated[
        list[UploadFile] | None,
        File(
            description="more GeoTIFF / JPEG 2000 files, one band each: with the raster, a "
            "band set (Sentinel-2, Landsat), matched to the profile's bands by file name and "
            "resampled onto the finest band's grid"
        ),
    ] = None,
    bands: Annotated[
        str | None,
        Form(
            description="GeoTIFF: the file's bands to take, comma-separated, in the profile's "
            "order (a word of each band's description or file name, e.g. B12); default: the "
            "profile's band names, or every band when the file has the profile's count"
        ),
    ] = None,
    scale: Annotated[
        float | None,
        Form(description="GeoTIFF: counts per file unit (after the file's own scale/offset)"),
    ] = None,
    acquired: Annotated[
        str | None, Form(description="acquisition time, ISO 8601 (default: the file's tags)")
    ] = None,
) -> SceneAccepted:
    """Validate and store a scene durably; compression and downlink follow in the background.

    Runs in the thread pool (a plain ``def``): reading and validating rasters blocks.
    """
    settings = context.settings
    rate = rate_target(bpp, quality, lossless, settings.default_bpp)
    limit = settings.max_upload_bytes
    largest = PlaneLimit(largest=max_plane(get_profile(task.strip())))  # before any decoding
    name = raster.filename or "raster.npy"
    extra = [f for f in band_files or [] if f.filename]
    geo = None
    if Path(name).suffix.lower() in GEO_SUFFIXES and not patches:
        files = [(raster.file, name)] + [(f.file, str(f.filename)) for f in extra]
        wanted = [b.strip() for b in bands.split(",") if b.strip()] if bands else None
        geo = read_geo_upload(
            files, get_profile(task.strip()), limit, plane=largest, bands=wanted, scale=scale,
            acquired=acquired,
        )  # fmt: skip
        data = geo.raster
    else:
        if extra or bands or scale is not None:
            raise InvalidRasterError(
                "band_files, bands and scale apply to GeoTIFF uploads; this raster is a "
                f"{Path(name).suffix or 'file without a suffix'}"
            )
        data = read_upload(raster.file, name, limit, mask=False, plane=largest, patches=patches)
    truth = None
    if mask is not None and mask.filename:
        own = PlaneLimit(exact=(int(data.shape[-2]), int(data.shape[-1])))
        truth = read_upload(mask.file, mask.filename, limit, mask=True, plane=own, patches=patches)
    upload = build_upload(
        task=task.strip(),
        codec=codec,
        rate=rate,
        priority=priority,
        raster_name=raster.filename or "raster",
        raster=data,
        mask=truth,
        patches=patches,
        geo=geo,
    )
    token: ApiToken | None = getattr(request.state, "token", None)
    upload, notes = within_rights(upload, token)
    share = None if token is None else int(token.store_share * settings.capacity_bytes)
    record = context.store.admit(upload.for_store(token), share_bytes=share)
    context.worker.wake.set()
    return SceneAccepted(
        scene_id=record.scene_id,
        state=record.state,
        priority=priority_name(record.priority),
        notes=notes,
    )


@router.get("")
def list_scenes(
    context: ContextDep,
    state: Annotated[str | None, Query(description="only scenes in this state")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> SceneList:
    """Scenes onboard, newest first."""
    if state is not None and state not in SCENE_STATES:
        raise ConfigurationError(f"unknown state {state!r}; states: {', '.join(SCENE_STATES)}")
    scenes = [scene_view(r) for r in context.store.list(state=state, limit=limit)]
    return SceneList(scenes=scenes, count=len(scenes))


@router.get("/{scene_id}")
def get_scene(context: ContextDep, scene_id: str) -> SceneView:
    """One scene's state (received ... delivered, or failed with the reason) and figures."""
    if not is_valid_id(scene_id):
        raise NotFoundError(f"no scene {scene_id!r}: scene ids are [A-Za-z0-9._-]")
    return scene_view(context.store.get(scene_id))
