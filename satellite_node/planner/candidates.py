"""Each waiting scene's ways to fly: its stored container, and real re-encodes at lower rates.

A candidate's ``bytes`` are the bytes the link will carry: the container plus the protocol's
requests (create, one per chunk, commit), as the sender charges them to the link. Re-encodes
are real (the container that would be sent, so its size is measured, not estimated) and made
only where they can pay off: the raw raster is still onboard, the codec takes bpp targets
(JPEG 2000, and cheng2020-gmm, whose variable-rate checkpoint codes any rate), and the task
has an F1-vs-bpp curve for the codec. The ladder's rungs are fractions of the bpp the upload
asked, or of the stored container's bpp when it asked a quality. The plan may lower a scene's
rate below what the upload asked, never raise it above.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from typing import Any

from satellite_node.encoding import encode_scene, load_raw
from satellite_node.intake import rate_from_dict
from satellite_node.planner.allocator import Candidate
from satellite_node.planner.curves import CurveBook
from satellite_node.roi_choice import RoiMode
from satellite_node.store import ContainerInfo, SceneRecord, SceneStore
from shared.codecs.base import RateTarget
from shared.errors import EODownlinkError, UnknownNameError
from shared.protocol.chunks import REQUEST_OVERHEAD_BYTES

LOG = logging.getLogger(__name__)
#: Fractions of the asked bpp the plan may choose (1.0: the asked rate itself).
RATE_LADDER: tuple[float, ...] = (1.0, 0.5, 0.25, 0.125)
LADDER_CODECS = ("jpeg2000", "cheng2020-gmm")
CREATE_BODY_BYTES = 400  # the create request's JSON besides the container header
COMMIT_BODY_BYTES = 80


def link_bytes(container_bytes: int, header: dict[str, Any] | None, chunk_bytes: int) -> int:
    """Bytes the sender charges the link to deliver a container (requests included)."""
    chunks = max(1, math.ceil(container_bytes / max(chunk_bytes, 1)))
    create = CREATE_BODY_BYTES + len(json.dumps(header or {}))
    return container_bytes + REQUEST_OVERHEAD_BYTES * (chunks + 2) + create + COMMIT_BODY_BYTES


@dataclass(frozen=True)
class Option:
    """A candidate and what choosing it takes.

    Attributes:
        candidate: what the allocator sees (``bytes`` = link bytes).
        container_bytes: the container's own size.
        info: the re-encoded container, or None for the stored one.
        target_bpp: the bpp the re-encode aimed at (None for the stored container).
    """

    candidate: Candidate
    container_bytes: int
    info: ContainerInfo | None = None
    target_bpp: float | None = None


class CandidateLadder:
    """Options per waiting scene; re-encodes are made once per scene and cached.

    Args:
        store: the onboard store (raw rasters of scenes with ``raw_kept``).
        curves: the F1-vs-bpp curves (expected F1+ of each option).
        roi_mode: ``SAT_ROI``, applied to re-encodes as to the first encode.
        checkpoints: the learned-codec checkpoint store.
    """

    def __init__(
        self, store: SceneStore, curves: CurveBook, roi_mode: RoiMode, checkpoints: Any = None
    ) -> None:
        self.store = store
        self.curves = curves
        self.roi_mode: RoiMode = roi_mode
        self.checkpoints = checkpoints
        self._ladders: dict[str, list[Option]] = {}
        self.stored_target: dict[str, float] = {}  # the bpp a re-encode aimed at, per scene

    def _f1(self, task: str, codec: str, bpp: float) -> float:
        try:
            return self.curves.f1_at(task, codec, bpp)
        except UnknownNameError:
            return 0.0  # no curve: it still goes, on rank and size alone

    def stored(self, record: SceneRecord, chunk_bytes: int) -> Option:
        """The option of the container already in the store."""
        size = int(record.container_bytes or 0)
        codec, bpp = str(record.codec_used or record.codec), float(record.bpp or 0.0)
        wire = link_bytes(size, record.header, chunk_bytes)
        return Option(Candidate(codec, bpp, wire, self._f1(record.task, codec, bpp)), size)

    def has_ladder(self, scene_id: str) -> bool:
        """True when the scene's re-encodes are made (options then cost no encoding)."""
        return scene_id in self._ladders

    def options(
        self, record: SceneRecord, chunk_bytes: int, *, encode: bool = True
    ) -> list[Option]:
        """The stored container first, then the re-encodes at other rates of the ladder.

        Args:
            record: a waiting scene.
            chunk_bytes: the chunk size its transfer will use.
            encode: make the re-encodes if they are not made yet (else offer only what is).
        """
        stored = self.stored(record, chunk_bytes)
        if not encode and not self.has_ladder(record.scene_id):
            return [stored]
        current = self.stored_target.get(record.scene_id)
        ladder = [o for o in self._ladder(record, chunk_bytes) if o.target_bpp != current]
        if current is None:  # still the upload's own encode: the asked rate is the stored one
            ladder = [o for o in ladder if o.target_bpp != _asked_bpp(record)]
        return [stored, *ladder]

    def _ladder(self, record: SceneRecord, chunk_bytes: int) -> list[Option]:
        if record.scene_id not in self._ladders:
            self._ladders[record.scene_id] = self._encode_ladder(record, chunk_bytes)
        return self._ladders[record.scene_id]

    def _encode_ladder(self, record: SceneRecord, chunk_bytes: int) -> list[Option]:
        asked, codec = _asked_bpp(record), str(record.codec_used or record.codec)
        if asked is None or not record.raw_kept or codec not in LADDER_CODECS:
            return []
        try:
            self.curves.curve(record.task, codec)
            raw = load_raw(self.store, record)
        except (UnknownNameError, OSError, EODownlinkError):
            return []
        out = []
        for fraction in RATE_LADDER:
            target = asked * fraction
            try:
                info = encode_scene(
                    record,
                    raw,
                    codec=codec,
                    target=RateTarget(bpp=target),
                    roi_mode=self.roi_mode,
                    checkpoints=self.checkpoints,
                )
            except EODownlinkError as exc:  # below the codec's floor, e.g.
                LOG.debug("no %.3f bpp option for %s: %s", target, record.scene_id, exc)
                continue
            size = len(info.container)
            wire = link_bytes(size, info.header, chunk_bytes)
            f1 = self._f1(record.task, codec, info.bpp)
            out.append(Option(Candidate(codec, info.bpp, wire, f1), size, info, target))
        return out

    def forget(self, keep: set[str]) -> None:
        """Drop the cached re-encodes of scenes no longer waiting."""
        for scene_id in set(self._ladders) - keep:
            del self._ladders[scene_id]
            self.stored_target.pop(scene_id, None)


def _asked_bpp(record: SceneRecord) -> float | None:
    """The rate the ladder's fractions apply to: the asked bpp, or for a quality ask the
    stored payload's bpp, the unit codecs' bpp targets are in (None: lossless, or nothing
    stored yet)."""
    target = rate_from_dict(record.rate)
    if target.lossless:
        return None
    if target.quality is not None:
        header = record.header or {}
        pixels = int(header.get("height", 0)) * int(header.get("width", 0))
        payload = int(header.get("payload_bytes", 0))
        return 8.0 * payload / pixels if pixels and payload else None
    return target.bpp
