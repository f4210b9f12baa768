"""``create_app(settings)``: the ground station's FastAPI application.

Nothing happens at import. ``create_app`` checks the settings (a missing link key fails fast);
the lifespan opens the database, loads the segmenters once and starts the processing threads,
which first pick up whatever a previous run committed but did not process.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI

from ground_station import dashboard
from ground_station.api import health, plans, query, transfers
from ground_station.api.access import session_key
from ground_station.api.errors import install_error_handlers
from ground_station.context import GroundContext
from ground_station.dashboard.state import DashboardState
from ground_station.db import make_engine, make_session_factory
from ground_station.metrics import GroundMetrics
from ground_station.nonces import DbNonceStore
from ground_station.processing.decode import WorkerLimits
from ground_station.processing.pipeline import Processor
from ground_station.processing.segmenters import load_segmenters
from ground_station.settings import GroundSettings, get_settings
from ground_station.store import TransferStore
from ground_station.transfers import TransferLimits, TransferService
from shared.protocol.tokens import TokenTable
from shared.sensors.profiles import PROFILES

log = logging.getLogger(__name__)


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


def build_context(settings: GroundSettings) -> GroundContext:
    """Open the database and store and wire the services (blocking; loads the segmenters)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url())
    sessions = make_session_factory(engine)
    store = TransferStore(settings.data_dir / "transfers", settings.min_free_bytes)
    metrics = GroundMetrics()
    device = settings.resolved_device()
    segmenters = load_segmenters(
        tuple(PROFILES), settings.segmenter_dir, device, tile_px=settings.segment_tile_px
    )
    decode_limits = worker_limits(settings)
    processor = Processor(
        sessions, store, metrics, segmenters, decode_limits, settings.processing_workers
    )
    limits = TransferLimits(settings.max_chunk_bytes, settings.max_transfer_bytes)
    service = TransferService(sessions, store, metrics, limits, processor.enqueue)
    return GroundContext(
        settings=settings,
        keys=settings.link_keys(),
        nonces=DbNonceStore(sessions, ttl_s=2 * settings.max_skew_s),
        engine=engine,
        sessions=sessions,
        store=store,
        metrics=metrics,
        service=service,
        processor=processor,
        worker_limits=decode_limits,
        dashboard=DashboardState(render_slots=settings.panel_renders),
        read_tokens=TokenTable(settings.read_tokens) if settings.read_tokens else None,
        session_key=session_key(next(iter(settings.link_keys().values()))),
    )


def create_app(settings: GroundSettings | None = None) -> FastAPI:
    """Build the ground station app.

    Raises:
        ConfigurationError: no usable link key (``GS_LINK_KEY``) or another bad setting.
    """
    settings = settings or get_settings()
    settings.link_keys()  # fail fast, before any server starts listening

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ground = await to_thread.run_sync(build_context, settings)
        app.state.context = ground
        ground.processor.start()
        log.info("ground station ready, data in %s", settings.data_dir)
        try:
            yield
        finally:
            await to_thread.run_sync(ground.processor.stop)
            ground.engine.dispose()

    app = FastAPI(
        title="EO Downlink ground station",
        version="1",
        summary="Receives signed, chunked container transfers; decodes, segments, measures.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(transfers.router)
    app.include_router(query.router)
    app.include_router(plans.router)
    app.include_router(health.router)
    app.include_router(dashboard.router)
    return app
