"""One scene's raw raster to a container: the encode the worker and the plan's re-encodes share.

The container's metadata carries only what the ground needs (every byte is downlinked and
counted in bpp: on a 32x32 fire patch 100 bytes are 0.8 bpp). The upload's file name stays
onboard; the codec choice is recorded only when ``auto`` made it; the ROI (when coded) is
recorded by :func:`shared.compression.compress_raster` under ``roi``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from satellite_node.priority import priority_name
from satellite_node.roi_choice import RoiMode, roi_for
from satellite_node.store import ContainerInfo, SceneRecord, SceneStore
from shared.codecs.base import RateTarget
from shared.compression import CompressedScene, compress_raster
from shared.errors import RateTargetError
from shared.protocol.messages import ONBOARD_KEY
from shared.sensors.profiles import get_profile, validate_raster
from shared.wire.georef import Georef

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawScene:
    """A scene's raw raster and optional truth mask, as the store keeps them.

    Shape:
        raster: (C, H, W) in the task profile's dtype; mask: (H, W) or (1, H, W) 0/1.
    """

    raster: np.ndarray
    mask: np.ndarray | None


def load_raw(store: SceneStore, record: SceneRecord) -> RawScene:
    """Read a scene's raw raster (validated against its task's profile) and truth mask.

    Raises:
        InvalidRasterError: the raster does not fit the task's profile.
        OSError: the raw files are gone.
    """
    raster = np.load(store.raster_path(record.scene_id), allow_pickle=False)
    validate_raster(raster, get_profile(record.task))
    mask = None
    if record.has_mask:
        mask = np.load(store.mask_path(record.scene_id), allow_pickle=False)
    return RawScene(raster, mask)


def rate_label(target: RateTarget) -> str:
    """The asked rate in words the ground shows: ``bpp=0.5``, ``quality=3`` or ``lossless``."""
    if target.lossless:
        return "lossless"
    if target.quality is not None:
        return f"quality={target.quality}"
    return f"bpp={target.bpp:g}"


def georef_of_record(record: SceneRecord) -> Georef | None:
    """The georeference intake stored with the scene, for the container."""
    return Georef.from_dict(record.georef) if record.georef else None


def encode_scene(
    record: SceneRecord,
    raw: RawScene,
    *,
    codec: str,
    target: RateTarget,
    roi_mode: RoiMode,
    checkpoints: Any = None,
    codec_reason: str | None = None,
) -> ContainerInfo:
    """Encode a scene at ``target`` with ``codec``, with an ROI when the policy gives one.

    An ROI whose record would not fit the rate (tiny scenes at low bpp) is dropped and the
    scene coded without it, rather than failing the scene.

    Raises:
        EODownlinkError: the encode failed (bad raster, unreachable rate, codec error).
    """
    profile = get_profile(record.task)
    onboard: dict[str, Any] = {
        "sensor": profile.sensor,
        "priority": priority_name(record.priority),
        "rate_target": rate_label(target),
    }
    if codec_reason is not None:
        onboard["codec_choice"] = codec_reason
    options: dict[str, Any] = {
        "codec": codec,
        "target": target,
        "scale": profile.global_max,
        "bit_depth": profile.bit_depth,
        "truth_mask": raw.mask,
        # the task's own models first: fire and cloud share a band count
        "checkpoints": None if checkpoints is None else checkpoints.for_task(record.task),
        "georef": georef_of_record(record),
    }
    if record.patch_shape is not None:  # one container, each patch coded alone; no ROI
        scene = compress_raster(raw.raster, patch_shape=record.patch_shape, **options)
        return container_info(scene, codec, onboard)
    roi = roi_for(roi_mode, record.task, raw.raster, codec, target)
    if roi is None:
        return container_info(compress_raster(raw.raster, **options), codec, onboard)
    try:
        scene = compress_raster(raw.raster, roi_mask=roi, **options)
        return container_info(scene, codec, onboard)
    except RateTargetError as exc:
        LOG.info("scene %s coded without its ROI: %s", record.scene_id, exc)
        return container_info(compress_raster(raw.raster, **options), codec, onboard)


def container_info(
    scene: CompressedScene, codec: str, onboard: dict[str, Any] | None = None
) -> ContainerInfo:
    """The store's record of a compressed scene.

    Its ``header`` (announced to the ground with the transfer) is the container's header plus,
    under ``onboard``, what the container does not carry: the onboard PSNR and the scene's
    sensor, priority, rate target and codec choice (scene id and task travel in the
    announcement's own fields).
    """
    psnr = scene.psnr_db if scene.psnr_db is not None and np.isfinite(scene.psnr_db) else None
    exact = scene.psnr_db is not None and not np.isfinite(scene.psnr_db)
    figures = {"psnr_db": psnr, "exact": exact}
    return ContainerInfo(
        container=scene.container,
        sha256=hashlib.sha256(scene.container).hexdigest(),
        codec_used=codec,
        bpp=scene.bpp,
        payload_bpp=scene.payload_bpp,
        bits_per_sample=scene.bits_per_sample,
        psnr_db=psnr,
        header={**scene.header.to_dict(), ONBOARD_KEY: {**(onboard or {}), **figures}},
    )
