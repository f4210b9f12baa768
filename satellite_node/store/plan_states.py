"""The store's transitions for a pass plan that acts: hold, release, re-encode in place.

``held`` scenes are compressed and durable but not offered to the sender; the plan releases
them (``queued``) for a pass. A re-encode replaces a held scene's container by a new version
under a new file name: the new file is written atomically first, the row that names it commits
next, the old file is deleted last, so a crash at any instant leaves the row naming a complete
container (recovery removes the other file). Only a scene the ground has never seen is
re-encoded: ``held`` scenes have no transfer yet, and the new version gets a new transfer id.
"""

from __future__ import annotations

from satellite_node.store.db import SceneDb
from satellite_node.store.files import StoreFiles
from satellite_node.store.records import ContainerInfo, SceneRecord
from satellite_node.store.states import SceneState
from shared.durable import atomic_write, remove_durably

S = SceneState


class PlanTransitions:
    """The plan's moves on a store's scenes (``store.plan``).

    Args:
        db: the store's database.
        files: the store's files.
    """

    def __init__(self, db: SceneDb, files: StoreFiles) -> None:
        self.db, self.files = db, files

    def hold(self, scene_id: str) -> None:
        """``queued`` -> ``held`` (the plan defers it).

        Raises:
            ConflictError: the scene moved on (the sender started it).
        """
        self.db.move(scene_id, S.HELD, only_from=(S.QUEUED,))

    def release(self, scene_id: str) -> None:
        """``held`` -> ``queued`` (the plan sends it this pass).

        Raises:
            ConflictError: the scene is not held.
        """
        self.db.move(scene_id, S.QUEUED, only_from=(S.HELD,))

    def release_all_held(self) -> int:
        """Queue every held scene (the plan stopped acting); returns how many."""
        with self.db.transaction() as db:
            cursor = db.execute(
                "UPDATE scenes SET state = ? WHERE state = ?", (S.QUEUED.value, S.HELD.value)
            )
            return int(cursor.rowcount)

    def kept_raw_bytes(self) -> int:
        """Bytes of raw rasters kept for re-encoding."""
        rows = self.db.query(
            "SELECT COALESCE(SUM(raw_bytes), 0) AS b FROM scenes WHERE raw_kept = 1"
        )
        return int(rows[0]["b"])

    def forget_raw(self, scene_id: str) -> None:
        """Release a scene's kept raw raster (it flies at its stored rate)."""
        with self.db.transaction() as db:
            db.execute(
                "UPDATE scenes SET raw_kept = 0, stored_bytes = stored_bytes - raw_bytes "
                "WHERE scene_id = ? AND raw_kept = 1",
                (scene_id,),
            )
        self.files.release_raw(scene_id)

    def free_kept_raw(self, needed_bytes: int) -> int:
        """Release kept raw rasters, least urgent first, until ``needed_bytes`` are freed (a
        new scene outranks re-encoding an old one); returns the bytes freed."""
        rows = self.db.query(
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
        record = self.db.get(scene_id)
        version = record.container_version + 1
        new_path = self.files.container_path(scene_id, version)
        atomic_write(new_path, info.container)
        try:
            self.db.move(
                scene_id,
                S.HELD,
                f"{info.COLUMNS}, container_version = ?, stored_bytes = ? + raw_bytes * raw_kept",
                (*info.values(f"{scene_id}.{version}"), version, len(info.container)),
                only_from=(S.HELD,),
            )
        except BaseException:
            remove_durably(new_path)
            raise
        remove_durably(self.files.container_path(scene_id, record.container_version))
        return self.db.get(scene_id)
