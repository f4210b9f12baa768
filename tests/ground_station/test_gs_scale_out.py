"""The ground scaled out: two receivers and two processing workers as separate processes on
one real PostgreSQL. 100 transfers are uploaded while a receiver restarts, and a worker is
killed (SIGKILL) in the middle of a job: every transfer is processed exactly once, the killed
job by a retry on the other worker. One more transfer is committed by a receiver that never
queues it (as one that died between its receipt and its job): the workers' sweep queues it."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from gs_support import LINK_KEY, Link, ground_settings, make_scene
from sqlalchemy import create_engine, text

from ground_station.app import create_app
from workbench.cluster import ClusterLink, GroundCluster, RoleProcess
from workbench.postgres import PostgresServer

TRANSFERS = 100
LOST = "lost-defer"
SETTINGS = {"GS_JOB_HEARTBEAT_S": "1", "GS_JOB_STALLED_S": "3"}
_STATES = "SELECT state, count(*) FROM transfers GROUP BY state"
_RETRIED = "SELECT extract(epoch FROM processed_at) FROM transfers WHERE transfer_id = :t"
_OPEN_JOBS = "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
_JOBS = "SELECT queueing_lock, status, attempts FROM procrastinate_jobs"
_CLAIMS = "SELECT transfer_id, attempts FROM transfers"
_SUCCEEDED = "SELECT count(*) FROM procrastinate_events WHERE type = 'succeeded'"
_BY = "SELECT processed_by FROM transfers WHERE transfer_id = :t"
_DOING = text(
    "SELECT j.id, t.transfer_id, t.processed_by FROM procrastinate_jobs j "
    "JOIN transfers t ON t.transfer_id = j.queueing_lock "
    "WHERE j.status = 'doing' AND t.state = 'processing'"
)


def _kill_mid_job(
    cluster: GroundCluster, engine: Any, workers: list[RoleProcess]
) -> tuple[str, RoleProcess]:
    """Freeze a worker that holds a job, check it still holds it, then SIGKILL it; the
    transfer id of the job it died in, and the worker."""
    by_pid = {member.pid: member for member in workers}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            doing = connection.execute(_DOING).all()
        for job_id, transfer_id, name in doing:
            member = by_pid.get(int(name.rsplit(":", 1)[1]))
            if member is None:
                continue
            member.process.send_signal(signal.SIGSTOP)  # nothing it does can land now
            time.sleep(0.3)
            with engine.connect() as connection:
                still = connection.execute(
                    text("SELECT status FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}
                ).scalar()
            if still == "doing":
                cluster.kill(member)
                return str(transfer_id), member
            member.process.send_signal(signal.SIGCONT)
        time.sleep(0.05)
    raise AssertionError("no worker was ever seen in the middle of a job")


def _commit_without_queuing(store: Path, url: str) -> None:
    """A receiver (in process) commits a transfer and dies before it queues the job."""
    app = create_app(ground_settings(store, database_url=url), role="receiver")
    with TestClient(app) as client:
        client.app.state.context.service.on_committed = None
        Link(client).upload(LOST, make_scene(seed=9).data)


def _wait_processed(engine: Any, timeout_s: float) -> dict[str, int]:
    """Until every transfer is processed or failed and no job is waiting or running (a job
    ends just after its transfer's record)."""
    deadline = time.monotonic() + timeout_s
    while True:
        with engine.connect() as connection:
            states = dict(connection.execute(text(_STATES)).all())
            open_jobs = connection.execute(text(_OPEN_JOBS)).scalar()
        done = states.get("processed", 0) + states.get("failed", 0)
        if done >= TRANSFERS + 1 and open_jobs == 0:
            return states
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout_s} s the transfers are {states}")
        time.sleep(0.5)


@pytest.mark.timeout(600)
def test_every_transfer_processed_once_through_a_killed_worker_and_a_restarted_receiver(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    url = postgres_server.new_database()
    cluster = GroundCluster(tmp_path, url, LINK_KEY, dict(SETTINGS))
    engine = create_engine(url)
    scenes = [make_scene(seed=seed) for seed in range(4)]
    receivers = [cluster.start("receiver") for _ in range(2)]
    link = ClusterLink(receivers, LINK_KEY)
    try:
        workers = [cluster.start("worker") for _ in range(2)]
        old_pid = receivers[0].pid
        restart = threading.Thread(target=cluster.restart, args=(receivers[0],))
        receipts = []
        started = time.monotonic()
        for index in range(TRANSFERS):
            if index == TRANSFERS // 4:
                restart.start()  # uploads go on, to whichever receiver answers
            scene = scenes[index % len(scenes)]
            receipts.append(link.upload(f"scale-{index:03d}", scene.data, "cloud", "jpeg2000"))
        restart.join()
        uploaded_s = time.monotonic() - started
        killed_in, victim = _kill_mid_job(cluster, engine, workers)
        killed_at = time.time()
        _commit_without_queuing(tmp_path / "store", url)
        states = _wait_processed(engine, timeout_s=300)
        done_s = time.monotonic() - started

        assert receivers[0].pid != old_pid
        assert len({r["transfer_id"] for r in receipts}) == TRANSFERS
        assert states == {"processed": TRANSFERS + 1}, states
        with engine.connect() as connection:
            jobs = connection.execute(text(_JOBS)).all()
            claims = dict(connection.execute(text(_CLAIMS)).all())
            succeeded = connection.execute(text(_SUCCEEDED)).scalar()
            by = connection.execute(text(_BY), {"t": killed_in}).scalar()
        # one job per transfer, each done once; the killed one done by its retry
        assert sorted(job[0] for job in jobs) == sorted(claims)
        assert {job[1] for job in jobs} == {"succeeded"}
        assert succeeded == TRANSFERS + 1
        assert claims[killed_in] == 2 and claims[LOST] == 1
        assert sum(claims.values()) == TRANSFERS + 2
        assert by is not None and not by.endswith(f":{victim.pid}")  # the retry's worker
        with engine.connect() as connection:
            retried_at = connection.execute(text(_RETRIED), {"t": killed_in}).scalar()
        print(
            f"\n{TRANSFERS} uploads through 2 receivers in {uploaded_s:.1f} s "
            f"({link.retries} requests retried while receiver 0 restarted); worker "
            f"{victim.pid} killed in {killed_in}; it was processed again "
            f"{float(retried_at) - killed_at:.1f} s after the kill; all {TRANSFERS + 1} processed "
            f"{done_s:.1f} s after the first upload"
        )
    finally:
        link.close()
        cluster.close()
        engine.dispose()
