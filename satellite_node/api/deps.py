"""Dependencies of the routes: the running services of this app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from satellite_node.services import Services
from shared.errors import EODownlinkError


class NotReadyError(EODownlinkError, RuntimeError):
    """The app's services are not running (the lifespan has not started or has ended)."""


def get_services(request: Request) -> Services:
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:
        raise NotReadyError("the satellite node is not running yet; retry in a moment")
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
