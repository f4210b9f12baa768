"""Request bodies bounded while they stream, before any framework spools them.

Starlette reads a whole multipart body into temporary files before a route runs, so a limit
checked in the route comes after the bytes are on disk. :class:`BodyLimit` is an ASGI
middleware in front of the app: a declared ``Content-Length`` over the limit is answered 413
before one byte of the body is read, and a body without one (chunked) is cut off as soon as
the bytes received pass the limit. The answer is the service's usual JSON error body, and the
connection is closed (the rest of the body is never read).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from shared.protocol.http_errors import error_response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_METHODS = frozenset({"POST", "PUT", "PATCH"})


class _TooLarge(Exception):
    """Raised from ``receive`` once the body passes the limit (caught by the middleware)."""


class BodyLimit:
    """ASGI middleware: refuse a request body over ``max_bytes`` while it streams (413).

    Args:
        app: the ASGI app behind it.
        max_bytes: the largest body accepted, in bytes.
        name: what the limit is called in the error message (e.g. ``upload``).
        hint: what the sender should do instead, appended to the error message.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, name: str = "body", hint: str = "") -> None:
        self.app, self.max_bytes, self.name, self.hint = app, max_bytes, name, hint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with a counting ``receive``; answer 413 once it is too large."""
        if scope["type"] != "http" or scope["method"] not in _METHODS:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send, f"Content-Length {declared}")
            return
        state = {"received": 0, "tripped": False, "answered": False, "started": False}

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_bytes:
                    state["tripped"] = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            if state["tripped"]:  # whatever the app made of the cut-off body: answer 413
                if not state["answered"] and not state["started"]:
                    state["answered"] = True
                    await self._refuse(scope, receive, send, f"{state['received']} bytes received")
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _TooLarge:
            pass
        if state["tripped"] and not state["answered"] and not state["started"]:
            await self._refuse(scope, receive, send, f"{state['received']} bytes received")

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, what: str) -> None:
        detail = f"request body over the {self.max_bytes}-byte {self.name} limit ({what})"
        detail += f"; {self.hint}" if self.hint else ""
        response = error_response(413, "PayloadTooLargeError", detail, {"connection": "close"})
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isascii() and text.isdigit() else None
    return None
