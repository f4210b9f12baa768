"""Scene records: every state transition is one SQLite transaction (WAL, synchronous=FULL).

Order of durable steps, so that ``kill -9`` at any instant loses and duplicates nothing:
files are written atomically *before* the row that names them commits, and deleted only
*after* the row that releases them commits. :meth:`SceneStore.recover` removes what a crash
left between the two steps.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from satellite_node.store.plan_states import PlanTransitions
from satellite_node.store.records import SceneRecord, record_from_row
from satellite_node.store.schema import ADDED_COLUMNS, SCHEMA, UNDELIVERED
from shared.durable import atomic_write, clean_temporaries, remove_durably
from shared.errors import ConflictError, NotFoundError, StorageFullError

__all__ = ["SceneRecord", "SceneStore", "RecoveryReport", "ContainerInfo"]


@dataclass(frozen=True)
class ContainerInfo:
    """What compression produced for one scene."""

    container: bytes = field(repr=False)
    sha256: str
    codec_used: str
    bpp: float
    payload_bpp: float
    bits_per_sample: float
    psnr_db: float | None
    header: dict[str, Any]

    #: The scene columns a container sets (``UPDATE ... SET`` fragment, see :meth:`values`).
    COLUMNS = (
        "codec_used = ?, container_bytes = ?, container_sha256 = ?, header_json = ?, bpp = ?, "
        "payload_bpp = ?, bits_per_sample = ?, psnr_db = ?, transfer_id = ?"
    )

    def values(self, transfer_id: str) -> tuple[Any, ...]:
        """The values of :attr:`COLUMNS`, in order."""
        return (
            self.codec_used,
            len(self.container),
            self.sha256,
            json.dumps(self.header),
            self.bpp,
            self.payload_bpp,
            self.bits_per_sample,
            self.psnr_db,
            transfer_id,
        )


@dataclass(frozen=True)
class RecoveryReport:
    """What :meth:`SceneStore.recover` found after a restart."""

    requeued: int = 0
    resuming: int = 0
    orphans_removed: int = 0
    lost: tuple[str, ...] = ()


class SceneStore(PlanTransitions):
    """The satellite's durable scene store under ``data_dir``.

    Args:
        data_dir: the store's folder (created if needed).
        capacity_bytes: the most bytes of rasters and containers held at once; a scene that
            would exceed it is refused with :class:`StorageFullError`, nothing is dropped.
    """

    def __init__(self, data_dir: Path, *, capacity_bytes: int) -> None:
        self.data_dir = Path(data_dir)
        self.capacity_bytes = capacity_bytes
        self.incoming_dir = self.data_dir / "incoming"
        self.containers_dir = self.data_dir / "containers"
        for folder in (self.data_dir, self.incoming_dir, self.containers_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            self.data_dir / "scenes.sqlite3",
            isolation_level=None,
            check_same_thread=False,
            timeout=30.0,
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        present = {row["name"] for row in self._db.execute("PRAGMA table_info(scenes)")}
        for name, ddl in ADDED_COLUMNS:
            if name not in present:
                self._db.execute(f"ALTER TABLE scenes ADD COLUMN {name} {ddl}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._db.execute(sql, args).fetchall())

    # --- paths -----------------------------------------------------------------------------
    def raster_path(self, scene_id: str) -> Path:
        return self.incoming_dir / f"{scene_id}.raster.npy"

    def mask_path(self, scene_id: str) -> Path:
        return self.incoming_dir / f"{scene_id}.mask.npy"

    def container_path(self, scene_id: str, version: int = 1) -> Path:
        """The file of a scene's container; a re-encode (version > 1) gets a new name, so the
        row always names a complete file (see :meth:`replace_container`)."""
        suffix = "" if version <= 1 else f".v{version}"
        return self.containers_dir / f"{scene_id}{suffix}.eodl"

    # --- intake ----------------------------------------------------------------------------
    def used_bytes(self) -> int:
        rows = self._query("SELECT COALESCE(SUM(stored_bytes), 0) AS used FROM scenes")
        return int(rows[0]["used"])

    def admit(
        self,
        *,
        task: str,
        codec: str,
        rate: dict[str, Any],
        priority: int,
        raster_name: str,
        raster: bytes,
        mask: bytes | None,
    ) -> SceneRecord:
        """Store a new scene's raster (and mask) durably and record it as ``received``.

        Raises:
            StorageFullError: the scene does not fit in what the capacity leaves free.
        """
        size = len(raster) + len(mask or b"")
        scene_id = uuid.uuid4().hex
        with self._lock:
            used = self.used_bytes()
            if used + size > self.capacity_bytes:
                used -= self.free_kept_raw(used + size - self.capacity_bytes)
            if used + size > self.capacity_bytes:
                raise StorageFullError(
                    f"the onboard store is full: {used} of {self.capacity_bytes} bytes are held "
                    f"by undelivered scenes and this one needs {size}; retry after the next pass "
                    "delivers some, or raise SAT_CAPACITY_BYTES"
                )
            atomic_write(self.raster_path(scene_id), raster)
            if mask is not None:
                atomic_write(self.mask_path(scene_id), mask)
            now = time.time()
            with self._transaction() as db:
                db.execute(
                    "INSERT INTO scenes (scene_id, state, task, codec, rate_json, priority, "
                    "raster_name, has_mask, raw_bytes, stored_bytes, created_at, updated_at) "
                    "VALUES (?, 'received', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        scene_id,
                        task,
                        codec,
                        json.dumps(rate),
                        priority,
                        raster_name,
                        int(mask is not None),
                        size,
                        size,
                        now,
                        now,
                    ),
                )
        return self.get(scene_id)

    # --- queries ---------------------------------------------------------------------------
    def get(self, scene_id: str) -> SceneRecord:
        rows = self._query("SELECT * FROM scenes WHERE scene_id = ?", (scene_id,))
        if not rows:
            raise NotFoundError(f"no scene {scene_id!r} onboard; list scenes with GET /v1/scenes")
        return record_from_row(rows[0])

    def list(self, *, state: str | None = None, limit: int = 1000) -> list[SceneRecord]:
        if state is None:
            rows = self._query("SELECT * FROM scenes ORDER BY seq DESC LIMIT ?", (limit,))
        else:
            rows = self._query(
                "SELECT * FROM scenes WHERE state = ? ORDER BY seq DESC LIMIT ?", (state, limit)
            )
        return [record_from_row(r) for r in rows]

    def next_to_compress(self) -> SceneRecord | None:
        rows = self._query(
            "SELECT * FROM scenes WHERE state = 'received' ORDER BY priority, seq LIMIT 1"
        )
        return record_from_row(rows[0]) if rows else None

    def next_to_send(self) -> SceneRecord | None:
        """The most urgent scene waiting for the link; a started one first within a priority."""
        rows = self._query(
            "SELECT * FROM scenes WHERE state IN ('queued', 'downlinking') "
            "ORDER BY priority, state = 'downlinking' DESC, seq LIMIT 1"
        )
        return record_from_row(rows[0]) if rows else None

    def more_urgent_waiting(self, priority: int) -> bool:
        """True when a scene more urgent than ``priority`` waits (pre-emption between chunks)."""
        rows = self._query(
            "SELECT 1 FROM scenes WHERE state IN ('queued', 'downlinking') AND priority < ? "
            "LIMIT 1",
            (priority,),
        )
        return bool(rows)

    def queue_depths(self) -> dict[int, int]:
        marks = ",".join("?" * len(UNDELIVERED))
        rows = self._query(
            f"SELECT priority, COUNT(*) AS n FROM scenes WHERE state IN ({marks}) "
            "GROUP BY priority",
            UNDELIVERED,
        )
        return {int(r["priority"]): int(r["n"]) for r in rows}

    def bytes_pending(self) -> int:
        rows = self._query(
            "SELECT COALESCE(SUM(container_bytes), 0) AS b FROM scenes "
            "WHERE state IN ('held', 'queued', 'downlinking')"
        )
        return int(rows[0]["b"])

    def oldest_undelivered_at(self) -> float | None:
        marks = ",".join("?" * len(UNDELIVERED))
        rows = self._query(
            f"SELECT MIN(created_at) AS t FROM scenes WHERE state IN ({marks})", UNDELIVERED
        )
        value = rows[0]["t"]
        return None if value is None else float(value)

    def undelivered_created_at(self) -> list[float]:
        """Creation times of every scene not yet delivered (nor failed)."""
        marks = ",".join("?" * len(UNDELIVERED))
        rows = self._query(f"SELECT created_at FROM scenes WHERE state IN ({marks})", UNDELIVERED)
        return [float(r["created_at"]) for r in rows]

    def read_container(self, scene_id: str) -> bytes:
        """The scene's current container (the version its row names)."""
        record = self.get(scene_id)
        return self.container_path(scene_id, record.container_version).read_bytes()

    # --- transitions -----------------------------------------------------------------------
    def _update(
        self, scene_id: str, allowed: tuple[str, ...], sets: str, args: tuple[Any, ...]
    ) -> None:
        marks = ",".join("?" * len(allowed))
        with self._transaction() as db:
            cursor = db.execute(
                f"UPDATE scenes SET {sets}, updated_at = ? "
                f"WHERE scene_id = ? AND state IN ({marks})",
                (*args, time.time(), scene_id, *allowed),
            )
            if cursor.rowcount != 1:
                raise ConflictError(
                    f"scene {scene_id} is not in state {' or '.join(allowed)}; it moved on"
                )

    def mark_compressed(self, scene_id: str, info: ContainerInfo) -> None:
        """Write the container atomically, then record it (the raster is still held)."""
        record = self.get(scene_id)
        atomic_write(self.container_path(scene_id), info.container)
        self._update(
            scene_id,
            ("received",),
            f"state = 'compressed', {ContainerInfo.COLUMNS}, stored_bytes = ?",
            (*info.values(f"{scene_id}.1"), record.raw_bytes + len(info.container)),
        )

    def _release_raw(self, scene_id: str) -> None:
        remove_durably(self.raster_path(scene_id))
        remove_durably(self.mask_path(scene_id))

    def mark_queued(self, scene_id: str, *, keep_raw: bool = False, hold: bool = False) -> None:
        """Queue the container for the downlink (or hold it for the pass plan).

        Args:
            scene_id: the compressed scene.
            keep_raw: keep the raw raster (and mask) until delivery, for re-encoding at a
                planned rate; it still counts against the capacity.
            hold: enter ``held`` (the plan releases it) instead of ``queued``.
        """
        if not keep_raw:
            self._release_raw(scene_id)
        stored = "container_bytes + raw_bytes" if keep_raw else "container_bytes"
        self._update(
            scene_id,
            ("compressed",),
            f"state = ?, stored_bytes = {stored}, raw_kept = ?",
            ("held" if hold else "queued", int(keep_raw)),
        )

    def mark_failed(self, scene_id: str, reason: str) -> None:
        """Record a failure. Before queueing its files are released; after, the container is
        kept (custody: only a receipt frees it)."""
        record = self.get(scene_id)
        early = record.state in ("received", "compressed")
        kept = record.stored_bytes - (record.raw_bytes if record.raw_kept else 0)
        self._update(
            scene_id,
            ("received", "compressed", "held", "queued", "downlinking"),
            "state = 'failed', reason = ?, stored_bytes = ?, raw_kept = 0",
            (reason[:2000], 0 if early else kept),
        )
        if early or record.raw_kept:
            self._release_raw(scene_id)
        if early:
            remove_durably(self.container_path(scene_id, record.container_version))

    def mark_downlinking(self, scene_id: str, chunk_bytes: int) -> SceneRecord:
        """Start (or resume) the downlink; the first chunk size chosen stays the transfer's."""
        self._update(
            scene_id,
            ("queued", "downlinking"),
            "state = 'downlinking', attempts = attempts + 1, "
            "chunk_bytes = COALESCE(chunk_bytes, ?)",
            (chunk_bytes,),
        )
        return self.get(scene_id)

    def mark_delivered(self, scene_id: str, receipt: dict[str, Any]) -> None:
        """Record the ground's receipt (custody passed), then delete the container."""
        record = self.get(scene_id)
        self._update(
            scene_id,
            ("downlinking",),
            "state = 'delivered', receipt_json = ?, delivered_at = ?, stored_bytes = 0, "
            "raw_kept = 0",
            (json.dumps(receipt), time.time()),
        )
        remove_durably(self.container_path(scene_id, record.container_version))
        if record.raw_kept:
            self._release_raw(scene_id)

    # --- restart ---------------------------------------------------------------------------
    def recover(self) -> RecoveryReport:
        """Finish or undo what a crash interrupted; call once before the workers start."""
        orphans = clean_temporaries(self.incoming_dir) + clean_temporaries(self.containers_dir)
        rows = self._query(
            "SELECT scene_id, state, stored_bytes, raw_kept, container_version FROM scenes"
        )
        states = {r["scene_id"]: r["state"] for r in rows}
        freed = {r["scene_id"] for r in rows if r["stored_bytes"] == 0}
        versions = {r["scene_id"]: int(r["container_version"]) for r in rows}
        raw_kept = {r["scene_id"] for r in rows if r["raw_kept"]}
        orphans += self._remove_orphans(states, freed, versions, raw_kept)
        requeued, lost = 0, []
        for scene_id, state in states.items():
            container = self.container_path(scene_id, versions[scene_id])
            if state == "compressed":
                self.mark_queued(scene_id)
                requeued += 1
            elif state == "received" and not self.raster_path(scene_id).is_file():
                lost.append(scene_id)
            elif state in ("held", "queued", "downlinking") and not container.is_file():
                lost.append(scene_id)
            elif scene_id in raw_kept and not self.raster_path(scene_id).is_file():
                self.forget_raw(scene_id)  # the container still flies, at its stored rate
        for scene_id in lost:
            self.mark_failed(scene_id, "its file was missing from the store at restart")
        resuming = sum(1 for s in states.values() if s == "downlinking")
        return RecoveryReport(requeued, resuming, orphans, tuple(lost))

    def _remove_orphans(
        self,
        states: dict[str, str],
        freed: set[str],
        versions: dict[str, int],
        raw_kept: set[str],
    ) -> int:
        removed = 0
        keep_raw = ("received", "compressed")
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
            if states.get(scene_id) in (None, "delivered") or scene_id in freed or not current:
                remove_durably(path)
                removed += 1
        return removed
