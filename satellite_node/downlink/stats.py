"""Thread-safe counters of the downlink sender (exported on /metrics)."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque

#: Chunk starts kept for diagnosis (and for the alert-ordering test): the most recent ones.
CHUNK_JOURNAL = 1024


class SenderStats:
    """What the sender did: bytes and chunks sent, retries by reason, deliveries, pre-emptions,
    chunk transmissions an interruption cut short, and probes of an unreachable ground."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.bytes_sent = 0
        self.chunks_sent = 0
        self.chunks_resent = 0
        self.delivered = 0
        self.preemptions = 0
        self.interruptions = 0
        self.chunks_cut = 0
        self.probes = 0
        self.window_chunks = 0  # chunk PUTs the pipeline lets be in flight now
        self.round_trip_s = 0.0  # the shortest recent chunk round trip (0: none measured yet)
        self.peak_in_flight = 0  # the most chunk PUTs that were outstanding at once
        self.retries: Counter[str] = Counter()
        self.chunk_starts: deque[tuple[float, str, int]] = deque(maxlen=CHUNK_JOURNAL)

    def started(self, scene_id: str, index: int) -> None:
        """Journal a chunk the sender starts to send (wall-clock time, scene, index)."""
        with self._lock:
            self.chunk_starts.append((time.time(), scene_id, index))

    def chunk(self, nbytes: int, *, resent: bool) -> None:
        """Count one chunk the ground acknowledged (``resent``: it had been sent before)."""
        with self._lock:
            self.bytes_sent += nbytes
            self.chunks_sent += 1
            self.chunks_resent += int(resent)

    def window(self, chunks: int) -> None:
        """Record the pipeline's current window (chunk PUTs allowed in flight)."""
        with self._lock:
            self.window_chunks = chunks

    def round_trip(self, seconds: float) -> None:
        """Record the shortest recent chunk round trip (what the window is sized from)."""
        with self._lock:
            self.round_trip_s = seconds

    def in_flight(self, puts: int) -> None:
        """Record how many chunk PUTs are outstanding (keeps the peak)."""
        with self._lock:
            self.peak_in_flight = max(self.peak_in_flight, puts)

    def retry(self, reason: str) -> None:
        """Count one retry, by reason."""
        with self._lock:
            self.retries[reason] += 1
            self.interruptions += int(reason == "link_interrupted")

    def count(self, name: str) -> None:
        """Add one to the counter ``name``."""
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def snapshot(self) -> dict[str, object]:
        """Every counter, copied under the lock."""
        with self._lock:
            return {
                "bytes_sent": self.bytes_sent,
                "chunks_sent": self.chunks_sent,
                "chunks_resent": self.chunks_resent,
                "delivered": self.delivered,
                "preemptions": self.preemptions,
                "interruptions": self.interruptions,
                "chunks_cut": self.chunks_cut,
                "probes": self.probes,
                "window_chunks": self.window_chunks,
                "round_trip_s": self.round_trip_s,
                "peak_in_flight": self.peak_in_flight,
                "retries": dict(self.retries),
            }
