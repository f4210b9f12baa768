"""The one exception handler: domain errors become status codes with an ``ErrorBody``."""

from __future__ import annotations

import errno
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import EODownlinkError
from shared.protocol.http_errors import (
    document_error_body,
    error_response,
    install_disconnect_handler,
    retry_headers,
    status_for,
)

log = logging.getLogger(__name__)


_body = error_response


async def _domain(_request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, EODownlinkError):  # registered for EODownlinkError only
        raise exc
    status = status_for(exc)
    if status >= 500:
        log.error("request failed: %s: %s", type(exc).__name__, exc)
    headers = retry_headers(exc)
    if status == 401:
        headers["WWW-Authenticate"] = "EODL1-HMAC-SHA256"
    return _body(status, type(exc).__name__, str(exc), headers or None)


async def _validation(_request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    parts = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors]
    return _body(422, "RequestValidationError", "; ".join(parts) or str(exc))


async def _http(_request: Request, exc: Exception) -> JSONResponse:
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    detail = exc.detail if isinstance(exc, StarletteHTTPException) else str(exc)
    return _body(status, "HTTPError", str(detail))


def _disk_full(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is the disk or the database running out of room:
    ENOSPC/EDQUOT from a file write, or SQLite's SQLITE_FULL through SQLAlchemy."""
    seen: BaseException | None = exc
    for _ in range(8):  # bounded walk of the cause chain
        if seen is None:
            return False
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "database or disk is full" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__ or getattr(seen, "orig", None)
    return False


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    if _disk_full(exc):
        log.error("the ground store's disk is full: %s", exc)
        detail = f"the ground store's disk is full ({exc}); free space on the ground"
        return _body(507, "StorageFullError", detail)
    log.error("unexpected %s while serving a request", type(exc).__name__, exc_info=exc)
    return _body(500, "InternalError", "the ground station failed unexpectedly; see its log")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handler for domain errors (and JSON bodies for FastAPI's own errors)."""
    app.add_exception_handler(EODownlinkError, _domain)
    app.add_exception_handler(Exception, _unexpected)
    install_disconnect_handler(app, log)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    document_error_body(app)
