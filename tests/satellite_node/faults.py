"""A fault injector in front of a real ASGI app: answers 5xx, or stalls, on chosen requests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any


class FaultInjector:
    """Wraps an ASGI app; each HTTP request takes the next fault from ``plan`` (if any).

    Faults: ``"503"`` (answer 503 without calling the app), ``"500-after"`` (let the app
    handle the request, then answer 500: the work is done but the caller cannot know),
    ``"slow"`` (stall ``delay_s`` before the app), ``"ok"``. Only requests whose path passes
    ``match`` consume the plan.
    """

    def __init__(
        self,
        app: Any,
        plan: list[str],
        *,
        delay_s: float = 2.0,
        match: Callable[[str], bool] = lambda path: path.startswith("/v1/transfers"),
    ) -> None:
        self.app, self.plan, self.delay_s, self.match = app, list(plan), delay_s, match
        self.injected: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not self.match(scope["path"]) or not self.plan:
            await self.app(scope, receive, send)
            return
        fault = self.plan.pop(0)
        self.injected.append(fault)
        if fault == "503":
            await self._answer(send, 503)
        elif fault == "500-after":
            await self.app(scope, receive, self._swallow)
            await self._answer(send, 500)
        else:
            if fault == "slow":
                await asyncio.sleep(self.delay_s)
            await self.app(scope, receive, send)

    @staticmethod
    async def _swallow(message: dict[str, Any]) -> None:
        return None

    @staticmethod
    async def _answer(send: Any, status: int) -> None:
        body = json.dumps({"error": "InjectedFault", "detail": f"injected {status}"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})
