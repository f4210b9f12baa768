"""In-process link emulation: a token bucket at the link rate, latency, passes and outages.

The sender pushes every request through :meth:`LinkEmulator.transmit` before it goes on the
wire: the call blocks until a pass is on, then for as long as the bits take at the link rate.
If the pass ends (or an outage starts) before the last bit is out, the transmission is lost and
:class:`LinkInterruptedError` is raised: the sender must resend that request in a later pass.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from satellite_node.link.profile import LinkProfile
from shared.errors import LinkError

_SLICE_S = 0.05  # longest single sleep, so profile changes and stops are seen promptly
_UTILISATION_WINDOW_S = 10.0


class LinkInterruptedError(LinkError):
    """The link went down (pass end, outage) or was stopped before a transmission finished."""

    def __init__(self, message: str, *, bytes_lost: int = 0, stopped: bool = False) -> None:
        super().__init__(message)
        self.bytes_lost = bytes_lost
        self.stopped = stopped


class LinkEmulator:
    """A radio link between satellite and ground, emulated on the sender's side.

    Args:
        profile: the initial link profile (replace it later with :meth:`set_profile`).
        clock: monotonic seconds; the link's epoch is the clock's value at construction.
        sleep: how to wait; by default a real sleep that a ``stop`` event interrupts.

    The token bucket's depth is the profile's ``burst_s``.
    """

    def __init__(
        self,
        profile: LinkProfile,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._profile = profile
        self._clock = clock
        self._sleep_fn = sleep
        self._epoch = clock()
        self._lock = threading.Lock()
        self._tokens = 0.0
        self._last = 0.0
        self._recent: deque[tuple[float, int]] = deque()
        self.bits_sent = 0
        self.interruptions = 0
        self.bytes_lost = 0  # bytes of transmissions a pass end or an outage cut short

    @property
    def profile(self) -> LinkProfile:
        """The link profile in force."""
        return self._profile

    def set_profile(self, profile: LinkProfile) -> None:
        """Replace the profile; the link's clock (and so the pass schedule's origin) is kept."""
        with self._lock:
            self._profile = profile
            self._tokens = 0.0  # the new profile starts with an empty bucket
            self._last = self.elapsed()

    def elapsed(self) -> float:
        """Seconds since the link's epoch."""
        return self._clock() - self._epoch

    def in_pass(self) -> bool:
        """True when the link is up now."""
        return self._profile.is_up(self.elapsed())

    def _sleep(self, seconds: float, stop: threading.Event | None) -> None:
        if seconds <= 0:
            return
        if self._sleep_fn is not None:
            self._sleep_fn(seconds)
        elif stop is not None:
            stop.wait(seconds)
        else:
            time.sleep(seconds)

    @staticmethod
    def _check_stop(stop: threading.Event | None, bytes_lost: int = 0) -> None:
        if stop is not None and stop.is_set():
            raise LinkInterruptedError(
                "the sender is stopping", bytes_lost=bytes_lost, stopped=True
            )

    def wait_for_pass(self, stop: threading.Event | None = None) -> None:
        """Block until the link is up.

        Raises:
            LinkInterruptedError: ``stop`` was set while waiting.
        """
        while True:
            self._check_stop(stop)
            now = self.elapsed()
            interval = self._profile.up_interval(now)
            if interval is not None and interval[0] <= now:
                return
            wait = _SLICE_S * 10 if interval is None else interval[0] - now
            self._sleep(min(wait, _SLICE_S * 10), stop)

    def _refill(self, now: float) -> None:
        profile = self._profile
        up_s = profile.up_since(self._last, now)
        if up_s < now - self._last:  # the link was down in between: the bucket emptied
            self._tokens = 0.0
        cap = max(profile.rate_bps * profile.burst_s, 1.0)
        self._tokens = min(cap, self._tokens + profile.rate_bps * up_s)
        self._last = now

    def _take(self, wanted: float) -> float:
        with self._lock:
            self._refill(self.elapsed())
            taken = min(self._tokens, wanted)
            self._tokens -= taken
            return taken

    @property
    def round_trip_s(self) -> float:
        """Seconds from a request's last bit out to its answer's arrival: twice the latency."""
        return 2 * self._profile.latency_s

    def transmit(
        self, nbytes: int, stop: threading.Event | None = None, *, round_trip: bool = True
    ) -> None:
        """Send ``nbytes`` over the link: wait for a pass, pace at the rate, add the latency.

        Args:
            nbytes: bytes to send.
            stop: set it to abandon the transmission.
            round_trip: also wait :attr:`round_trip_s` before returning; a pipelined sender
                passes False and waits for the answer elsewhere, so the next request's bits
                go out while this one's answer is on its way.

        Raises:
            LinkInterruptedError: the pass ended or an outage began before the last bit, or
                ``stop`` was set; nothing of this transmission reached the ground.
        """
        self.wait_for_pass(stop)
        interval = self._profile.up_interval(self.elapsed())
        end = interval[1] if interval is not None else self.elapsed()
        remaining = nbytes * 8.0 - self._take(nbytes * 8.0)
        while remaining >= 1.0:  # a fraction of a bit is rounding, not traffic
            self._check_stop(stop, nbytes)
            now = self.elapsed()
            if now >= end or not self._profile.is_up(now):
                self.interruptions += 1
                self.bytes_lost += nbytes
                raise LinkInterruptedError(
                    f"the link went down with {remaining / 8:.0f} of {nbytes} bytes unsent",
                    bytes_lost=nbytes,
                )
            rate = self._profile.rate_bps
            self._sleep(max(1e-4, min(remaining / rate, _SLICE_S, end - now)), stop)
            remaining -= self._take(remaining)
        self._record(nbytes)
        if round_trip:
            self._sleep(self.round_trip_s, stop)

    def _record(self, nbytes: int) -> None:
        now = self.elapsed()
        with self._lock:
            self.bits_sent += nbytes * 8
            self._recent.append((now, nbytes * 8))
            while self._recent and self._recent[0][0] < now - _UTILISATION_WINDOW_S:
                self._recent.popleft()

    def utilisation(self) -> float:
        """Bits sent over the bits the link could carry, during up time of the last 10 s."""
        now = self.elapsed()
        start = max(0.0, now - _UTILISATION_WINDOW_S)
        with self._lock:
            bits = sum(b for t, b in self._recent if t >= start)
        capacity = self._profile.rate_bps * self._profile.up_time_between(start, now)
        return min(1.0, bits / capacity) if capacity > 0 else 0.0
