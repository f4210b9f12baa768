"""The store's SQLite database: one connection, one lock, transactions and guarded moves.

Every change of a scene's state goes through :meth:`SceneDb.move`, which refuses a move the
state machine (:mod:`satellite_node.store.states`) does not allow, or one the row no longer
qualifies for (another thread moved the scene first), in the same statement that makes it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from satellite_node.store.records import SceneRecord, record_from_row
from satellite_node.store.schema import ADDED_COLUMNS, SCHEMA
from satellite_node.store.states import SceneState, sources
from shared.errors import ConfigurationError, ConflictError, NotFoundError


class SceneDb:
    """The ``scenes`` table of one store (WAL, synchronous=FULL).

    Args:
        path: the SQLite file (created with the schema, upgraded in place if older).
    """

    def __init__(self, path: Path) -> None:
        self.lock = threading.RLock()
        self._db = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        present = {row["name"] for row in self._db.execute("PRAGMA table_info(scenes)")}
        for name, ddl in ADDED_COLUMNS:
            if name not in present:
                self._db.execute(f"ALTER TABLE scenes ADD COLUMN {name} {ddl}")

    def close(self) -> None:
        """Close the connection."""
        with self.lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any exception)."""
        with self.lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Rows of a read-only statement."""
        with self.lock:
            return list(self._db.execute(sql, args).fetchall())

    def get(self, scene_id: str) -> SceneRecord:
        """One scene's record.

        Raises:
            NotFoundError: no such scene.
        """
        rows = self.query("SELECT * FROM scenes WHERE scene_id = ?", (scene_id,))
        if not rows:
            raise NotFoundError(f"no scene {scene_id!r} onboard; list scenes with GET /v1/scenes")
        return record_from_row(rows[0])

    def select(
        self, where: str, states: tuple[SceneState, ...], tail: str = "", args: tuple[Any, ...] = ()
    ) -> list[sqlite3.Row]:
        """``SELECT {where} FROM scenes WHERE state IN (states) {tail}`` with ``args`` after."""
        marks = ",".join("?" * len(states))
        sql = f"SELECT {where} FROM scenes WHERE state IN ({marks}) {tail}"
        return self.query(sql, (*(s.value for s in states), *args))

    def move(
        self,
        scene_id: str,
        to: SceneState,
        sets: str = "",
        args: tuple[Any, ...] = (),
        only_from: tuple[SceneState, ...] | None = None,
    ) -> None:
        """Move a scene to ``to``, setting ``sets`` (an ``UPDATE`` fragment) with ``args``.

        ``only_from`` narrows the states the move may start from (default: every state the
        machine allows into ``to``).

        Raises:
            ConflictError: the scene is not in a state it may move from (it moved on).
            ConfigurationError: ``only_from`` names a move the machine does not allow (a bug).
        """
        allowed = sources(to)
        if only_from is not None:
            if not set(only_from) <= set(allowed):
                raise ConfigurationError(f"the state machine never moves {only_from} to {to}")
            allowed = only_from
        marks = ",".join("?" * len(allowed))
        extra = f", {sets}" if sets else ""
        now = time.time()
        stamps, times = (
            ("updated_at = ?, queued_at = ?", (now, now))
            if to is SceneState.QUEUED
            else ("updated_at = ?", (now,))
        )
        with self.transaction() as db:
            cursor = db.execute(
                f"UPDATE scenes SET state = ?{extra}, {stamps} "
                f"WHERE scene_id = ? AND state IN ({marks})",
                (to.value, *args, *times, scene_id, *(s.value for s in allowed)),
            )
            if cursor.rowcount != 1:
                raise ConflictError(
                    f"scene {scene_id} is not in state {' or '.join(allowed)}; it moved on"
                )
