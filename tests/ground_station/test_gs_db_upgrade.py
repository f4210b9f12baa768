"""An older ground database upgrades in place: new columns are added, records kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ground_station.db import TransferRecord, make_engine, make_session_factory


def test_database_missing_a_newer_column_is_upgraded_in_place(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ground.db'}"
    make_engine(url).dispose()
    with sqlite3.connect(tmp_path / "ground.db") as db:  # as an older release left it
        db.execute("ALTER TABLE transfers DROP COLUMN sidecar_bytes")
        db.execute(
            "INSERT INTO transfers (transfer_id, scene_id, task, codec, priority, total_bytes,"
            " chunk_bytes, sha256, announced_header, state, created_at, has_quicklook,"
            " has_mask, attempts) VALUES ('t1', 's1', 'fire', 'jpeg2000', 0, 10, 10, 'ab',"
            " '{}', 'processed', '2026-01-01 00:00:00', 0, 0, 1)"
        )
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        record = session.get(TransferRecord, "t1")
        assert record is not None and record.scene_id == "s1"
        assert record.sidecar_bytes is None
