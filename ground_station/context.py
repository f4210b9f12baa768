"""Everything one running ground station holds, built in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from ground_station.metrics import GroundMetrics
from ground_station.processing.decode import WorkerLimits
from ground_station.settings import GroundSettings
from ground_station.store import TransferStore
from ground_station.transfers import TransferService
from shared.protocol.signing import NonceStore
from shared.protocol.tokens import TokenTable

if TYPE_CHECKING:  # the dashboard package imports its routes, which import this module
    from ground_station.dashboard.state import DashboardState


class Processing(Protocol):
    """What processes committed transfers in a role: the single process's threads
    (:class:`~ground_station.processing.pipeline.Processor`), a receiver's job queue or a
    worker's job engine (:mod:`ground_station.jobs`)."""

    def alive(self) -> bool:
        """True while it can take work."""
        ...


@dataclass
class GroundContext:
    """The app's live parts (on ``app.state.context``)."""

    settings: GroundSettings
    role: str
    keys: dict[str, bytes]
    nonces: NonceStore
    engine: Engine
    sessions: sessionmaker
    store: TransferStore
    metrics: GroundMetrics
    service: TransferService
    processing: Processing | None
    worker_limits: WorkerLimits
    dashboard: DashboardState
    read_tokens: TokenTable | None = None
    session_key: bytes = b""
