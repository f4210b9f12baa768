"""``eodl bench ground --path``: sustained scenes per second through the ground's whole path,
from receipt to record, with the ground as processes.

Per task, generated scenes are compressed as the satellite would (see
:func:`workbench.bench.ground.make_containers`), then uploaded, signed, over loopback HTTP to
the ground as fast as it takes them, so processing always has a queue. The figure is
``scenes / (last record's processed_at - first receipt's committed_at)``, the database's own
timestamps. Layouts:

- ``single``: the default ground, one ``eodl ground serve`` process (role ``all``) on SQLite
  with ``GS_PROCESSING_WORKERS=1``;
- ``single-fork``: the same with a fresh decode process per container
  (``GS_DECODE_RECYCLE_JOBS=1``), as the ground decoded before its pool of long-lived workers;
- ``N worker(s)``: one receiver and N processing workers (``--role receiver`` / ``worker``) as
  processes on a real PostgreSQL started in a temporary folder (Debian's binaries).

It measures and prints; it asserts nothing but that every transfer ended processed.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shared.errors import ConfigurationError

LINK_KEY = "bench-ground-path-key-0123456789"
DEFAULT_SCENES = 60
MAX_SCENES = 2000
FORK_PER_CONTAINER = -1  # the single process, decoding as it did before the pool
LAYOUTS = {FORK_PER_CONTAINER: "single-fork", 0: "single"}
_TIMES = (
    "SELECT min(committed_at), max(processed_at), count(*), "
    "sum(CASE WHEN state = 'processed' THEN 1 ELSE 0 END), sum(attempts) FROM transfers"
)


@dataclass(frozen=True)
class PathBenchRow:
    """One layout's measurement (a row of ``eodl bench ground --path --json``)."""

    task: str
    codec: str
    layout: str
    database: str
    device: str
    scenes: int
    processed: int
    upload_s: float
    span_s: float
    scenes_s: float
    claims: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _wait_done(engine: Any, count: int, timeout_s: float) -> tuple[Any, ...]:
    from sqlalchemy import text

    deadline = time.monotonic() + timeout_s
    while True:
        with engine.connect() as connection:
            row = tuple(connection.execute(text(_TIMES)).one())
            ended = connection.execute(
                text("SELECT count(*) FROM transfers WHERE state IN ('processed', 'failed')")
            ).scalar()
        if ended >= count:
            return row
        if time.monotonic() > deadline:
            raise ConfigurationError(f"{ended} of {count} transfers ended in {timeout_s:g} s")
        time.sleep(0.25)


def _moment(value: Any) -> Any:
    """A timestamp as a timezone-aware datetime (SQLite's text columns come back as text)."""
    from datetime import UTC, datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _span(first: Any, last: Any) -> float:
    return float((_moment(last) - _moment(first)).total_seconds())


def measure_layout(
    folder: Path,
    database_url: str,
    workers: int,
    prepared: Any,
    device: str,
    timeout_s: float = 1800.0,
) -> PathBenchRow:
    """Start the layout (``workers`` 0: the single process; :data:`FORK_PER_CONTAINER`: it
    with a fresh decode process per container), upload, wait, measure, stop."""
    from sqlalchemy import create_engine

    from workbench.cluster import ClusterLink, GroundCluster

    settings = {"GS_DEVICE": device}
    if workers <= 0:
        settings["GS_PROCESSING_WORKERS"] = "1"
    if workers == FORK_PER_CONTAINER:
        settings["GS_DECODE_RECYCLE_JOBS"] = "1"
    cluster = GroundCluster(folder, database_url, LINK_KEY, settings)
    engine = create_engine(database_url)
    try:
        receivers = [cluster.start("all" if workers <= 0 else "receiver")]
        for _ in range(max(workers, 0)):
            cluster.start("worker")
        link = ClusterLink(receivers, LINK_KEY)
        started = time.perf_counter()
        for index, data in enumerate(prepared.containers):
            link.upload(f"bench-{index:05d}", data, prepared.task, prepared.codec)
        upload_s = time.perf_counter() - started
        link.close()
        first, last, count, processed, claims = _wait_done(
            engine, len(prepared.containers), timeout_s
        )
    finally:
        cluster.close()
        engine.dispose()
    span = _span(first, last)
    layout = LAYOUTS.get(workers, f"{workers} worker{'s' if workers > 1 else ''}")
    return PathBenchRow(
        prepared.task,
        prepared.codec,
        layout,
        "sqlite" if workers <= 0 else "postgresql",
        device,
        int(count),
        int(processed or 0),
        upload_s,
        span,
        int(count) / span if span > 0 else float("nan"),
        int(claims or 0),
    )


def run_path_bench(
    tasks: list[str], worker_counts: list[int], scenes: int | None, device: str
) -> list[PathBenchRow]:
    """The single process, then each worker count, per task.

    Raises:
        ConfigurationError: a bad count, or no PostgreSQL here (with the reason).
        UnknownNameError: an unknown task.
    """
    from satellite_node.codec_choice import open_checkpoints
    from workbench.bench.ground import make_containers
    from workbench.postgres import PostgresServer, find_binaries

    count = DEFAULT_SCENES if scenes is None else scenes
    if not (1 <= count <= MAX_SCENES) or any(not (1 <= w <= 16) for w in worker_counts):
        raise ConfigurationError(f"--scenes must be 1..{MAX_SCENES} and --workers 1..16")
    bin_dir, why = find_binaries()
    if bin_dir is None:
        raise ConfigurationError(f"the worker layouts need PostgreSQL: {why}")
    checkpoints = open_checkpoints(None)
    pg_folder = Path(tempfile.mkdtemp(prefix="eodl-bench-pg-"))
    server = PostgresServer(bin_dir, pg_folder).start()
    rows = []
    try:
        server.wait_ready()
        for task in tasks:
            prepared = make_containers(task, count, checkpoints)
            for workers in [FORK_PER_CONTAINER, 0, *worker_counts]:
                folder = Path(tempfile.mkdtemp(prefix="eodl-bench-path-"))
                url = f"sqlite:///{folder / 'ground.db'}" if workers == 0 else server.new_database()
                try:
                    rows.append(measure_layout(folder, url, workers, prepared, device))
                finally:
                    shutil.rmtree(folder, ignore_errors=True)
    finally:
        server.stop()
        shutil.rmtree(pg_folder, ignore_errors=True)
    return rows


def path_table(rows: list[PathBenchRow]) -> str:
    """A fixed-width table of the rows."""
    head = (
        f"{'task':<9}{'codec':<16}{'layout':<13}{'database':<11}{'device':<7}{'scenes':>7}"
        f"{'processed':>10}{'upload s':>10}{'span s':>9}{'scenes/s':>10}{'claims':>8}"
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"{r.task:<9}{r.codec:<16}{r.layout:<13}{r.database:<11}{r.device:<7}{r.scenes:>7}"
            f"{r.processed:>10}{r.upload_s:>10.2f}{r.span_s:>9.2f}{r.scenes_s:>10.2f}"
            f"{r.claims:>8}"
        )
    return "\n".join(lines)
