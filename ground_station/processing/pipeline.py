"""The processing queue: committed transfers are decoded, segmented, measured and recorded by
background threads started in the app's lifespan, never inside a request. What a transfer's
processing decoded and predicted is kept as its product (:mod:`.product`), so the dashboard
never decodes the container again.

A digest mismatch (the ground's decode differs from the onboard reconstruction) does not fail
the transfer: it ends ``processed`` with ``digest_verified = false``, a reason saying so, a
warning in the log and a counter, because the pixels are still the best the ground has.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import shutil
import socket
import threading
import time
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ground_station.db import TransferRecord, utcnow
from ground_station.geo.products import write_products
from ground_station.metrics import GroundMetrics
from ground_station.processing.batcher import SegmentBatcher
from ground_station.processing.decode import DecodeOutcome, WorkerFailure, WorkerLimits
from ground_station.processing.measure import apply_decode, apply_segmentation
from ground_station.processing.pool import DEFAULT_RECYCLE_AFTER, DecodePool
from ground_station.processing.product import PRODUCT_NAME, product_of, save_product
from ground_station.processing.quicklook import save_mask, save_quicklook
from ground_station.processing.segmenters import SegmenterSet
from ground_station.store import MASK_NAME, QUICKLOOK_NAME, TransferStore
from shared.codecs.patches import place_patches, unstack_patches
from shared.errors import EODownlinkError

log = logging.getLogger(__name__)
_STOP_KEY = float("-inf")  # sorts before every transfer: stop after the current one (the rest
# stay committed in the database and are picked up by the next start)


def process_name() -> str:
    """``host:pid``: who processed a transfer (``processed_by``)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Processor:
    """Processes committed transfers: :meth:`process` does one (whoever calls it: the threads
    :meth:`start` runs in the single-process ground, or a job worker's task).

    A transfer is claimed in the database (state ``processing``, ``attempts`` + 1, under a row
    lock) and its result is written only by the claim that is still current, so a transfer
    retried after its worker died is recorded once, by the retry.
    """

    def __init__(
        self,
        sessions: sessionmaker,
        store: TransferStore,
        metrics: GroundMetrics,
        segmenters: SegmenterSet,
        limits: WorkerLimits,
        workers: int = 1,
        recycle_after: int = DEFAULT_RECYCLE_AFTER,
    ) -> None:
        self.sessions = sessions
        self.store = store
        self.metrics = metrics
        self.segmenters = segmenters
        self.limits = limits
        self.workers = workers
        self.pool = DecodePool(limits, recycle_after)
        self.name = process_name()
        # (-priority, arrival, transfer_id): the highest priority (fire alerts) first, then FIFO
        self._queue: queue.PriorityQueue[tuple[float, int, str]] = queue.PriorityQueue()
        self._arrivals = itertools.count()
        self._threads: list[threading.Thread] = []
        self._batchers: dict[str, SegmentBatcher] = {}  # one per task: forward passes batched
        self._batchers_lock = threading.Lock()

    def start(self) -> None:
        """Start the threads and queue what a previous run committed but did not finish; a
        decode worker starts meanwhile, so the first transfer does not wait for its imports."""
        threading.Thread(target=self.pool.warm, name="gs-decode-warm", daemon=True).start()
        for i in range(self.workers):
            thread = threading.Thread(target=self._loop, name=f"gs-processor-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self.recover()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the threads to finish their current transfer and stop."""
        for _ in self._threads:
            self._queue.put((_STOP_KEY, next(self._arrivals), ""))
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads.clear()
        self.pool.close()

    def alive(self) -> bool:
        """True while every processing thread runs."""
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    def enqueue(self, transfer_id: str, priority: int = 0) -> None:
        """Queue a committed transfer; higher ``priority`` is processed first."""
        self._queue.put((-float(priority), next(self._arrivals), transfer_id))
        self.metrics.queue_depth.set(self._queue.qsize())

    def recover(self) -> int:
        """Queue committed-but-unprocessed transfers (fire and high priority first)."""
        with self.sessions() as session:
            rows = session.execute(
                select(TransferRecord.transfer_id, TransferRecord.priority)
                .where(TransferRecord.state.in_(("committed", "processing")))
                .order_by(TransferRecord.committed_at)
            ).all()
        for transfer_id, priority in rows:
            self.enqueue(transfer_id, priority)
        if rows:
            log.info("resuming processing of %d committed transfers", len(rows))
        return len(rows)

    def _loop(self) -> None:
        while True:
            _, _, transfer_id = self._queue.get()
            self.metrics.queue_depth.set(self._queue.qsize())
            if not transfer_id:
                return
            self.process_safely(transfer_id)

    def process_safely(self, transfer_id: str) -> None:
        """:meth:`process`, with any unexpected error recorded as the transfer's failure (the
        thread or job that calls it must survive anything one transfer does)."""
        try:
            self.process(transfer_id)
        except Exception as exc:
            log.exception("processing %s failed unexpectedly", transfer_id)
            self._fail(transfer_id, f"internal error while processing: {exc!r}")

    def process(self, transfer_id: str) -> bool:
        """Decode, segment, measure and record one committed transfer.

        Returns:
            False when there was nothing to do (processed already, failed, or unknown).
        """
        claim = self._claim(transfer_id)
        if claim is None:
            return False
        work = self.store.folder(transfer_id) / f"work-{claim}"
        try:
            outcome = self.pool.decode(self.store.container_path(transfer_id), work)
            self._finish(transfer_id, outcome, claim)
        except WorkerFailure as failure:
            if failure.kind != "error":
                self.metrics.worker_failures.labels(kind=failure.kind).inc()
            self._fail(transfer_id, failure.reason, claim)
        except EODownlinkError as exc:
            self._fail(transfer_id, f"{type(exc).__name__}: {exc}", claim)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return True

    def _claim(self, transfer_id: str) -> int | None:
        """Claim the transfer; the claim's number (its ``attempts``), or None if not ours to do."""
        with self.sessions() as session:
            record = session.get(TransferRecord, transfer_id, with_for_update=True)
            if record is None or record.state not in ("committed", "processing"):
                return None
            record.state = "processing"
            record.attempts = (record.attempts or 0) + 1
            record.processed_by = self.name
            session.commit()
            return record.attempts

    def _current(self, session: Session, transfer_id: str, claim: int) -> TransferRecord | None:
        """The record, locked, if ``claim`` is still the transfer's current claim."""
        record = session.get(TransferRecord, transfer_id, with_for_update=True)
        if record is None or record.state != "processing" or record.attempts != claim:
            log.warning(
                "transfer %s: claim %d was superseded; result not recorded", transfer_id, claim
            )
            return None
        return record

    def _finish(self, transfer_id: str, outcome: DecodeOutcome, claim: int) -> None:
        with self.sessions() as session:
            record = self._current(session, transfer_id, claim)
            if record is None:
                return
            unit = apply_decode(record, outcome)
            self.metrics.decode_seconds.observe((record.decode_ms or 0.0) / 1000.0)
            if record.digest_verified is False:
                self.metrics.digest_mismatches.inc()
                log.warning("transfer %s: %s", transfer_id, record.reason)
            save_quicklook(unit, record.task, self.store.artefact(transfer_id, QUICKLOOK_NAME))
            record.has_quicklook = True
            patch_shape = outcome.result["header"].get("patch_shape")
            mask = self._segment(record, unit, outcome.truth, patch_shape)
            if mask is not None:
                save_mask(mask, self.store.artefact(transfer_id, MASK_NAME))
                record.has_mask = True
            product = product_of(outcome.raster, mask, outcome.truth, outcome.result)
            save_product(product, self.store.artefact(transfer_id, PRODUCT_NAME))
            self._geo(record, outcome, mask)
            record.state = "processed"
            record.processed_at = utcnow()
            session.commit()
        log.info("transfer %s processed: bpp %.3f", transfer_id, record.bpp or float("nan"))

    def _geo(self, record: TransferRecord, outcome: DecodeOutcome, mask: Any) -> None:
        """COGs, detections and the STAC item; their failure is a note, not a failed transfer
        (the figures and the quicklook stand)."""
        folder = self.store.folder(record.transfer_id)
        try:
            geo = write_products(folder, record, outcome.raster, mask, outcome.result["header"])
        except Exception as exc:  # GDAL, PROJ or pystac refused something about this scene
            log.warning("transfer %s: georeferenced products failed: %s", record.transfer_id, exc)
            record.georef_note = f"georeferenced products failed: {type(exc).__name__}: {exc}"
            return
        record.footprint, record.detections, record.geo_files = (
            geo.footprint,
            geo.detections,
            geo.files,
        )

    def _segment(
        self,
        record: TransferRecord,
        unit: np.ndarray,
        truth: np.ndarray | None,
        patch_shape: list[int] | None,
    ) -> np.ndarray | None:
        """The predicted mask; a grid of patches is segmented patch by patch (a patch's
        neighbours in the grid are other scenes, not its surroundings)."""
        segmenter, note = self.segmenters.get(record.task)
        if segmenter is None:
            record.segmentation_note = note
            return None
        started = time.perf_counter()
        batcher = self._batcher(record.task, segmenter)
        if patch_shape is None:
            mask = batcher.predict(unit)
        else:
            shape = (int(patch_shape[0]), int(patch_shape[1]))
            masks = batcher.predict_many(list(unstack_patches(unit, shape)))
            mask = place_patches(np.stack(masks), unit.shape[-2:])
        segment_ms = (time.perf_counter() - started) * 1000.0
        self.metrics.segment_seconds.observe(segment_ms / 1000.0)
        apply_segmentation(record, mask, truth, segment_ms, str(segmenter.device))
        return mask

    def _batcher(self, task: str, segmenter: Any) -> SegmentBatcher:
        with self._batchers_lock:
            if task not in self._batchers:
                self._batchers[task] = SegmentBatcher(segmenter)
            return self._batchers[task]

    def _fail(self, transfer_id: str, reason: str, claim: int | None = None) -> None:
        log.warning("transfer %s failed: %s", transfer_id, reason)
        with self.sessions() as session:
            if claim is None:
                record = session.get(TransferRecord, transfer_id, with_for_update=True)
            else:
                record = self._current(session, transfer_id, claim)
            if record is None:
                return
            record.state = "failed"
            record.reason = reason
            record.processed_at = utcnow()
            session.commit()
