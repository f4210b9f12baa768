"""A link profile: rate, latency and when the link is up (passes minus outages).

Times are seconds since the link's epoch (the moment its emulator started). The link is up
during a pass and outside every outage. Passes are either periodic (``pass_period_s`` and
``pass_duration_s``, the first one starting at ``pass_offset_s``), an explicit list of windows,
or, when neither is given, one endless pass.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, model_validator

_MAX_STEPS = 100_000  # bounds every walk over passes and outages
MAX_WINDOWS = 64  # explicit pass windows and outages each: a day of passes, with room


class PassWindow(BaseModel):
    """One interval ``[start_s, end_s)`` on the link's clock."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_s: float = Field(ge=0)
    end_s: float

    @model_validator(mode="after")
    def _ordered(self) -> PassWindow:
        if not self.end_s > self.start_s:
            raise ValueError(
                f"a window must end after it starts; got start_s={self.start_s}, end_s={self.end_s}"
            )
        return self


class LinkProfile(BaseModel):
    """What the radio link offers the sender.

    Attributes:
        rate_bps: link rate in bit/s (the token bucket's refill rate).
        latency_s: one-way propagation delay added to each request and to each answer.
        pass_period_s, pass_duration_s: periodic passes (give both, or neither).
        pass_offset_s: start of the first periodic pass.
        windows: explicit pass windows instead of periodic passes.
        outages: intervals during which the link is down even inside a pass.
        burst_s: the token bucket's depth in seconds of link rate (the radio's transmit
            buffer): idle moments inside a pass (the ground answering) are made up for later,
            up to this much; the bucket is emptied whenever the link is down, so no pass ever
            carries more than ``rate_bps`` times its up time.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate_bps: float = Field(default=2_000_000.0, gt=0, le=100e9)
    latency_s: float = Field(default=0.0, ge=0, le=60)
    pass_period_s: float | None = Field(default=None, gt=0)
    pass_duration_s: float | None = Field(default=None, gt=0)
    pass_offset_s: float = Field(default=0.0, ge=0)
    windows: tuple[PassWindow, ...] = Field(default=(), max_length=MAX_WINDOWS)
    outages: tuple[PassWindow, ...] = Field(default=(), max_length=MAX_WINDOWS)
    burst_s: float = Field(default=0.5, ge=0, le=60)

    @model_validator(mode="after")
    def _consistent(self) -> LinkProfile:
        periodic = (self.pass_period_s is not None, self.pass_duration_s is not None)
        if periodic[0] != periodic[1]:
            raise ValueError("give both pass_period_s and pass_duration_s, or neither")
        if self.pass_period_s is not None and self.windows:
            raise ValueError("give periodic passes or explicit windows, not both")
        if (
            self.pass_period_s is not None
            and self.pass_duration_s is not None
            and self.pass_duration_s > self.pass_period_s
        ):
            raise ValueError(
                f"pass_duration_s ({self.pass_duration_s}) exceeds pass_period_s "
                f"({self.pass_period_s}); a pass cannot last longer than its period"
            )
        return self

    @property
    def bytes_per_s(self) -> float:
        """The link rate in bytes per second."""
        return self.rate_bps / 8.0

    def _pass_at_or_after(self, t: float) -> tuple[float, float] | None:
        """The pass containing ``t``, or the next one; None when no pass is left."""
        if self.pass_period_s is not None and self.pass_duration_s is not None:
            period, duration = self.pass_period_s, self.pass_duration_s
            if t < self.pass_offset_s:
                return self.pass_offset_s, self.pass_offset_s + duration
            k = math.floor((t - self.pass_offset_s) / period)
            start = self.pass_offset_s + k * period
            if t >= start + duration:
                start += period
            return start, start + duration
        if self.windows:
            for window in sorted(self.windows, key=lambda w: w.start_s):
                if window.end_s > t:
                    return window.start_s, window.end_s
            return None
        return 0.0, math.inf

    def up_interval(self, t: float) -> tuple[float, float] | None:
        """The up interval containing ``t`` (clipped to start at ``t``), or the next one.

        Returns:
            ``(start, end)`` with ``start >= t``; None when the link never comes up again.
        """
        outages = sorted(self.outages, key=lambda o: o.start_s)
        for _ in range(_MAX_STEPS):
            current = self._pass_at_or_after(t)
            if current is None:
                return None
            cursor, end = max(t, current[0]), current[1]
            moved = True
            while moved:
                moved = False
                for outage in outages:
                    if outage.start_s <= cursor < outage.end_s:
                        cursor, moved = outage.end_s, True
            if cursor < end:
                later = [o.start_s for o in outages if o.start_s > cursor]
                return cursor, min([end, *later])
            t = end
        return None

    def is_up(self, t: float) -> bool:
        """True when the link carries traffic at time ``t``."""
        interval = self.up_interval(t)
        return interval is not None and interval[0] <= t

    def up_time_between(self, t0: float, t1: float) -> float:
        """Seconds of up time inside ``[t0, t1)``."""
        total, t = 0.0, t0
        for _ in range(_MAX_STEPS):
            interval = self.up_interval(t)
            if interval is None or interval[0] >= t1:
                break
            total += min(interval[1], t1) - interval[0]
            t = interval[1]
            if t >= t1:
                break
        return total

    def up_since(self, t0: float, t1: float) -> float:
        """Seconds the link has been up without a break just before ``t1``, counting from
        ``t0`` at the earliest (0 when it is down at ``t1``)."""
        t = t0
        for _ in range(_MAX_STEPS):
            interval = self.up_interval(t)
            if interval is None or interval[0] > t1:
                return 0.0
            if interval[1] > t1:
                return t1 - interval[0]
            t = interval[1]
        return 0.0
