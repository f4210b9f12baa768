"""The token check, in front of everything else: a request without the right token is
answered 401 or 403 before one byte of its body is read (Starlette would otherwise spool a
whole multipart upload to disk before any route or dependency ran)."""

from __future__ import annotations

from satellite_node.auth import needed_role
from satellite_node.quotas import UploadRates
from shared.errors import (
    AuthenticationError,
    EODownlinkError,
    ForbiddenError,
    QuotaExceededError,
)
from shared.protocol.body_limit import ASGIApp, Receive, Scope, Send
from shared.protocol.http_errors import error_response, retry_headers, status_for
from shared.protocol.tokens import SCHEME, Role, TokenTable


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


class TokenGate:
    """ASGI middleware: the caller's bearer token must carry the role the route needs, and an
    upload must fit the token's rate quotas (charged at its declared ``Content-Length``, or at
    ``max_upload_bytes`` when it declares none).

    Args:
        app: the ASGI app behind it.
        tokens: the configured tokens.
        rates: the upload buckets of this app.
        max_upload_bytes: what an upload without a ``Content-Length`` is charged.
    """

    def __init__(
        self, app: ASGIApp, tokens: TokenTable, rates: UploadRates, max_upload_bytes: int
    ) -> None:
        self.app, self.tokens, self.rates = app, tokens, rates
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass an authorised request on; answer any other one at once and close."""
        if scope["type"] == "http":
            needed = needed_role(scope["method"], scope["path"])
            if needed is not None:
                try:
                    entry = self.tokens.check(_header(scope, b"authorization"), needed)
                    if needed is Role.UPLOADER:
                        self.rates.take(entry, self._declared(scope))
                except (AuthenticationError, QuotaExceededError) as exc:
                    await _refuse(exc, scope, receive, send)
                    return
                scope.setdefault("state", {})["token"] = entry
        await self.app(scope, receive, send)

    def _declared(self, scope: Scope) -> int:
        text = (_header(scope, b"content-length") or "").strip()
        return int(text) if text.isascii() and text.isdigit() else self.max_upload_bytes


async def _refuse(exc: EODownlinkError, scope: Scope, receive: Receive, send: Send) -> None:
    headers = {"connection": "close"}
    if isinstance(exc, AuthenticationError) and not isinstance(exc, ForbiddenError):
        headers["www-authenticate"] = SCHEME
    headers.update(retry_headers(exc))
    response = error_response(status_for(exc), type(exc).__name__, str(exc), headers)
    await response(scope, receive, send)
