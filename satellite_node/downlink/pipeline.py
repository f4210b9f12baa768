"""Chunk PUTs in flight: enough of them that the link never idles while the ground answers.

One PUT at a time leaves the link idle for every chunk's round trip and the ground's fsync.
Here chunk n+1 starts once chunk n's whole body is on the socket (the kernel still holds its
tail), so its bytes follow chunk n's on the link with no gap. How many may be in flight follows
the link: at least ``depth`` (2), and as many as the bandwidth-delay product needs, from the
link's rate and the round trip measured on the answers (the shortest of the last 16, so that
bytes queued on the way do not inflate it), capped at ``MAX_IN_FLIGHT``.

When the PUTs in flight stall instead (none of them moved for ``stall_s`` more than a round
trip: the link went down under them), a cheap signed GET probes the ground every
``probe_every_s`` (on a fresh connection, refused at once while the link is down); once one is
answered the link is back, and the next chunk starts on a fresh connection too (a kept-alive
one left idle through the outage was measured to stall for seconds), beyond the window if need
be (twice the window at most), while the stalled connections resume on their own and deliver
their tails: bytes cut by an outage are not sent twice.

A failed PUT stops new launches; the others are waited for before its error is raised, so the
caller's retry asks the ground what is missing and never re-sends a chunk still on its way.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from satellite_node.downlink.client import GroundClient
from satellite_node.downlink.stats import SenderStats
from satellite_node.link.emulator import LinkInterruptedError

UNREACHABLE_REASONS = frozenset({"transport", "timeout"})  # no answer at all: probe, don't back off
MAX_IN_FLIGHT = 64  # PUT threads at most, whatever the bandwidth-delay product
RTT_SAMPLES = 16
WINDOW_MARGIN = 1.5  # bytes in flight over the bandwidth-delay product: room for jitter
_TICK_S = 0.05  # longest wait between two looks at the PUTs in flight
_STOP_GRACE_S = 2.0  # how long a stopping sender waits for its PUTs to finish


@dataclass(eq=False)  # compared by identity: a chunk may be in the list twice (re-sent)
class _Put:
    """One chunk PUT in flight (fields written by its thread under the pipeline's lock)."""

    transfer_id: str
    index: int
    nbytes: int
    resent: bool
    progress_at: float
    fresh: bool = False
    written: bool = False
    written_at: float = 0.0
    done: bool = False
    error: BaseException | None = None


class ChunkPipeline:
    """Runs chunk PUTs on their own threads, ``depth`` at most in flight.

    Args:
        client: the signed ground client (shared by the threads, one connection each).
        stats: counters; a chunk counts as sent when the ground acknowledges it.
        depth: the most PUTs in flight (1 is one chunk at a time).
        stall_s: a PUT whose socket took nothing for this long is stalled.
        probe_every_s: how often a stalled PUT's ground is probed.
        round_trip_s: the emulated link's round trip, added to each PUT's answer (overlapped:
            the next chunks go out meanwhile).
        rate_bps: the link's rate in bit/s (0: unknown, the window stays at ``depth``).
        clock: monotonic seconds.
    """

    def __init__(
        self,
        client: GroundClient,
        stats: SenderStats,
        *,
        depth: int = 2,
        stall_s: float = 0.5,
        probe_every_s: float = 0.1,
        round_trip_s: Callable[[], float] = lambda: 0.0,
        rate_bps: Callable[[], float] = lambda: 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self.client, self.stats, self.depth = client, stats, depth
        self.stall_s, self.probe_every_s = stall_s, probe_every_s
        self.round_trip_s, self.rate_bps, self.clock = round_trip_s, rate_bps, clock
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._puts: list[_Put] = []
        self._round_trips: deque[float] = deque(maxlen=RTT_SAMPLES)
        self._window = depth

    @property
    def limit(self) -> int:
        """The most PUTs in flight while some of them are stalled."""
        return 2 * self._window

    @property
    def measured_round_trip_s(self) -> float | None:
        """The shortest recent round trip (a PUT's last byte out to its answer), or None."""
        with self._lock:
            return min(self._round_trips) if self._round_trips else None

    def window(self, chunk_bytes: int) -> int:
        """PUTs allowed in flight for chunks of ``chunk_bytes``: half as much again as the
        bandwidth-delay product (a late answer or a slow fsync must not idle the link) plus
        the one on the wire, at least ``depth``, at most ``MAX_IN_FLIGHT``."""
        round_trip = self.measured_round_trip_s
        if round_trip is None:
            round_trip = self.round_trip_s()
        product = WINDOW_MARGIN * self.rate_bps() / 8.0 * round_trip
        wanted = math.ceil(product / max(chunk_bytes, 1)) + 1
        return max(self.depth, min(MAX_IN_FLIGHT, wanted))

    @property
    def in_flight(self) -> int:
        """PUTs started and not yet answered."""
        with self._lock:
            return sum(not put.done for put in self._puts)

    def send(
        self, transfer_id: str, index: int, data: bytes, *, resent: bool, stop: threading.Event
    ) -> None:
        """Start chunk ``index``'s PUT as soon as the window allows; returns once it started.

        Raises:
            GroundUnavailableError, GroundRefusedError: an earlier PUT failed (every PUT in
                flight has finished by then, and this chunk was not started).
            LinkInterruptedError: ``stop`` was set (``stopped=True``).
        """
        next_probe, fresh = 0.0, False
        while True:
            self._changed.clear()
            if self._failed() or stop.is_set():
                self.drain(stop)
            if self._may_start(len(data)):
                break
            now = self.clock()
            if self._stalled(now) and now >= next_probe:
                if self._reachable(transfer_id):
                    fresh = True
                    break
                next_probe = self.clock() + self.probe_every_s
            self._changed.wait(_TICK_S)
        self._start(_Put(transfer_id, index, len(data), resent, self.clock(), fresh), data, stop)

    def drain(self, stop: threading.Event, transfer_id: str | None = None) -> None:
        """Wait for every PUT in flight (of ``transfer_id`` only, when given); raise the first
        failure among them, counting the others as retries.

        Raises:
            GroundUnavailableError, GroundRefusedError: a PUT failed.
            LinkInterruptedError: ``stop`` was set; PUTs still running after a short grace
                are left to finish on their own.
        """
        deadline = None
        while self._running(transfer_id):
            if stop.is_set():
                deadline = deadline or self.clock() + _STOP_GRACE_S
                if self.clock() >= deadline:
                    break
            self._changed.clear()
            if self._running(transfer_id):
                self._changed.wait(_TICK_S)
        with self._lock:
            mine = [p for p in self._puts if transfer_id in (None, p.transfer_id) and p.done]
            errors = [put.error for put in mine if put.error is not None]
            self._puts = [put for put in self._puts if put not in mine]
        if stop.is_set():
            raise LinkInterruptedError("the sender is stopping", stopped=True)
        for extra in errors[1:]:  # the first is counted by whoever handles it
            self.stats.retry(getattr(extra, "reason", type(extra).__name__))
        if errors:
            raise errors[0]

    def _running(self, transfer_id: str | None) -> bool:
        with self._lock:
            return any(
                not put.done and transfer_id in (None, put.transfer_id) for put in self._puts
            )

    def _failed(self) -> bool:
        with self._lock:
            return any(put.error is not None for put in self._puts)

    def _may_start(self, chunk_bytes: int) -> bool:
        window = self.window(chunk_bytes)
        with self._lock:
            self._window = window
            self.stats.window(window)
            self._puts = [put for put in self._puts if not put.done or put.error is not None]
            if len(self._puts) >= window:
                return False
            return not self._puts or self._puts[-1].written

    def _stalled(self, now: float) -> bool:
        """True when no PUT in flight moved for ``stall_s`` beyond a round trip (a PUT waiting
        for its answer is not stalled), and one more may start."""
        round_trip = self.measured_round_trip_s
        quiet_s = self.stall_s + (self.round_trip_s() if round_trip is None else round_trip)
        with self._lock:
            if not self._puts or len(self._puts) >= self.limit:
                return False
            return all(now - put.progress_at >= quiet_s for put in self._puts)

    def _reachable(self, transfer_id: str) -> bool:
        self.stats.count("probes")
        return self.client.probe(transfer_id)

    def _start(self, put: _Put, data: bytes, stop: threading.Event) -> None:
        with self._lock:
            self._puts.append(put)
            outstanding = sum(not p.done for p in self._puts)
        self.stats.in_flight(outstanding)
        thread = threading.Thread(
            target=self._run,
            args=(put, data, stop),
            name=f"chunk-put-{put.index}",
            daemon=True,  # a PUT stalled at shutdown must not hold the process
        )
        thread.start()

    def _progress(self, put: _Put, taken: int) -> None:
        with self._lock:
            put.progress_at = self.clock()
            if taken >= put.nbytes and not put.written:
                put.written, put.written_at = True, put.progress_at
        self._changed.set()

    def _answered(self, put: _Put) -> None:
        """Record the PUT's round trip: its last byte out to its answer (emulated delay too)."""
        with self._lock:
            if put.written and not put.fresh and not put.resent:
                self._round_trips.append(self.clock() - put.written_at)
                self.stats.round_trip(min(self._round_trips))

    def _run(self, put: _Put, data: bytes, stop: threading.Event) -> None:
        try:
            self.client.put_chunk(
                put.transfer_id,
                put.index,
                data,
                on_progress=lambda n: self._progress(put, n),
                fresh=put.fresh,
            )
            wait_s = self.round_trip_s()  # the emulated propagation, both ways, on the answer
            if wait_s > 0:
                stop.wait(wait_s)
            self._answered(put)
            self.stats.chunk(put.nbytes, resent=put.resent)
        except BaseException as exc:  # handed to the sender's thread, raised there
            with self._lock:
                put.error = exc
        finally:
            with self._lock:
                put.done = True
            self._changed.set()
