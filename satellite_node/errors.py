"""The one handler mapping domain errors to HTTP statuses and an ``ErrorBody``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from satellite_node.api.deps import NotReadyError
from shared import errors as e
from shared.protocol.messages import ErrorBody

LOG = logging.getLogger(__name__)

# Most specific first: the first class an error is an instance of decides.
STATUS_BY_ERROR: tuple[tuple[type[e.EODownlinkError], int], ...] = (
    (NotReadyError, 503),
    (e.PayloadTooLargeError, 413),
    (e.ResourceLimitError, 413),
    (e.StorageFullError, 507),
    (e.NotFoundError, 404),
    (e.AuthenticationError, 401),
    (e.ConflictError, 409),
    (e.InvalidRasterError, 422),
    (e.DatasetError, 422),
    (e.ConfigurationError, 422),
    (e.IntegrityError, 422),
)


def status_for(exc: e.EODownlinkError) -> int:
    for cls, code in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return code
    return 500


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    code = status_for(exc) if isinstance(exc, e.EODownlinkError) else 500
    if code >= 500:
        LOG.error("%s %s failed: %s", request.method, request.url.path, exc)
    body = ErrorBody(error=type(exc).__name__, detail=str(exc))
    return JSONResponse(body.model_dump(), status_code=code)


def install_error_handler(app: FastAPI) -> None:
    app.add_exception_handler(e.EODownlinkError, _handle)
    document_error_body(app)


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
