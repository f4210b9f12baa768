"""The compression worker: a background thread that turns received scenes into containers.

It runs off the request path. Per scene: load the stored raster, validate it against its
task's profile, encode (``compress_raster`` with the profile's scale and bit depth; the onboard
PSNR and reconstruction digest go into the container's metadata), write the container, then
release the raster and queue the container for the downlink.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from satellite_node.codec_choice import choose_codec
from satellite_node.intake import rate_from_dict
from satellite_node.priority import priority_name
from satellite_node.store import ContainerInfo, SceneRecord, SceneStore
from shared.codecs.base import RateTarget
from shared.compression import compress_raster
from shared.data.profiles import get_profile, validate_raster
from shared.errors import EODownlinkError

LOG = logging.getLogger(__name__)


class CompressionWorker:
    """Compress ``received`` scenes one at a time, most urgent first.

    Args:
        store: the onboard store.
        checkpoints: the learned-codec checkpoint store (or None: classical codecs only).
        on_queued: called after a scene is queued (wakes the downlink sender).
    """

    def __init__(
        self,
        store: SceneStore,
        *,
        checkpoints: Any = None,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.checkpoints = checkpoints
        self.on_queued = on_queued
        self.wake = threading.Event()
        self.compressed = 0
        self.failed = 0

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set."""
        while not stop.is_set():
            record = self.store.next_to_compress()
            if record is None:
                self.wake.wait(0.5)
                self.wake.clear()
                continue
            try:
                self.process(record)
            except Exception:  # e.g. the disk filled while writing: retry, never die
                LOG.exception("storing the compressed scene %s failed; retrying", record.scene_id)
                stop.wait(1.0)

    def process(self, record: SceneRecord) -> None:
        """Compress one scene; a failure marks it ``failed`` with the reason, never crashes."""
        try:
            info = self._compress(record)
        except EODownlinkError as exc:
            self._fail(record, f"compression failed: {exc}")
            return
        except Exception as exc:  # an unexpected bug must cost one scene, not the worker
            LOG.exception("compressing scene %s crashed", record.scene_id)
            self._fail(record, f"internal error while compressing ({type(exc).__name__}: {exc})")
            return
        self.store.mark_compressed(record.scene_id, info)
        self.store.mark_queued(record.scene_id)
        self.compressed += 1
        LOG.info(
            "scene %s compressed with %s: %.3f bpp, %d bytes",
            record.scene_id,
            info.codec_used,
            info.bpp,
            len(info.container),
        )
        if self.on_queued is not None:
            self.on_queued()

    def _fail(self, record: SceneRecord, reason: str) -> None:
        self.failed += 1
        LOG.warning("scene %s failed: %s", record.scene_id, reason)
        self.store.mark_failed(record.scene_id, reason)

    def _compress(self, record: SceneRecord) -> ContainerInfo:
        profile = get_profile(record.task)
        raster = np.load(self.store.raster_path(record.scene_id), allow_pickle=False)
        validate_raster(raster, profile)
        mask = None
        if record.has_mask:
            mask = np.load(self.store.mask_path(record.scene_id), allow_pickle=False)
        target = rate_from_dict(record.rate)
        choice = choose_codec(record.codec, record.task, self.checkpoints, target)
        # Every metadata byte is downlinked and counted in bpp (on a 32x32 fire patch 100
        # bytes are 0.8 bpp): only what the ground needs goes in. The upload's file name stays
        # onboard; the codec choice is recorded only when `auto` made it.
        metadata = {
            "scene_id": record.scene_id,
            "task": record.task,
            "sensor": profile.sensor,
            "priority": priority_name(record.priority),
            "rate_target": _rate_label(target),
        }
        if record.codec == "auto":
            metadata["codec_choice"] = choice.reason
        scene = compress_raster(
            raster,
            codec=choice.name,
            target=target,
            scale=profile.global_max,
            bit_depth=profile.bit_depth,
            metadata=metadata,
            truth_mask=mask,
            checkpoints=self.checkpoints,
        )
        psnr = scene.psnr_db if scene.psnr_db is not None and np.isfinite(scene.psnr_db) else None
        return ContainerInfo(
            container=scene.container,
            sha256=hashlib.sha256(scene.container).hexdigest(),
            codec_used=choice.name,
            bpp=scene.bpp,
            payload_bpp=scene.payload_bpp,
            bits_per_sample=scene.bits_per_sample,
            psnr_db=psnr,
            header=scene.header.to_dict(),
        )


def _rate_label(target: RateTarget) -> str:
    """The asked rate in words the ground shows: ``bpp=0.5``, ``quality=3`` or ``lossless``."""
    if target.lossless:
        return "lossless"
    if target.quality is not None:
        return f"quality={target.quality}"
    return f"bpp={target.bpp:g}"
