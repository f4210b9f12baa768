"""Dependencies of the routes: the running context of this app (its store, link, worker, sender)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from satellite_node.context import SatelliteContext
from shared.errors import EODownlinkError


class NotReadyError(EODownlinkError, RuntimeError):
    """The app's context is not running (the lifespan has not started or has ended)."""


def get_context(request: Request) -> SatelliteContext:
    """The running node's context (503 until the lifespan has built it)."""
    context: SatelliteContext | None = getattr(request.app.state, "context", None)
    if context is None:
        raise NotReadyError("the satellite node is not running yet; retry in a moment")
    return context


ContextDep = Annotated[SatelliteContext, Depends(get_context)]
