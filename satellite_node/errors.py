"""The one handler mapping domain errors to HTTP statuses and an ``ErrorBody``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from satellite_node.api.deps import NotReadyError
from shared.errors import EODownlinkError
from shared.protocol.http_errors import (
    document_error_body,
    error_response,
    install_disconnect_handler,
    retry_headers,
    status_for,
)

LOG = logging.getLogger(__name__)

SERVICE_ERRORS: tuple[tuple[type[EODownlinkError], int], ...] = ((NotReadyError, 503),)


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    code = status_for(exc, SERVICE_ERRORS, default=500) if isinstance(exc, EODownlinkError) else 500
    if code >= 500:
        LOG.error("%s %s failed: %s", request.method, request.url.path, exc)
    return error_response(code, type(exc).__name__, str(exc), retry_headers(exc) or None)


def install_error_handler(app: FastAPI) -> None:
    """Register the handler for domain errors."""
    app.add_exception_handler(EODownlinkError, _handle)
    install_disconnect_handler(app, LOG)
    document_error_body(app)
