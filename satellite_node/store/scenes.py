"""Scene records: every state transition is one SQLite transaction (WAL, synchronous=FULL).

Order of durable steps, so that ``kill -9`` at any instant loses and duplicates nothing:
files are written atomically *before* the row that names them commits, and deleted only
*after* the row that releases them commits. :meth:`SceneStore.recover` removes what a crash
left between the two steps.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from satellite_node.store.db import SceneDb
from satellite_node.store.files import StoreFiles
from satellite_node.store.plan_states import PlanTransitions
from satellite_node.store.records import (
    ContainerInfo,
    NewScene,
    SceneRecord,
    patch_shape_text,
    record_from_row,
)
from satellite_node.store.states import EARLY, SENDABLE, UNDELIVERED, WAITING, SceneState
from shared.durable import atomic_write, clean_temporaries, remove_durably
from shared.errors import QuotaExceededError, StorageFullError

__all__ = ["SceneRecord", "SceneStore", "RecoveryReport", "ContainerInfo"]
S = SceneState


@dataclass(frozen=True)
class RecoveryReport:
    """What :meth:`SceneStore.recover` found after a restart."""

    requeued: int = 0
    resuming: int = 0
    orphans_removed: int = 0
    lost: tuple[str, ...] = ()


class SceneStore:
    """The satellite's durable scene store under ``data_dir``.

    Built by composition: the database (:class:`SceneDb`, where every state change is a move
    the state machine allows), the files (:class:`StoreFiles`), and the pass plan's moves
    (``plan``: hold, release, re-encode in place; :class:`PlanTransitions`).

    Args:
        data_dir: the store's folder (created if needed).
        capacity_bytes: the most bytes of rasters and containers held at once; a scene that
            would exceed it is refused with :class:`StorageFullError`, nothing is dropped.
    """

    def __init__(self, data_dir: Path, *, capacity_bytes: int) -> None:
        self.data_dir = Path(data_dir)
        self.capacity_bytes = capacity_bytes
        self.files = StoreFiles(self.data_dir)
        self.incoming_dir, self.containers_dir = self.files.incoming_dir, self.files.containers_dir
        self.db = SceneDb(self.data_dir / "scenes.sqlite3")
        self.plan = PlanTransitions(self.db, self.files)

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    # --- paths -----------------------------------------------------------------------------
    def raster_path(self, scene_id: str) -> Path:
        """The raw raster of a scene."""
        return self.files.raster_path(scene_id)

    def mask_path(self, scene_id: str) -> Path:
        """The truth mask of a scene."""
        return self.files.mask_path(scene_id)

    def container_path(self, scene_id: str, version: int = 1) -> Path:
        """The file of a scene's container (see :meth:`StoreFiles.container_path`)."""
        return self.files.container_path(scene_id, version)

    # --- intake ----------------------------------------------------------------------------
    def used_bytes(self) -> int:
        """Bytes of rasters and containers held (what counts against the capacity)."""
        rows = self.db.query("SELECT COALESCE(SUM(stored_bytes), 0) AS used FROM scenes")
        return int(rows[0]["used"])

    def uploader_bytes(self, uploader: str) -> int:
        """Bytes held for the scenes one uploader sent that are not delivered yet."""
        rows = self.db.query(
            "SELECT COALESCE(SUM(stored_bytes), 0) AS used FROM scenes WHERE uploader = ?",
            (uploader,),
        )
        return int(rows[0]["used"])

    def admit(self, scene: NewScene, share_bytes: int | None = None) -> SceneRecord:
        """Store a new scene's raster (and mask) durably and record it as ``received``.

        Args:
            scene: the validated upload.
            share_bytes: the most bytes the scene's uploader may hold undelivered (None: any).

        Raises:
            QuotaExceededError: the uploader's share of the store would be exceeded.
            StorageFullError: the scene does not fit in what the capacity leaves free.
        """
        size = scene.size
        scene_id = uuid.uuid4().hex
        with self.db.lock:
            if share_bytes is not None and scene.uploader is not None:
                held = self.uploader_bytes(scene.uploader)
                if held + size > share_bytes:
                    raise QuotaExceededError(
                        f"uploader {scene.uploader!r} holds {held} bytes of undelivered scenes "
                        f"and this one needs {size}: over its share of {share_bytes} bytes of "
                        "the onboard store; retry once a pass has delivered some",
                        retry_after_s=None,
                    )
            used = self.used_bytes()
            if used + size > self.capacity_bytes:
                used -= self.plan.free_kept_raw(used + size - self.capacity_bytes)
            if used + size > self.capacity_bytes:
                raise StorageFullError(
                    f"the onboard store is full: {used} of {self.capacity_bytes} bytes are held "
                    f"by undelivered scenes and this one needs {size}; retry after the next pass "
                    "delivers some, or raise SAT_CAPACITY_BYTES"
                )
            atomic_write(self.raster_path(scene_id), scene.raster)
            if scene.mask is not None:
                atomic_write(self.mask_path(scene_id), scene.mask)
            now = time.time()
            with self.db.transaction() as db:
                db.execute(
                    "INSERT INTO scenes (scene_id, state, task, codec, rate_json, priority, "
                    "raster_name, has_mask, raw_bytes, stored_bytes, created_at, updated_at, "
                    "uploader, patch_shape, georef_json, georef_note) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        scene_id,
                        S.RECEIVED.value,
                        scene.task,
                        scene.codec,
                        json.dumps(scene.rate),
                        scene.priority,
                        scene.raster_name,
                        int(scene.mask is not None),
                        size,
                        size,
                        now,
                        now,
                        scene.uploader,
                        patch_shape_text(scene.patch_shape),
                        None if scene.georef is None else json.dumps(scene.georef),
                        scene.georef_note,
                    ),
                )
        return self.get(scene_id)

    # --- queries ---------------------------------------------------------------------------
    def get(self, scene_id: str) -> SceneRecord:
        """One scene's record (NotFoundError when there is none)."""
        return self.db.get(scene_id)

    def list(self, *, state: str | None = None, limit: int = 1000) -> list[SceneRecord]:
        """Scenes, newest first, optionally in one state."""
        if state is None:
            rows = self.db.query("SELECT * FROM scenes ORDER BY seq DESC LIMIT ?", (limit,))
        else:
            rows = self.db.select("*", (S(state),), "ORDER BY seq DESC LIMIT ?", (limit,))
        return [record_from_row(r) for r in rows]

    def waiting(self) -> list[SceneRecord]:
        """Scenes compressed and not delivered: held, queued, downlinking."""
        return [r for state in WAITING for r in self.list(state=state, limit=100_000)]

    def next_to_compress(self) -> SceneRecord | None:
        """The most urgent scene waiting for the compression worker."""
        rows = self.db.select("*", (S.RECEIVED,), "ORDER BY priority, seq LIMIT 1")
        return record_from_row(rows[0]) if rows else None

    def next_to_send(self, exclude: Collection[str] = ()) -> SceneRecord | None:
        """The most urgent scene waiting for the link; a started one first within a priority.

        Args:
            exclude: scene ids to pass over (the sender's scenes already opened or committing).
        """
        skip = tuple(exclude)
        not_in = f"AND scene_id NOT IN ({','.join('?' * len(skip))}) " if skip else ""
        rows = self.db.select(
            "*",
            SENDABLE,
            f"{not_in}ORDER BY priority, state = ? DESC, seq LIMIT 1",
            (*skip, S.DOWNLINKING.value),
        )
        return record_from_row(rows[0]) if rows else None

    def more_urgent_waiting(self, priority: int) -> bool:
        """True when a scene more urgent than ``priority`` waits (pre-emption between chunks)."""
        return bool(self.db.select("1", SENDABLE, "AND priority < ? LIMIT 1", (priority,)))

    def queue_depths(self) -> dict[int, int]:
        """Undelivered scenes per priority."""
        rows = self.db.select("priority, COUNT(*) AS n", UNDELIVERED, "GROUP BY priority")
        return {int(r["priority"]): int(r["n"]) for r in rows}

    def bytes_pending(self) -> int:
        """Container bytes waiting for the link."""
        rows = self.db.select("COALESCE(SUM(container_bytes), 0) AS b", WAITING)
        return int(rows[0]["b"])

    def oldest_undelivered_at(self) -> float | None:
        """Creation time of the oldest scene not yet delivered (nor failed)."""
        value = self.db.select("MIN(created_at) AS t", UNDELIVERED)[0]["t"]
        return None if value is None else float(value)

    def undelivered_created_at(self) -> list[float]:
        """Creation times of every scene not yet delivered (nor failed)."""
        return [float(r["created_at"]) for r in self.db.select("created_at", UNDELIVERED)]

    def read_container(self, scene_id: str) -> bytes:
        """The scene's current container (the version its row names)."""
        record = self.get(scene_id)
        return self.container_path(scene_id, record.container_version).read_bytes()

    # --- transitions -----------------------------------------------------------------------
    def mark_compressed(self, scene_id: str, info: ContainerInfo) -> None:
        """Write the container atomically, then record it (the raster is still held)."""
        record = self.get(scene_id)
        atomic_write(self.container_path(scene_id), info.container)
        self.db.move(
            scene_id,
            S.COMPRESSED,
            f"{ContainerInfo.COLUMNS}, stored_bytes = ?",
            (*info.values(f"{scene_id}.1"), record.raw_bytes + len(info.container)),
        )

    def mark_queued(self, scene_id: str, *, keep_raw: bool = False, hold: bool = False) -> None:
        """Queue the container for the downlink (or hold it for the pass plan).

        Args:
            scene_id: the compressed scene.
            keep_raw: keep the raw raster (and mask) until delivery, for re-encoding at a
                planned rate; it still counts against the capacity.
            hold: enter ``held`` (the plan releases it) instead of ``queued``.
        """
        if not keep_raw:
            self.files.release_raw(scene_id)
        stored = "container_bytes + raw_bytes" if keep_raw else "container_bytes"
        self.db.move(
            scene_id,
            S.HELD if hold else S.QUEUED,
            f"stored_bytes = {stored}, raw_kept = ?",
            (int(keep_raw),),
            only_from=(S.COMPRESSED,),
        )

    def mark_failed(self, scene_id: str, reason: str) -> None:
        """Record a failure. Before queueing its files are released; after, the container is
        kept (custody: only a receipt frees it)."""
        record = self.get(scene_id)
        early = record.state in EARLY
        kept = record.stored_bytes - (record.raw_bytes if record.raw_kept else 0)
        self.db.move(
            scene_id,
            S.FAILED,
            "reason = ?, stored_bytes = ?, raw_kept = 0",
            (reason[:2000], 0 if early else kept),
        )
        if early or record.raw_kept:
            self.files.release_raw(scene_id)
        if early:
            remove_durably(self.container_path(scene_id, record.container_version))

    def mark_downlinking(self, scene_id: str, chunk_bytes: int) -> SceneRecord:
        """Start (or resume) the downlink; the first chunk size chosen stays the transfer's."""
        self.db.move(
            scene_id,
            S.DOWNLINKING,
            "attempts = attempts + 1, chunk_bytes = COALESCE(chunk_bytes, ?)",
            (chunk_bytes,),
        )
        return self.get(scene_id)

    def mark_delivered(self, scene_id: str, receipt: dict[str, Any]) -> None:
        """Record the ground's receipt (custody passed), then delete the container."""
        record = self.get(scene_id)
        self.db.move(
            scene_id,
            S.DELIVERED,
            "receipt_json = ?, delivered_at = ?, stored_bytes = 0, raw_kept = 0",
            (json.dumps(receipt), time.time()),
        )
        remove_durably(self.container_path(scene_id, record.container_version))
        if record.raw_kept:
            self.files.release_raw(scene_id)

    # --- restart ---------------------------------------------------------------------------
    def recover(self) -> RecoveryReport:
        """Finish or undo what a crash interrupted; call once before the workers start."""
        orphans = clean_temporaries(self.incoming_dir) + clean_temporaries(self.containers_dir)
        rows = self.db.query(
            "SELECT scene_id, state, stored_bytes, raw_kept, container_version FROM scenes"
        )
        states = {r["scene_id"]: S(r["state"]) for r in rows}
        freed = {r["scene_id"] for r in rows if r["stored_bytes"] == 0}
        versions = {r["scene_id"]: int(r["container_version"]) for r in rows}
        raw_kept = {r["scene_id"] for r in rows if r["raw_kept"]}
        orphans += self._remove_orphans(states, freed, versions, raw_kept)
        requeued, lost = 0, []
        for scene_id, state in states.items():
            container = self.container_path(scene_id, versions[scene_id])
            if state == S.COMPRESSED:
                self.mark_queued(scene_id)
                requeued += 1
            elif state == S.RECEIVED and not self.raster_path(scene_id).is_file():
                lost.append(scene_id)
            elif state in WAITING and not container.is_file():
                lost.append(scene_id)
            elif scene_id in raw_kept and not self.raster_path(scene_id).is_file():
                self.plan.forget_raw(scene_id)  # the container still flies, at its stored rate
        for scene_id in lost:
            self.mark_failed(scene_id, "its file was missing from the store at restart")
        resuming = sum(1 for s in states.values() if s == S.DOWNLINKING)
        return RecoveryReport(requeued, resuming, orphans, tuple(lost))

    def _remove_orphans(
        self,
        states: dict[str, SceneState],
        freed: set[str],
        versions: dict[str, int],
        raw_kept: set[str],
    ) -> int:
        removed = 0
        keep_raw = EARLY
        for path in self.incoming_dir.glob("*.npy"):
            scene_id = path.name.split(".")[0]
            if states.get(scene_id) not in keep_raw and scene_id not in raw_kept:
                remove_durably(path)
                removed += 1
        for path in self.containers_dir.glob("*.eodl"):
            scene_id = path.name.split(".")[0]
            current = scene_id in versions and path == self.container_path(
                scene_id, versions[scene_id]
            )
            if states.get(scene_id) in (None, S.DELIVERED) or scene_id in freed or not current:
                remove_durably(path)
                removed += 1
        return removed
