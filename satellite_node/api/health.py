"""Liveness, readiness and the Prometheus scrape."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from satellite_node.api.deps import ContextDep
from shared.protocol.routes import HEALTHZ, METRICS, READYZ

router = APIRouter(tags=["health"])


@router.get(HEALTHZ)
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get(READYZ)
def readyz(request: Request, response: Response) -> dict[str, str]:
    """The store is open and the worker and sender threads run."""
    context = getattr(request.app.state, "context", None)
    if context is None or not context.alive():
        response.status_code = 503
        return {"status": "not ready"}
    return {"status": "ready"}


@router.get(METRICS)
def metrics(context: ContextDep) -> Response:
    """Prometheus text format of this app's registry."""
    return Response(generate_latest(context.registry), media_type=CONTENT_TYPE_LATEST)
