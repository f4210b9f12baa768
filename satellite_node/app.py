"""The satellite node's FastAPI app: ``create_app(settings)``.

The lifespan opens the onboard store (recovering whatever a crash interrupted), then starts
the compression worker and the downlink sender as background threads; shutdown stops them
between two steps and closes the store.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from satellite_node.api import health, link, plan, scenes
from satellite_node.api.gate import TokenGate
from satellite_node.context import SatelliteContext
from satellite_node.errors import install_error_handler
from satellite_node.quotas import UploadRates
from satellite_node.settings import SatelliteSettings, get_settings
from shared.protocol.body_limit import BodyLimit

FORM_OVERHEAD_BYTES = 64 * 1024
LOG = logging.getLogger(__name__)


def create_app(
    settings: SatelliteSettings | None = None,
    *,
    ground_transport: httpx.BaseTransport | None = None,
) -> FastAPI:
    """Build the app.

    Args:
        settings: the node's settings (default: from ``SAT_*`` variables).
        ground_transport: httpx transport to the ground (tests inject faults here).

    Raises:
        ConfigurationError: no usable link key, no API tokens (and no explicit insecure
            flag), or contradictory link settings (fail fast).
    """
    settings = settings or get_settings()
    key = settings.link_key_bytes()
    tokens = settings.token_table()
    settings.link_profile()
    if tokens is None:
        LOG.warning("SAT_INSECURE_NO_AUTH is set: anyone who reaches this API may use all of it")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        context = await run_in_threadpool(
            SatelliteContext.build, settings, key=key, ground_transport=ground_transport
        )
        context.start()
        app.state.context = context
        try:
            yield
        finally:
            app.state.context = None
            await run_in_threadpool(context.stop)

    app = FastAPI(
        title="EO Downlink satellite node",
        version="1",
        summary="Scene intake, onboard store, compression and a downlink that never loses a scene",
        lifespan=lifespan,
    )
    app.state.context = None
    # A raster and a mask of up to max_upload_bytes each, plus the form fields' framing.
    app.add_middleware(
        BodyLimit,
        max_bytes=2 * settings.max_upload_bytes + FORM_OVERHEAD_BYTES,
        name="upload",
        hint="split the scene into tiles or raise SAT_MAX_UPLOAD_BYTES",
    )
    if tokens is not None:  # outermost: a caller without the right token sends no body
        app.add_middleware(
            TokenGate,
            tokens=tokens,
            rates=UploadRates(),
            max_upload_bytes=2 * settings.max_upload_bytes + FORM_OVERHEAD_BYTES,
        )
    install_error_handler(app)
    for router in (scenes.router, link.router, plan.router, health.router):
        app.include_router(router)
    return app
