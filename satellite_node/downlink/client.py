"""A signed client of the ground's protocol routes (httpx), with its errors sorted in two kinds.

:class:`GroundUnavailableError` means "try again later" (the ground is down, slow, busy, or the
bytes were damaged on the way); :class:`GroundRefusedError` means retrying the same request
cannot help (the ground judged it wrong). httpx errors never leave this module.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterator
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
PIECE_BYTES = 16 * 1024  # how a chunk's body is handed to the socket (progress granularity)
TCP_RTO_MAX_MS = getattr(socket, "TCP_RTO_MAX_MS", 44)  # Linux 6.15+
RTO_MAX_MS = 1000  # the smallest cap Linux accepts
PROBE_TIMEOUT_S = 2.0
SocketOption = tuple[int, int, int]


def link_socket_options() -> list[SocketOption]:
    """TCP options of the downlink's connections.

    No Nagle delay on a chunk's last segment; at most two pieces of a body queued unsent in
    the kernel (``TCP_NOTSENT_LOWAT``), so "the body is on the socket" means it is nearly on
    the link, and the next chunk's PUT does not start a whole socket buffer early (two TCP
    flows racing through tbf's short queue lose packets); and, where the kernel offers it
    (Linux 6.15+), the retransmission backoff capped at 1 s: a connection stalled by an outage
    then resumes
    within a second of the link returning, instead of after about as long again as the outage
    lasted (measured through ``deploy/netns-link``: 4 s late after a 4 s outage), so a chunk
    cut by the outage finishes on its connection instead of being sent again.
    """
    options = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    if hasattr(socket, "TCP_NOTSENT_LOWAT"):
        options.append((socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT, 2 * PIECE_BYTES))
    if sys.platform.startswith("linux"):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.setsockopt(socket.IPPROTO_TCP, TCP_RTO_MAX_MS, RTO_MAX_MS)
            except OSError:
                return options  # an older kernel: TCP's own backoff, slower after outages
        options.append((socket.IPPROTO_TCP, TCP_RTO_MAX_MS, RTO_MAX_MS))
    return options


def _transport(*, keep_alive: bool = True) -> httpx.HTTPTransport:
    limits = httpx.Limits() if keep_alive else httpx.Limits(max_keepalive_connections=0)
    return httpx.HTTPTransport(socket_options=link_socket_options(), limits=limits)


class ChunkBody:
    """A chunk's bytes as a stream of pieces that reports how many the socket has taken.

    ``on_progress(n)`` runs after each piece is written; ``n == len(data)`` means the whole
    body is on the socket (the kernel sends its tail while the caller may start the next
    request). Re-iterable, so a request retried on a fresh connection streams it again.
    """

    def __init__(self, data: bytes, on_progress: Callable[[int], None]) -> None:
        self.data, self.on_progress = data, on_progress

    def __iter__(self) -> Iterator[bytes]:
        view = memoryview(self.data)
        if not view:
            self.on_progress(0)
        for start in range(0, len(view), PIECE_BYTES):
            yield bytes(view[start : start + PIECE_BYTES])
            self.on_progress(min(len(view), start + PIECE_BYTES))


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
        transport: an httpx transport (tests wire fault injection here); by default one with
            :func:`link_socket_options`. Requests may come from several threads at once (the
            sender's chunks in flight, creates and commits, one connection each).
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
        self._http = httpx.Client(timeout=timeout, transport=transport or _transport())
        # probes, and the first chunk after an outage, never reuse a connection: a kept-alive
        # one may be stalled by the very outage (or left idle through it), while a fresh one is
        # refused at once when the link is down and starts clean when it is back
        self._fresh_http = httpx.Client(
            timeout=timeout, transport=transport or _transport(keep_alive=False)
        )
        self._probe_timeout = httpx.Timeout(PROBE_TIMEOUT_S, connect=timeout.connect)

    def close(self) -> None:
        """Close both connection pools."""
        self._http.close()
        self._fresh_http.close()

    def probe(self, transfer_id: str) -> bool:
        """One signed ``GET /v1/transfers/{id}`` on a fresh connection with a short timeout.

        Returns:
            True when the ground answered anything (the link carries bytes), False when no
            answer came (link down, ground not listening, timed out).
        """
        path = self._prefix + routes.transfer_path(transfer_id)
        headers = sign_request(self._key, self._key_id, "GET", path, b"")
        try:
            self._fresh_http.get(
                self._base + routes.transfer_path(transfer_id),
                headers=headers,
                timeout=self._probe_timeout,
            )
        except httpx.HTTPError:
            return False
        return True

    def _send(
        self,
        method: str,
        route: str,
        body: bytes,
        extra: dict[str, str],
        what: str,
        answer: type[AnswerT],
        stream: ChunkBody | None = None,
        fresh: bool = False,
    ) -> AnswerT:
        path = self._prefix + route
        headers = sign_request(self._key, self._key_id, method, path, body) | extra
        if stream is not None:  # streamed with its length, never chunked transfer-encoding
            headers["Content-Length"] = str(len(body))
        content = body if stream is None else stream
        try:
            http = self._fresh_http if fresh else self._http
            response = http.request(method, self._base + route, content=content, headers=headers)
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

    def put_chunk(
        self,
        transfer_id: str,
        index: int,
        data: bytes,
        on_progress: Callable[[int], None] | None = None,
        *,
        fresh: bool = False,
    ) -> ChunkAck:
        """``PUT /v1/transfers/{id}/chunks/{n}`` with the chunk's CRC32C.

        Args:
            transfer_id: the transfer the chunk belongs to.
            index: the chunk's position, from 0.
            data: the chunk's bytes.
            on_progress: called with the bytes the socket has taken so far (see
                :class:`ChunkBody`); None sends the body in one write.
            fresh: on a new connection of its own (the first chunk after an outage).
        """
        extra = {HEADER_CHUNK_CRC32C: crc32c_hex(data), "Content-Type": "application/octet-stream"}
        return self._send(
            "PUT",
            routes.chunk_path(transfer_id, index),
            data,
            extra,
            f"chunk {index} of {transfer_id}",
            ChunkAck,
            None if on_progress is None else ChunkBody(data, on_progress),
            fresh,
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
