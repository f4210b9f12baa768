"""Forward passes of one segmenter shared by the processing threads, gathered into batches.

A thread that asks while another's batch is in the network waits, and goes into the next batch
with every request that arrived meanwhile (one shape per batch, at most ``max_batch``): K
transfers processed at once cost about one forward pass of K scenes, which is what a GPU
wants, and a thread alone is never delayed. The thread that finds no batch running runs the
batches until none is left (flat combining), so no extra thread exists.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_MAX_BATCH = 16


@dataclass
class _Request:
    unit: np.ndarray
    done: threading.Event = field(default_factory=threading.Event)
    mask: np.ndarray | None = None
    error: BaseException | None = None


class SegmentBatcher:
    """Batched :meth:`predict` over one segmenter (``predict_batch`` of
    :class:`shared.models.segmentation.Segmenter`); thread-safe."""

    def __init__(self, segmenter: Any, max_batch: int = DEFAULT_MAX_BATCH) -> None:
        self.segmenter = segmenter
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._pending: list[_Request] = []
        self._running = False
        self.batches = 0  # forward batches run (figures for tests and benchmarks)
        self.scenes = 0

    def predict(self, unit: np.ndarray) -> np.ndarray:
        """The mask of one normalised raster (as ``segmenter.predict``)."""
        return self.predict_many([unit])[0]

    def predict_many(self, units: list[np.ndarray]) -> list[np.ndarray]:
        """The masks of several rasters (a grid's patches), batched with whatever else waits.

        Raises:
            InvalidRasterError: a raster the segmenter refuses (checked in the caller's thread,
                so one bad raster never fails another transfer's batch).
        """
        for unit in units:
            self.segmenter.check(unit)
        requests = [_Request(unit) for unit in units]
        with self._lock:
            self._pending.extend(requests)
            lead = not self._running
            self._running = True
        if lead:
            self._serve()
        for request in requests:
            request.done.wait()
            if request.error is not None:
                raise request.error
        return [request.mask for request in requests if request.mask is not None]

    def _serve(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._running = False
                    return
                batch = self._next_batch()
            self._run(batch)

    def _next_batch(self) -> list[_Request]:
        shape = self._pending[0].unit.shape
        batch = [r for r in self._pending if r.unit.shape == shape][: self.max_batch]
        taken = {id(r) for r in batch}
        self._pending = [r for r in self._pending if id(r) not in taken]
        return batch

    def _run(self, batch: list[_Request]) -> None:
        try:
            masks = self.segmenter.predict_batch([r.unit for r in batch])
        except BaseException as exc:  # handed to every waiting thread, never lost
            for request in batch:
                request.error = exc
                request.done.set()
            return
        self.batches += 1
        self.scenes += len(batch)
        for request, mask in zip(batch, masks, strict=True):
            request.mask = np.asarray(mask)
            request.done.set()
