"""``create_app(settings)``: the ground station's FastAPI application.

Nothing happens at import. ``create_app`` checks the settings (a missing link key fails fast);
the lifespan opens the database and starts what the role runs: in the single process (role
``all``) the segmenters and the processing threads, which first pick up whatever a previous run
committed but did not process; in a ``receiver`` the job queue it defers to; in a ``worker``
the segmenters and the job engine's worker (:mod:`ground_station.jobs`); in the query ``api``
nothing but the database.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import APIRouter, FastAPI
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from ground_station import dashboard
from ground_station.api import geo, health, plans, query, transfers
from ground_station.api.access import session_key
from ground_station.api.errors import install_error_handlers
from ground_station.context import GroundContext, Processing
from ground_station.dashboard.state import DashboardState
from ground_station.db import make_engine, make_session_factory
from ground_station.jobs import JobQueue, JobWorker, conninfo
from ground_station.metrics import GroundMetrics
from ground_station.nonces import DbNonceStore
from ground_station.processing.decode import WorkerLimits
from ground_station.processing.pipeline import Processor
from ground_station.processing.segmenters import load_segmenters
from ground_station.settings import GroundSettings, get_settings
from ground_station.store import TransferStore
from ground_station.transfers import TransferLimits, TransferService
from shared.errors import ConfigurationError
from shared.protocol.tokens import TokenTable
from shared.sensors.profiles import PROFILES

log = logging.getLogger(__name__)

#: What each role serves. ``all`` is the single process (the default, on SQLite); the others
#: run apart, as many processes as wanted, on one PostgreSQL and one container store.
_READS = (
    transfers.status_router,
    query.router,
    geo.router,
    plans.router,
    health.router,
    dashboard.router,
)
ROUTERS: dict[str, tuple[APIRouter, ...]] = {
    "all": (transfers.router, *_READS),
    "receiver": (transfers.router, transfers.status_router, plans.router, health.router),
    "worker": (health.router,),
    "api": _READS,
}
ROLES = tuple(ROUTERS)


def worker_limits(settings: GroundSettings) -> WorkerLimits:
    """The decode worker's limits, built once: processing and the dashboard use the same."""
    return WorkerLimits(
        timeout_s=settings.decode_timeout_s,
        memory_mb=settings.decode_memory_mb,
        max_pixels=settings.max_pixels,
        max_bands=settings.max_bands,
        max_payload_bytes=settings.max_transfer_bytes,
        checkpoint_dirs=(
            (str(settings.codec_checkpoint_dir),) if settings.codec_checkpoint_dir else ()
        ),
    )


def _processing(
    settings: GroundSettings,
    role: str,
    engine: Engine,
    sessions: sessionmaker,
    store: TransferStore,
    metrics: GroundMetrics,
    decode_limits: WorkerLimits,
) -> Processing | None:
    """What processes committed transfers in this role (nothing in the query API's)."""
    url = settings.resolved_database_url()
    if role == "receiver":
        return JobQueue(url, engine)
    if role == "api":
        return None
    segmenters = load_segmenters(
        tuple(PROFILES),
        settings.segmenter_dir,
        settings.resolved_device(),
        tile_px=settings.segment_tile_px,
    )
    workers = settings.processing_workers
    processor = Processor(
        sessions, store, metrics, segmenters, decode_limits, workers, settings.decode_recycle_jobs
    )
    if role == "all":
        return processor
    return JobWorker(
        url, engine, processor, settings.job_heartbeat_s, settings.job_stalled_s, workers
    )


def build_context(settings: GroundSettings, role: str = "all") -> GroundContext:
    """Open the database and store and wire what ``role`` runs (blocking; a role that
    processes loads the segmenters).

    Raises:
        ConfigurationError: an unknown role, or a role that shares work (receiver, worker)
            on a database that is not PostgreSQL.
    """
    check_role(role, settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url())
    sessions = make_session_factory(engine)
    store = TransferStore(settings.data_dir / "transfers", settings.min_free_bytes)
    metrics = GroundMetrics()
    decode_limits = worker_limits(settings)
    processing = _processing(settings, role, engine, sessions, store, metrics, decode_limits)
    limits = TransferLimits(settings.max_chunk_bytes, settings.max_transfer_bytes)
    on_committed = processing.enqueue if isinstance(processing, Processor) else None
    if isinstance(processing, JobQueue):
        on_committed = processing.defer
    service = TransferService(sessions, store, metrics, limits, on_committed)
    return GroundContext(
        settings=settings,
        role=role,
        keys=settings.link_keys(),
        nonces=DbNonceStore(sessions, ttl_s=2 * settings.max_skew_s),
        engine=engine,
        sessions=sessions,
        store=store,
        metrics=metrics,
        service=service,
        processing=processing,
        worker_limits=decode_limits,
        dashboard=DashboardState(render_slots=settings.panel_renders),
        read_tokens=TokenTable(settings.read_tokens) if settings.read_tokens else None,
        session_key=session_key(next(iter(settings.link_keys().values()))),
    )


def check_role(role: str, settings: GroundSettings) -> None:
    """Refuse an unknown role, and a shared-work role on a database other than PostgreSQL.

    Raises:
        ConfigurationError: what is wrong and what to set.
    """
    if role not in ROLES:
        raise ConfigurationError(f"unknown ground role {role!r}; use one of {', '.join(ROLES)}")
    if role in ("receiver", "worker"):
        conninfo(settings.resolved_database_url())


async def _start(processing: Processing | None) -> None:
    if isinstance(processing, JobWorker):
        await processing.start()
    elif processing is not None:
        await to_thread.run_sync(processing.start)


async def _stop(processing: Processing | None) -> None:
    if isinstance(processing, JobWorker):
        await processing.stop()
    elif processing is not None:
        await to_thread.run_sync(processing.stop)


def create_app(settings: GroundSettings | None = None, role: str = "all") -> FastAPI:
    """Build the ground station app for ``role`` (see :data:`ROLES`).

    Raises:
        ConfigurationError: no usable link key (``GS_LINK_KEY``), an unknown role, a role
            that shares work on a database that is not PostgreSQL, or another bad setting.
    """
    settings = settings or get_settings()
    settings.link_keys()  # fail fast, before any server starts listening
    check_role(role, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ground = await to_thread.run_sync(build_context, settings, role)
        app.state.context = ground
        await _start(ground.processing)
        log.info("ground station ready (role %s), data in %s", role, settings.data_dir)
        try:
            yield
        finally:
            await _stop(ground.processing)
            ground.engine.dispose()

    app = FastAPI(
        title="EO Downlink ground station",
        version="1",
        summary="Receives signed, chunked container transfers; decodes, segments, measures.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for router in ROUTERS[role]:
        app.include_router(router)
    return app
