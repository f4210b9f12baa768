"""Path templates of both services' routes (fill with ``str.format``), named once.

The ground station's: the downlink protocol (transfers, chunks, commit), the plan reports and
the read API. The satellite's: scene upload and status, the link profile, the pass plan.
"""

from __future__ import annotations

TRANSFERS = "/v1/transfers"
TRANSFER = "/v1/transfers/{transfer_id}"
CHUNK = "/v1/transfers/{transfer_id}/chunks/{index}"
COMMIT = "/v1/transfers/{transfer_id}/commit"
QUICKLOOK = "/v1/transfers/{transfer_id}/quicklook.png"
MASK = "/v1/transfers/{transfer_id}/mask.png"
SUMMARY = "/v1/summary"
GEO_FILE = "/v1/transfers/{transfer_id}/files/{name}"  # COGs, detections, STAC item
STAC_CATALOG = "/v1/stac/catalog.json"
STAC_ITEM = "/v1/stac/items/{transfer_id}.json"
DETECTIONS = "/v1/detections"
PLANS = "/v1/plans"  # the satellite reports each pass plan; the dashboard shows the latest

# Both services: liveness, readiness, Prometheus metrics.
HEALTHZ = "/healthz"
READYZ = "/readyz"
METRICS = "/metrics"

# The satellite node's API.
SCENES = "/v1/scenes"
SCENE = "/v1/scenes/{scene_id}"
LINK = "/v1/link"
PLAN = "/v1/plan"


def transfer_path(transfer_id: str) -> str:
    """The status route of one transfer."""
    return TRANSFER.format(transfer_id=transfer_id)


def chunk_path(transfer_id: str, index: int) -> str:
    """The upload route of one chunk."""
    return CHUNK.format(transfer_id=transfer_id, index=index)


def commit_path(transfer_id: str) -> str:
    """The commit route of one transfer."""
    return COMMIT.format(transfer_id=transfer_id)
