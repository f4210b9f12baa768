"""How both services answer a refusal: one status per domain error, one JSON body.

Each app installs a handler built on :func:`status_for` and :func:`error_response`, and
:func:`document_error_body` so that its OpenAPI schema names the body it really sends.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from shared import errors as e
from shared.protocol.messages import ErrorBody

#: First match wins: subclasses before their bases.
STATUS_BY_ERROR: tuple[tuple[type[e.EODownlinkError], int], ...] = (
    (e.ForbiddenError, 403),
    (e.QuotaExceededError, 429),
    (e.BusyError, 503),
    (e.AuthenticationError, 401),
    (e.NotFoundError, 404),
    (e.ConflictError, 409),
    (e.PayloadTooLargeError, 413),
    (e.ResourceLimitError, 413),
    (e.IntegrityError, 422),
    (e.InvalidRasterError, 422),
    (e.ContainerError, 422),
    (e.DatasetError, 422),
    (e.ConfigurationError, 422),
    (e.StorageFullError, 507),
    (e.CodecError, 500),
    (e.CheckpointError, 500),
)


def status_for(
    exc: e.EODownlinkError,
    extra: tuple[tuple[type[e.EODownlinkError], int], ...] = (),
    default: int = 400,
) -> int:
    """The HTTP status of a domain error; ``extra`` entries (a service's own errors) go first."""
    for cls, status in extra + STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return default


def retry_headers(exc: Exception) -> dict[str, str]:
    """``Retry-After`` (whole seconds, at least 1) when the error knows when to retry."""
    retry_after_s = getattr(exc, "retry_after_s", None)
    if retry_after_s is None or retry_after_s == float("inf"):
        return {}
    return {"retry-after": str(max(1, math.ceil(retry_after_s)))}


def install_disconnect_handler(app: FastAPI, log: logging.Logger) -> None:
    """Answer a request whose client went away mid-body with one log line, no traceback.

    Registered for ``ClientDisconnect`` itself, so Starlette's exception middleware handles it;
    a handler for ``Exception`` would answer too, but the server would still log a traceback.
    """

    async def disconnected(request: Request, _exc: Exception) -> JSONResponse:
        log.info("%s %s: the client went away before sending its body", request.method,
                 request.url.path)  # fmt: skip
        return error_response(400, "ClientDisconnect", "the client disconnected mid-body")

    app.add_exception_handler(ClientDisconnect, disconnected)


def error_response(
    status: int, error: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSON ``ErrorBody`` answer."""
    body = ErrorBody(error=error, detail=detail).model_dump()
    return JSONResponse(body, status_code=status, headers=headers)


def document_error_body(app: FastAPI) -> None:
    """Make the OpenAPI schema tell the truth about 422: domain refusals answer an
    ``ErrorBody``, request validation FastAPI's ``HTTPValidationError`` (either may come)."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["ErrorBody"] = ErrorBody.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        refs = [{"$ref": "#/components/schemas/ErrorBody"}]
        if "HTTPValidationError" in components:
            refs.append({"$ref": "#/components/schemas/HTTPValidationError"})
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                answer = operation.get("responses", {}).get("422")
                if answer is not None:
                    answer["content"] = {"application/json": {"schema": {"anyOf": refs}}}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
