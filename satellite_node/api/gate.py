"""The token check, in front of everything else: a request without the right token is
answered 401 or 403 before one byte of its body is read (Starlette would otherwise spool a
whole multipart upload to disk before any route or dependency ran)."""

from __future__ import annotations

from satellite_node.auth import SCHEME, TokenTable, needed_role
from shared.errors import AuthenticationError
from shared.protocol.body_limit import ASGIApp, Receive, Scope, Send
from shared.protocol.http_errors import error_response, status_for


def _authorization(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return str(value.decode("latin-1"))
    return None


class TokenGate:
    """ASGI middleware: the caller's bearer token must carry the role the route needs.

    Args:
        app: the ASGI app behind it.
        tokens: the configured tokens.
    """

    def __init__(self, app: ASGIApp, tokens: TokenTable) -> None:
        self.app, self.tokens = app, tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass an authorised request on; answer any other one at once and close."""
        if scope["type"] == "http":
            needed = needed_role(scope["method"], scope["path"])
            if needed is not None:
                try:
                    scope.setdefault("state", {})["token"] = self.tokens.check(
                        _authorization(scope), needed
                    )
                except AuthenticationError as exc:
                    headers = {"connection": "close", "www-authenticate": SCHEME}
                    code = status_for(exc)
                    response = error_response(code, type(exc).__name__, str(exc), headers)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
