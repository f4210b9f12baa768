"""The compression worker: a background thread that turns received scenes into containers.

It runs off the request path. Per scene: load the stored raster, validate it against its
task's profile, encode (:func:`satellite_node.encoding.encode_scene`: the profile's scale and bit
depth, an ROI when the policy gives one; the onboard PSNR and reconstruction digest go into the
container's metadata), write the container, then queue it for the downlink. The raw raster is
released then, unless the pass plan acts (``SAT_PLAN=apply``): it is kept for re-encoding at the
planned rate until delivery, within ``SAT_RAW_KEEP_BYTES``, and the scene waits ``held`` until
the plan releases it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from satellite_node.codec_choice import choose_codec
from satellite_node.encoding import encode_scene, load_raw
from satellite_node.intake import rate_from_dict
from satellite_node.roi_choice import RoiMode
from satellite_node.store import ContainerInfo, SceneRecord, SceneStore
from shared.errors import EODownlinkError

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueuePolicy:
    """What happens to a compressed scene.

    Attributes:
        hold: wait ``held`` for the pass plan to release it (``SAT_PLAN=apply``).
        raw_keep_bytes: keep its raw raster until delivery while all kept rasters stay within
            this many bytes (0: release it at compression).
    """

    hold: bool = False
    raw_keep_bytes: int = 0


class CompressionWorker:
    """Compress ``received`` scenes one at a time, most urgent first.

    Args:
        store: the onboard store.
        checkpoints: the learned-codec checkpoint store (or None: classical codecs only).
        on_queued: called after a scene is queued or held (wakes the sender or the planner).
        roi_mode: ``SAT_ROI`` (see :mod:`satellite_node.roi_choice`).
        policy: holding and raw-raster retention (default: queue at once, release the raw).
    """

    def __init__(
        self,
        store: SceneStore,
        *,
        checkpoints: Any = None,
        on_queued: Callable[[], None] | None = None,
        roi_mode: RoiMode = "auto",
        policy: QueuePolicy | None = None,
    ) -> None:
        self.store = store
        self.checkpoints = checkpoints
        self.on_queued = on_queued
        self.roi_mode: RoiMode = roi_mode
        self.policy = policy or QueuePolicy()
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
        keep = self.store.plan.kept_raw_bytes() + record.raw_bytes <= self.policy.raw_keep_bytes
        self.store.mark_queued(record.scene_id, keep_raw=keep, hold=self.policy.hold)
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
        raw = load_raw(self.store, record)
        target = rate_from_dict(record.rate)
        choice = choose_codec(record.codec, record.task, self.checkpoints, target)
        return encode_scene(
            record,
            raw,
            codec=choice.name,
            target=target,
            roi_mode=self.roi_mode,
            checkpoints=self.checkpoints,
            codec_reason=choice.reason if record.codec == "auto" else None,
        )
