"""What the netns downlink test measures, defined once.

Goodput is application payload delivered during passes over what the shaped link could have
carried while the sender had work:

    goodput = 8 * (container bytes of the scenes delivered, each counted once)
              / (shaped rate * seconds the link was up inside [t_start, t_end])

where ``t_start`` is when the sender first had a container queued and ``t_end`` is the last
delivery (receipt) of the run. Everything the sender spends besides payload counts against it:
TCP/IP and Ethernet framing (tbf counts whole frames; at MTU 1500 a 1448-byte segment takes
1514), HTTP headers, probes, chunks cut by an outage and sent again, TCP retransmissions, and
idle link time (round trips, the ground's fsync, noticing a pass start late, the last commit).
"""

from __future__ import annotations

from dataclasses import dataclass

Interval = tuple[float, float]
Samples = list[tuple[float, int]]  # (unix time, tx byte counter of the satellite's veth)


def up_intervals(ups: list[float], downs: list[float], until: float) -> list[Interval]:
    """The link's up intervals from its link-up / link-down event times."""
    edges = sorted([(t, "up") for t in ups] + [(t, "down") for t in downs])
    intervals: list[Interval] = []
    start: float | None = None
    for t, kind in edges:
        if kind == "up" and start is None:
            start = t
        elif kind == "down" and start is not None:
            intervals.append((start, t))
            start = None
    if start is not None:
        intervals.append((start, until))
    return intervals


def clip(intervals: list[Interval], t0: float, t1: float) -> list[Interval]:
    return [(max(a, t0), min(b, t1)) for a, b in intervals if b > t0 and a < t1]


def counter_at(samples: Samples, t: float) -> int:
    """The byte counter at time ``t`` (the last sample at or before it)."""
    before = [v for s, v in samples if s <= t]
    return before[-1] if before else samples[0][1]


def first_byte_delay(samples: Samples, up: float, threshold: int = 4096) -> float | None:
    """Seconds from a pass start until the satellite sent ``threshold`` bytes."""
    at_up = counter_at(samples, up)
    later = [s for s, v in samples if s >= up and v - at_up > threshold]
    return later[0] - up if later else None


@dataclass(frozen=True)
class Figures:
    """One run's figures (see the module docstring for the definition of goodput)."""

    rate_bps: float
    payload_bytes: int
    wire_bytes: int
    passes: list[Interval]
    pass_wire_bytes: list[int]
    first_byte_delays_s: list[float]

    @property
    def up_s(self) -> float:
        return sum(b - a for a, b in self.passes)

    @property
    def goodput_share(self) -> float:
        return self.payload_bytes * 8 / (self.rate_bps * self.up_s)

    @property
    def wire_share(self) -> float:
        return self.wire_bytes * 8 / (self.rate_bps * self.up_s)

    def pass_wire_shares(self) -> list[float]:
        return [
            n * 8 / (self.rate_bps * (b - a))
            for n, (a, b) in zip(self.pass_wire_bytes, self.passes, strict=True)
        ]


def measure(
    rate_bps: float,
    payload_bytes: int,
    samples: Samples,
    link_ups: list[float],
    link_downs: list[float],
    t_start: float,
    t_end: float,
) -> Figures:
    """The run's figures over the up time inside ``[t_start, t_end]``."""
    passes = clip(up_intervals(link_ups, link_downs, t_end), t_start, t_end)
    per_pass = [counter_at(samples, b) - counter_at(samples, a) for a, b in passes]
    delays = [d for a, _ in passes if (d := first_byte_delay(samples, a)) is not None]
    return Figures(
        rate_bps=rate_bps,
        payload_bytes=payload_bytes,
        wire_bytes=sum(per_pass),
        passes=passes,
        pass_wire_bytes=per_pass,
        first_byte_delays_s=delays,
    )
