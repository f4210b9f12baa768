"""The ground on a real PostgreSQL (Debian's server, started by the tests in a temporary
folder; skipped with the reason where it cannot start): the whole ground suite runs against it
through the ``database_url`` fixture; this test checks that it really is PostgreSQL that holds
the transfers, and that a second ground process on the same database sees them."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from gs_support import Scene


def test_transfers_live_in_postgresql_and_a_second_ground_sees_them(
    make_link: Any, database_url: str | None, scene: Scene, tmp_path: Any
) -> None:
    if database_url is None:
        pytest.skip("the PostgreSQL case of this test; SQLite is the default everywhere else")
    first = make_link()
    engine = first.client.app.state.context.engine
    assert engine.dialect.name == "postgresql"
    receipt = first.upload("pg-1", scene.data)
    assert receipt["sha256"] == scene.sha256
    second = make_link(tmp_path / "second")  # another data folder, the same database
    assert second.client.get("/v1/transfers/pg-1").json()["sha256"] == scene.sha256
    host = database_url.split("host=")[1]
    name = database_url.split("@/")[1].split("?")[0]
    with psycopg.connect(f"host={host} user=postgres dbname={name}") as conn:
        (count,) = conn.execute("SELECT count(*) FROM transfers").fetchone()  # type: ignore[misc]
    assert count == 1


def test_processes_starting_together_create_the_schema_once(postgres_server: Any) -> None:
    """Receivers, workers and the API start at once under compose: six engines made at the
    same instant on a fresh database all succeed (CREATE TABLE raced before the lock)."""
    import threading

    from ground_station.db import make_engine

    url = postgres_server.new_database()
    start, errors = threading.Barrier(6), []

    def make() -> None:
        start.wait()
        try:
            make_engine(url).dispose()
        except Exception as exc:  # what the race raised: a unique violation in pg_type
            errors.append(repr(exc))

    threads = [threading.Thread(target=make) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
