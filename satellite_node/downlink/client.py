"""A signed client of the ground's protocol routes (httpx), with its errors sorted in two kinds.

:class:`GroundUnavailableError` means "try again later" (the ground is down, slow, busy, or the
bytes were damaged on the way); :class:`GroundRefusedError` means retrying the same request
cannot help (the ground judged it wrong). httpx errors never leave this module.
"""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from shared.errors import LinkError
from shared.protocol import routes
from shared.protocol.chunks import HEADER_CHUNK_CRC32C, crc32c_hex
from shared.protocol.messages import (
    ChunkAck,
    CommitRequest,
    ErrorBody,
    Receipt,
    TransferCreate,
    TransferStatus,
)
from shared.protocol.signing import sign_request

AnswerT = TypeVar("AnswerT", bound=BaseModel)
_RETRY_STATUS = {408: "http_timeout", 425: "http_busy", 429: "http_busy", 507: "ground_full"}


class GroundUnavailableError(LinkError):
    """The request did not succeed now but may later; ``reason`` labels the retry counter."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class GroundRefusedError(LinkError):
    """The ground refused the request for a reason a retry cannot fix."""

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


def _detail(response: httpx.Response) -> tuple[str, str]:
    try:
        body = ErrorBody.model_validate_json(response.content)
    except ValidationError:
        return "", response.text[:300]
    return body.error, body.detail


def _classify(response: httpx.Response, what: str) -> None:
    code = response.status_code
    if code < 400:
        return
    error, detail = _detail(response)
    message = f"{what}: ground answered {code} {error} {detail}".strip()
    if code >= 500 and code != 507:
        raise GroundUnavailableError(message, reason="http_5xx")
    if code in _RETRY_STATUS:
        raise GroundUnavailableError(message, reason=_RETRY_STATUS[code])
    if code == 401:  # a clock step or a key being rotated on the ground; retry, loudly counted
        raise GroundUnavailableError(message, reason="auth_refused")
    if code == 404:
        raise GroundUnavailableError(message, reason="transfer_unknown")
    if code == 422 and error == "IntegrityError":
        raise GroundUnavailableError(message, reason="crc_rejected")
    raise GroundRefusedError(message, status_code=code)


class GroundClient:
    """Signed requests to the ground station.

    Args:
        ground_url: base URL, e.g. ``http://ground:8001`` (a path prefix is kept).
        key, key_id: the shared HMAC key and its id.
        timeout: httpx timeout of every request (explicit; never httpx's 5 s default).
        transport: an httpx transport (tests wire fault injection here).
    """

    def __init__(
        self,
        ground_url: str,
        *,
        key: bytes,
        key_id: str,
        timeout: httpx.Timeout,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._base = ground_url.rstrip("/")
        self._prefix = urlsplit(self._base).path.rstrip("/")
        self._key = key
        self._key_id = key_id
        self._http = httpx.Client(timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def _send(
        self,
        method: str,
        route: str,
        body: bytes,
        extra: dict[str, str],
        what: str,
        answer: type[AnswerT],
    ) -> AnswerT:
        path = self._prefix + route
        headers = sign_request(self._key, self._key_id, method, path, body) | extra
        try:
            response = self._http.request(method, self._base + route, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise GroundUnavailableError(f"{what}: timed out ({exc})", reason="timeout") from exc
        except httpx.HTTPError as exc:
            raise GroundUnavailableError(
                f"{what}: {type(exc).__name__}: {exc}", reason="transport"
            ) from exc
        _classify(response, what)
        try:
            return answer.model_validate_json(response.content)
        except ValidationError as exc:
            raise GroundUnavailableError(
                f"{what}: unreadable answer ({exc.error_count()} errors)", reason="bad_answer"
            ) from exc

    def create(self, request: TransferCreate) -> TransferStatus:
        """``POST /v1/transfers``: create the transfer or get the existing one."""
        body = request.model_dump_json().encode()
        return self._send(
            "POST",
            routes.TRANSFERS,
            body,
            {"Content-Type": "application/json"},
            f"create {request.transfer_id}",
            TransferStatus,
        )

    def status(self, transfer_id: str) -> TransferStatus:
        """``GET /v1/transfers/{id}``: state and missing chunk ranges."""
        return self._send(
            "GET",
            routes.transfer_path(transfer_id),
            b"",
            {},
            f"status {transfer_id}",
            TransferStatus,
        )

    def put_chunk(self, transfer_id: str, index: int, data: bytes) -> ChunkAck:
        """``PUT /v1/transfers/{id}/chunks/{n}`` with the chunk's CRC32C."""
        extra = {HEADER_CHUNK_CRC32C: crc32c_hex(data), "Content-Type": "application/octet-stream"}
        return self._send(
            "PUT",
            routes.chunk_path(transfer_id, index),
            data,
            extra,
            f"chunk {index} of {transfer_id}",
            ChunkAck,
        )

    def commit(self, transfer_id: str, sha256: str) -> Receipt:
        """``POST /v1/transfers/{id}/commit``: the custody receipt."""
        body = CommitRequest(sha256=sha256).model_dump_json().encode()
        return self._send(
            "POST",
            routes.commit_path(transfer_id),
            body,
            {"Content-Type": "application/json"},
            f"commit {transfer_id}",
            Receipt,
        )
