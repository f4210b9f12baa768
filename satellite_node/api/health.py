"""Liveness, readiness and the Prometheus scrape."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from satellite_node.api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request, response: Response) -> dict[str, str]:
    """The store is open and the worker and sender threads run."""
    services = getattr(request.app.state, "services", None)
    if services is None or not services.alive():
        response.status_code = 503
        return {"status": "not ready"}
    return {"status": "ready"}


@router.get("/metrics")
def metrics(services: ServicesDep) -> Response:
    """Prometheus text format of this app's registry."""
    return Response(generate_latest(services.registry), media_type=CONTENT_TYPE_LATEST)
