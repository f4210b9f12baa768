"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text

from ground_station.api.deps import ContextDep, ReadAccess
from ground_station.db import TransferRecord
from shared.errors import EODownlinkError
from shared.protocol.routes import HEALTHZ, METRICS, READYZ

router = APIRouter(tags=["health"])


@router.get(HEALTHZ)
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get(READYZ)
def readyz(context: ContextDep, response: Response) -> dict[str, object]:
    """The database answers, the store has room and (in a role that processes) processing
    runs."""
    checks: dict[str, str] = {}
    try:
        with context.sessions() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means not ready
        checks["database"] = f"unavailable: {exc}"
    try:
        context.store.check_free(0)
        checks["store"] = "ok"
    except EODownlinkError as exc:
        checks["store"] = str(exc)
    if context.processing is not None:
        checks["processing"] = "ok" if context.processing.alive() else "processing stopped"
    ready = all(value == "ok" for value in checks.values())
    response.status_code = 200 if ready else 503
    return {"status": "ready" if ready else "not ready", "role": context.role, "checks": checks}


def _job_counts(context: Any) -> None:
    """The job engine's jobs by status, when its tables exist (a receiver made them)."""
    with context.engine.connect() as connection:
        if connection.scalar(text("SELECT to_regclass('procrastinate_jobs')")) is None:
            return
        rows = connection.execute(
            text("SELECT status, count(*) FROM procrastinate_jobs GROUP BY status")
        ).all()
    for status in ("todo", "doing", "succeeded", "failed"):
        context.metrics.jobs.labels(status=status).set(0)
    for status, count in rows:
        context.metrics.jobs.labels(status=str(status)).set(count)


@router.get(METRICS, response_class=Response, dependencies=[ReadAccess])
def metrics(context: ContextDep) -> Response:
    """Prometheus text format: transfers by state, chunks, worker failures, latencies."""
    with context.sessions() as session:
        rows = session.execute(
            select(TransferRecord.state, func.count()).group_by(TransferRecord.state)
        ).all()
    context.metrics.set_state_counts({state: count for state, count in rows})
    if (
        context.role in ("receiver", "worker", "api")
        and context.engine.dialect.name == "postgresql"
    ):
        _job_counts(context)
    return Response(generate_latest(context.metrics.registry), media_type=CONTENT_TYPE_LATEST)
