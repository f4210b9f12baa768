"""The one exception handler: domain errors become status codes with an ``ErrorBody``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import (
    AuthenticationError,
    CheckpointError,
    CodecError,
    ConfigurationError,
    ConflictError,
    ContainerError,
    EODownlinkError,
    IntegrityError,
    InvalidRasterError,
    NotFoundError,
    PayloadTooLargeError,
    ResourceLimitError,
    StorageFullError,
)
from shared.protocol.messages import ErrorBody

log = logging.getLogger(__name__)

#: First match wins: subclasses before their bases.
STATUS_BY_ERROR: tuple[tuple[type[EODownlinkError], int], ...] = (
    (AuthenticationError, 401),
    (NotFoundError, 404),
    (ConflictError, 409),
    (PayloadTooLargeError, 413),
    (ResourceLimitError, 413),
    (IntegrityError, 422),
    (InvalidRasterError, 422),
    (ContainerError, 422),
    (ConfigurationError, 422),
    (StorageFullError, 507),
    (CodecError, 500),
    (CheckpointError, 500),
)


def status_for(exc: EODownlinkError) -> int:
    """The HTTP status of a domain error (400 for any other client-side domain error)."""
    for cls, status in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return 400


def _body(
    status: int, error: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        ErrorBody(error=error, detail=detail).model_dump(), status_code=status, headers=headers
    )


async def _domain(_request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, EODownlinkError):  # registered for EODownlinkError only
        raise exc
    status = status_for(exc)
    if status >= 500:
        log.error("request failed: %s: %s", type(exc).__name__, exc)
    headers = {"WWW-Authenticate": "EODL1-HMAC-SHA256"} if status == 401 else None
    return _body(status, type(exc).__name__, str(exc), headers)


async def _validation(_request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    parts = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors]
    return _body(422, "RequestValidationError", "; ".join(parts) or str(exc))


async def _http(_request: Request, exc: Exception) -> JSONResponse:
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    detail = exc.detail if isinstance(exc, StarletteHTTPException) else str(exc)
    return _body(status, "HTTPError", str(detail))


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected %s while serving a request", type(exc).__name__, exc_info=exc)
    return _body(500, "InternalError", "the ground station failed unexpectedly; see its log")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handler for domain errors (and JSON bodies for FastAPI's own errors)."""
    app.add_exception_handler(EODownlinkError, _domain)
    app.add_exception_handler(Exception, _unexpected)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
