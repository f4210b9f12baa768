"""The store's transitions for a pass plan that acts: hold, release, re-encode in place.

``held`` scenes are compressed and durable but not offered to the sender; the plan releases
them (``queued``) for a pass. A re-encode replaces a held scene's container by a new version
under a new file name: the new file is written atomically first, the row that names it commits
next, the old file is deleted last, so a crash at any instant leaves the row naming a complete
container (recovery removes the other file). Only a scene the ground has never seen is
re-encoded: ``held`` scenes have no transfer yet, and the new version gets a new transfer id.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.durable import atomic_write, remove_durably

if TYPE_CHECKING:
    from satellite_node.store.records import SceneRecord
    from satellite_node.store.scenes import ContainerInfo


class PlanTransitions:
    """Mixed into :class:`satellite_node.store.SceneStore`."""

    if TYPE_CHECKING:

        def get(self, scene_id: str) -> SceneRecord: ...
        def list(self, *, state: str | None = None, limit: int = 1000) -> list[SceneRecord]: ...
        def container_path(self, scene_id: str, version: int = 1) -> Path: ...
        def _release_raw(self, scene_id: str) -> None: ...
        def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]: ...
        def _transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...
        def _update(
            self, scene_id: str, allowed: tuple[str, ...], sets: str, args: tuple[Any, ...]
        ) -> None: ...

    def hold(self, scene_id: str) -> None:
        """``queued`` -> ``held`` (the plan defers it).

        Raises:
            ConflictError: the scene moved on (the sender started it).
        """
        self._update(scene_id, ("queued",), "state = 'held'", ())

    def release(self, scene_id: str) -> None:
        """``held`` -> ``queued`` (the plan sends it this pass).

        Raises:
            ConflictError: the scene is not held.
        """
        self._update(scene_id, ("held",), "state = 'queued'", ())

    def release_all_held(self) -> int:
        """Queue every held scene (the plan stopped acting); returns how many."""
        with self._transaction() as db:
            cursor = db.execute("UPDATE scenes SET state = 'queued' WHERE state = 'held'")
            return int(cursor.rowcount)

    def waiting(self) -> Iterator[SceneRecord]:
        """Scenes compressed and not delivered: held, queued, downlinking."""
        for state in ("held", "queued", "downlinking"):
            yield from self.list(state=state, limit=100_000)

    def kept_raw_bytes(self) -> int:
        """Bytes of raw rasters kept for re-encoding."""
        rows = self._query("SELECT COALESCE(SUM(raw_bytes), 0) AS b FROM scenes WHERE raw_kept = 1")
        return int(rows[0]["b"])

    def forget_raw(self, scene_id: str) -> None:
        """Release a scene's kept raw raster (it flies at its stored rate)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE scenes SET raw_kept = 0, stored_bytes = stored_bytes - raw_bytes "
                "WHERE scene_id = ? AND raw_kept = 1",
                (scene_id,),
            )
        self._release_raw(scene_id)

    def free_kept_raw(self, needed_bytes: int) -> int:
        """Release kept raw rasters, least urgent first, until ``needed_bytes`` are freed (a
        new scene outranks re-encoding an old one); returns the bytes freed."""
        rows = self._query(
            "SELECT scene_id, raw_bytes FROM scenes WHERE raw_kept = 1 ORDER BY priority DESC, seq"
        )
        freed = 0
        for row in rows:
            if freed >= needed_bytes:
                break
            self.forget_raw(row["scene_id"])
            freed += int(row["raw_bytes"])
        return freed

    def replace_container(self, scene_id: str, info: ContainerInfo) -> SceneRecord:
        """Replace a held scene's container by a re-encode (a new version, a new transfer id).

        Raises:
            ConflictError: the scene is not held (it may have started downlinking).
        """
        record = self.get(scene_id)
        version = record.container_version + 1
        new_path = self.container_path(scene_id, version)
        atomic_write(new_path, info.container)
        try:
            self._update(
                scene_id,
                ("held",),
                f"{info.COLUMNS}, container_version = ?, stored_bytes = ? + raw_bytes * raw_kept",
                (*info.values(f"{scene_id}.{version}"), version, len(info.container)),
            )
        except BaseException:
            remove_durably(new_path)
            raise
        remove_durably(self.container_path(scene_id, record.container_version))
        return self.get(scene_id)
