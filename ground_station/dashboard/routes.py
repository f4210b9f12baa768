"""The dashboard's routes: two HTML pages, their static assets, chart PNGs and the imagery of
one transfer. Data routes follow the query API's access rule (:mod:`ground_station.api.access`);
the pages send a browser that may not read to ``/signin``; the assets are open."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy import select

from ground_station.api.deps import ContextDep, ReadAccess
from ground_station.api.transfers import TransferId
from ground_station.context import GroundContext
from ground_station.dashboard.charts import render_chart
from ground_station.dashboard.panels import ensure_panels, panel_path
from ground_station.dashboard.series import TransferPoint
from ground_station.dashboard.signin import may_read, signin_redirect
from ground_station.dashboard.signin import router as signin_router
from ground_station.db import TransferRecord
from shared.errors import NotFoundError

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_CHART_TRANSFERS = 5000
_MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css", ".js": "text/javascript"}
_NO_STORE = {"Cache-Control": "no-store"}
ChartName = Literal["psnr-bpp", "f1-bpp", "link", "queue"]
PanelName = Literal["scene", "true-colour", "false-colour", "roi", "overlay", "truth", "errors"]

router = APIRouter(tags=["dashboard"])
router.include_router(signin_router)


def _static(name: str) -> FileResponse:
    path = STATIC_DIR / name
    if path.parent != STATIC_DIR or path.suffix not in _MEDIA_TYPES or not path.is_file():
        raise NotFoundError(
            f"no dashboard asset {name!r}; assets: "
            + ", ".join(sorted(p.name for p in STATIC_DIR.iterdir()))
        )
    return FileResponse(path, media_type=_MEDIA_TYPES[path.suffix])


@router.get("/", response_model=None, include_in_schema=False)
def transfers_page(request: Request, context: ContextDep) -> FileResponse | RedirectResponse:
    """The transfers table and the charts."""
    return _static("index.html") if may_read(request, context) else signin_redirect(request)


@router.get("/transfers/{transfer_id}", response_model=None, include_in_schema=False)
def transfer_page(
    transfer_id: TransferId, request: Request, context: ContextDep
) -> FileResponse | RedirectResponse:
    """One transfer's page (its script fetches the transfer by the id in the address)."""
    return _static("transfer.html") if may_read(request, context) else signin_redirect(request)


@router.get("/dashboard/static/{name}", response_class=FileResponse, include_in_schema=False)
def static_asset(name: str) -> FileResponse:
    """The dashboard's scripts and style sheet (shipped with the package: no CDN)."""
    return _static(name)


def load_points(context: GroundContext, limit: int = MAX_CHART_TRANSFERS) -> list[TransferPoint]:
    """The newest ``limit`` transfers' chart figures."""
    columns = [getattr(TransferRecord, name) for name in TransferPoint.__dataclass_fields__]
    query = select(*columns).order_by(TransferRecord.created_at.desc()).limit(limit)
    with context.sessions() as session:
        rows = session.execute(query).all()
    return [TransferPoint(*row) for row in rows]


def _fingerprint(points: list[TransferPoint]) -> tuple[Any, ...]:
    """What a chart depends on; unfinished transfers make it depend on the time as well."""
    unfinished = any(p.state not in ("processed", "failed") for p in points)
    stamp = datetime.now(UTC).isoformat() if unfinished else None
    return (stamp, *((p.transfer_id, p.state, p.committed_at, p.processed_at) for p in points))


@router.get("/dashboard/charts/{name}.png", response_class=Response, dependencies=[ReadAccess])
def chart(name: ChartName, context: ContextDep) -> Response:
    """A chart of all transfers as PNG (``psnr-bpp``, ``f1-bpp``, ``link``, ``queue``).

    Drawing takes a second or so on a small machine: a chart is redrawn only when the
    transfers it shows changed.
    """
    points = load_points(context)
    fingerprint = _fingerprint(points)
    png = context.dashboard.cached_chart(name, fingerprint)
    if png is None:
        png = render_chart(name, points, datetime.now(UTC))
        context.dashboard.keep_chart(name, fingerprint, png)
    return Response(png, media_type="image/png", headers=_NO_STORE)


@router.get("/dashboard/transfers/{transfer_id}/panels", dependencies=[ReadAccess])
def transfer_panels(transfer_id: TransferId, context: ContextDep) -> dict[str, Any]:
    """The transfer's imagery (rendered on first call), notes on what is missing, and the
    container's header and metadata as the ground decoded them."""
    index = ensure_panels(context, transfer_id)
    for panel in index["panels"]:
        panel["url"] = f"/dashboard/transfers/{transfer_id}/panels/{panel['name']}.png"
    return index


@router.get(
    "/dashboard/transfers/{transfer_id}/panels/{name}.png",
    response_class=FileResponse,
    dependencies=[ReadAccess],
)
def transfer_panel(transfer_id: TransferId, name: PanelName, context: ContextDep) -> FileResponse:
    """One panel PNG of a processed transfer."""
    return FileResponse(panel_path(context, transfer_id, name), media_type="image/png")
