"""One transfer's page imagery: rendered from what processing decoded, then cached.

Processing keeps each transfer's product (:mod:`ground_station.processing.product`: the decoded
raster, the predicted and truth masks, the container's header and metadata). The first view of
a transfer's page renders the panels of :mod:`ground_station.dashboard.imagery` from it and
caches them under ``<data_dir>/dashboard/<transfer_id>/`` with a ``panels.json`` index, so
later views are files. A transfer processed by a ground older than the product has none: its
first view decodes the container again in the decode worker (same limits as processing) and
reads the mask back from its PNG.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ground_station.context import GroundContext
from ground_station.dashboard import imagery
from ground_station.dashboard.roi_panel import roi_png
from ground_station.db import TransferRecord
from ground_station.processing.decode import WorkerFailure, run_decode_worker
from ground_station.processing.measure import roi_of
from ground_station.processing.product import (
    PRODUCT_NAME,
    Product,
    load_product,
    product_of,
)
from ground_station.store import MASK_NAME
from ground_station.transfers import get_record
from shared.durable import atomic_write
from shared.errors import BusyError, ConflictError, NotFoundError
from shared.roi.masks import BlockMask
from shared.sensors.profiles import PROFILES

INDEX_NAME = "panels.json"
CACHE_DIR = "dashboard"


@dataclass(frozen=True)
class Panel:
    """One image of the transfer page."""

    name: str
    title: str
    png: bytes


def cache_dir(ground: GroundContext, transfer_id: str) -> Path:
    """The transfer's panel folder (the id is validated as a safe folder name)."""
    ground.store.folder(transfer_id)  # raises ConflictError on an unsafe id
    return Path(ground.settings.data_dir) / CACHE_DIR / transfer_id


def read_mask_png(path: Path) -> np.ndarray:
    """The ground's predicted mask PNG back as 0/1.

    Shape:
        returns: (H, W) uint8.
    """
    from matplotlib.image import imread

    image = np.asarray(imread(path, format="png"))
    grey = image[..., 0] if image.ndim == 3 else image
    return (grey > 0.5).astype(np.uint8)


def _scene_panels(raster: np.ndarray, task: str) -> list[Panel]:
    if imagery.is_thermal(task) and raster.shape[0] == 1:
        title = f"Decoded {task} scene, band {PROFILES[task].band_names[0]}"
        return [Panel("scene", title, imagery.thermal_png(raster, task, title))]
    if task in PROFILES and raster.shape[0] == PROFILES[task].bands:
        return [
            Panel(
                "true-colour",
                "True colour",
                imagery.composite_png(raster, task, imagery.TRUE_COLOUR, "True colour"),
            ),
            Panel(
                "false-colour",
                "False colour",
                imagery.composite_png(raster, task, imagery.FALSE_COLOUR, "False colour"),
            ),
        ]
    raise ConflictError(
        f"transfer has {raster.shape[0]} bands, which the {task!r} profile does not describe; "
        "the dashboard renders fire, cloud and building scenes"
    )


def render_panels(
    raster: np.ndarray,
    task: str,
    predicted: np.ndarray | None,
    truth: np.ndarray | None,
    roi: BlockMask | None = None,
) -> tuple[list[Panel], dict[str, Any]]:
    """Every panel the transfer's data allows, and notes on what is missing.

    Shape:
        raster: (C, H, W) decoded counts; predicted, truth: (H, W) 0/1 or None; ``roi``: the
        container's recorded ROI (its cells are outlined on an ``roi`` panel), or None.
    """
    panels = _scene_panels(raster, task)
    if roi is not None:
        background = imagery.base_rgb(raster, task)
        panels.append(Panel("roi", "ROI cells", roi_png(background, roi, predicted)))
    meaning = (
        PROFILES[task].mask_meaning.split("=", 1)[-1].strip() if task in PROFILES else "positive"
    )
    notes: dict[str, Any] = {}
    if predicted is not None:
        background = imagery.base_rgb(raster, task)
        panels.append(
            Panel("overlay", "Predicted mask", imagery.overlay_png(background, predicted, meaning))
        )
    else:
        notes["predicted"] = "no predicted mask: the ground had no segmenter for this task"
    if truth is not None:
        truth_hw = truth[0] if truth.ndim == 3 else truth
        panels.append(Panel("truth", "Truth mask", imagery.truth_png(truth_hw, meaning)))
        if predicted is not None:
            png, counts = imagery.error_map_png(truth_hw, predicted)
            panels.append(Panel("errors", "Error map", png))
            notes["errors"] = {"tp": counts.tp, "fp": counts.fp, "fn": counts.fn, "tn": counts.tn}
    else:
        notes["truth"] = "no truth mask came with the scene (no evaluation sidecar)"
    return panels, notes


def _decode_again(ground: GroundContext, record: TransferRecord, folder: Path) -> Product:
    """The product of a transfer processed before products were kept: decode it again."""
    tid = record.transfer_id
    work = folder / "work"
    try:
        outcome = run_decode_worker(ground.store.container_path(tid), work, ground.worker_limits)
    except WorkerFailure as failure:
        raise ConflictError(f"the dashboard could not decode {tid}: {failure.reason}") from failure
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mask_path = ground.store.artefact(tid, MASK_NAME)
    predicted = read_mask_png(mask_path) if record.has_mask and mask_path.is_file() else None
    return product_of(outcome.raster, predicted, outcome.truth, outcome.result)


def _product(ground: GroundContext, record: TransferRecord, folder: Path) -> Product:
    path = ground.store.artefact(record.transfer_id, PRODUCT_NAME)
    if path.is_file():
        return load_product(path)
    return _decode_again(ground, record, folder)


def _build(ground: GroundContext, record: TransferRecord, folder: Path) -> dict[str, Any]:
    product = _product(ground, record, folder)
    height, width = product.raster.shape[-2:]
    roi = roi_of(product.metadata, height, width)
    panels, notes = render_panels(
        product.raster, record.task, product.predicted, product.truth, roi
    )
    for panel in panels:
        atomic_write(folder / f"{panel.name}.png", panel.png)
    index = {
        "transfer_id": record.transfer_id,
        "panels": [{"name": p.name, "title": p.title} for p in panels],
        "notes": notes,
        "header": product.header,
        "metadata": product.metadata,
        "digest_matches": product.digest_matches,
    }
    atomic_write(folder / INDEX_NAME, json.dumps(index, allow_nan=False, default=str).encode())
    return index


def ensure_panels(ground: GroundContext, transfer_id: str) -> dict[str, Any]:
    """The transfer's panel index, rendering the panels on first use.

    Raises:
        NotFoundError: no such transfer.
        ConflictError: the transfer is not processed yet, or cannot be decoded again.
    """
    folder = cache_dir(ground, transfer_id)
    with ground.sessions() as session:
        record = get_record(session, transfer_id)
    if record.state != "processed":
        raise ConflictError(
            f"transfer {transfer_id!r} is {record.state}; its imagery exists once it is processed"
            + (f" (reason: {record.reason})" if record.reason else "")
        )
    with ground.dashboard.panel_lock(transfer_id):
        index_path = folder / INDEX_NAME
        if index_path.is_file():
            return dict(json.loads(index_path.read_text()))
        folder.mkdir(parents=True, exist_ok=True)
        with _render_slot(ground):
            return _build(ground, record, folder)


@contextmanager
def _render_slot(ground: GroundContext) -> Iterator[None]:
    """One of the ground's panel render slots, or BusyError after ``panel_wait_s``."""
    wait_s = ground.settings.panel_wait_s
    if not ground.dashboard.renders.acquire(timeout=wait_s):
        raise BusyError(
            f"{ground.settings.panel_renders} transfer pages are being rendered and none "
            f"finished within {wait_s:g} s; retry in a few seconds (GS_PANEL_RENDERS raises "
            "the limit)",
            retry_after_s=5.0,
        )
    try:
        yield
    finally:
        ground.dashboard.renders.release()


def panel_path(ground: GroundContext, transfer_id: str, name: str) -> Path:
    """The cached PNG of one panel (rendered first when needed).

    Raises:
        NotFoundError: no such transfer, or this transfer has no such panel.
    """
    index = ensure_panels(ground, transfer_id)
    names = [p["name"] for p in index["panels"]]
    if name not in names:
        raise NotFoundError(
            f"transfer {transfer_id!r} has no {name!r} panel; it has: {', '.join(names)}"
        )
    return cache_dir(ground, transfer_id) / f"{name}.png"
