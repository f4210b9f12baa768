"""Dependencies of the routes: the app's context, and signed, size-limited request bodies.

Bodies are read here (async, bounded) and verified before any route runs; the routes
themselves are plain ``def`` and run in the thread pool, so no blocking work runs on the loop.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ground_station.api.access import COOKIE, bearer_reader, session_holder
from ground_station.context import GroundContext
from shared.errors import AuthenticationError, IntegrityError, PayloadTooLargeError
from shared.protocol.signing import HEADER_SIGNATURE, verify_request

MAX_JSON_BYTES = 1024 * 1024


def get_context(request: Request) -> GroundContext:
    """The running app's context."""
    context: GroundContext = request.app.state.context
    return context


ContextDep = Annotated[GroundContext, Depends(get_context)]


def signed_path(request: Request) -> str:
    """The path and query exactly as the client sent them (what it signed)."""
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if raw else request.url.path
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 before reading when it is declared too large.

    Raises:
        PayloadTooLargeError: ``Content-Length`` (or the streamed size) exceeds ``limit``.
    """
    declared = request.headers.get("content-length")
    too_big = f"request body over the {limit}-byte limit; send smaller chunks"
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"{too_big} (Content-Length {declared})")
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise PayloadTooLargeError(too_big)
    return bytes(body)


def verify(context: GroundContext, request: Request, body: bytes) -> str:
    """Verify the request's signature; count and re-raise a refusal."""
    try:
        return verify_request(
            context.keys,
            request.method,
            signed_path(request),
            request.headers,
            body,
            context.nonces,
            max_skew_s=context.settings.max_skew_s,
        )
    except AuthenticationError:
        context.metrics.auth_failures.inc()
        raise


async def signed_json(request: Request, context: ContextDep) -> bytes:
    """A verified JSON body (at most 1 MiB)."""
    body = await read_body(request, MAX_JSON_BYTES)
    verify(context, request, body)
    return body


async def signed_chunk(request: Request, context: ContextDep) -> bytes:
    """A verified chunk body (at most ``GS_MAX_CHUNK_BYTES``)."""
    body = await read_body(request, context.settings.max_chunk_bytes)
    try:
        verify(context, request, body)
    except IntegrityError:
        context.metrics.chunks.labels(outcome="crc_fault").inc()
        raise
    return body


async def read_access(request: Request, context: ContextDep) -> None:
    """A read passes when it is signed (and verifies), carries a reader token or a session
    cookie, or when ``GS_PUBLIC_READS`` is on (see :mod:`ground_station.api.access`)."""
    if request.headers.get(HEADER_SIGNATURE) is not None:
        verify(context, request, await read_body(request, MAX_JSON_BYTES))
        return
    if context.settings.public_reads or reader_of(request, context) is not None:
        return
    context.metrics.auth_failures.inc()
    raise AuthenticationError(
        "reads need a sign-in: open /signin in a browser, send 'Authorization: Bearer "
        "<reader token>' (GS_READ_TOKENS), or set GS_PUBLIC_READS=true to open them to anyone"
    )


def reader_of(request: Request, context: GroundContext) -> str | None:
    """Who reads: the holder of a valid bearer token or session cookie, else None.

    Raises:
        AuthenticationError: a bearer token that is not configured (counted).
    """
    try:
        name = bearer_reader(request.headers.get("authorization"), context.read_tokens)
    except AuthenticationError:
        context.metrics.auth_failures.inc()
        raise
    if name is not None:
        return name
    return session_holder(request.cookies.get(COOKIE), context.session_key)


SignedJson = Annotated[bytes, Depends(signed_json)]
SignedChunk = Annotated[bytes, Depends(signed_chunk)]
ReadAccess = Depends(read_access)
