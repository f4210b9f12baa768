"""The link profile's pass arithmetic and the emulator's pacing, on a simulated clock."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from satellite_node.link import LinkEmulator, LinkInterruptedError, LinkProfile, PassWindow
from satellite_node.link.profile import MAX_WINDOWS


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def emulator(profile: LinkProfile) -> tuple[LinkEmulator, FakeClock]:
    clock = FakeClock()
    return LinkEmulator(profile, clock=clock, sleep=clock.sleep), clock


def test_periodic_passes_are_up_only_inside_each_pass() -> None:
    profile = LinkProfile(pass_period_s=10, pass_duration_s=3, pass_offset_s=1)
    assert [profile.is_up(t) for t in (0.5, 1.0, 3.9, 4.0, 10.9, 11.0, 14.5)] == [
        False,
        True,
        True,
        False,
        False,
        True,
        False,
    ]
    assert profile.up_interval(5.0) == (11.0, 14.0)
    assert profile.up_time_between(0, 30) == pytest.approx(9.0)


def test_windows_and_outages_combine() -> None:
    profile = LinkProfile(
        windows=(PassWindow(start_s=2, end_s=6), PassWindow(start_s=10, end_s=12)),
        outages=(PassWindow(start_s=3, end_s=4),),
    )
    assert profile.up_interval(0) == (2, 3)
    assert profile.up_interval(3.5) == (4, 6)
    assert profile.up_interval(7) == (10, 12)
    assert profile.up_interval(12) is None
    assert profile.up_time_between(0, 20) == pytest.approx(5.0)


def test_no_schedule_means_always_up() -> None:
    assert LinkProfile().up_interval(123.0) == (123.0, math.inf)


@pytest.mark.parametrize(
    "fields",
    [
        {"pass_period_s": 10},
        {"pass_period_s": 5, "pass_duration_s": 6},
        {"pass_period_s": 5, "pass_duration_s": 2, "windows": [{"start_s": 0, "end_s": 1}]},
        {"rate_bps": 0},
        {"windows": [{"start_s": 3, "end_s": 1}]},
        # 1,000 outages made every GET /v1/link walk them all (44 s): counts are bounded
        {"outages": [{"start_s": 2 * k, "end_s": 2 * k + 1} for k in range(MAX_WINDOWS + 1)]},
        {"windows": [{"start_s": 2 * k, "end_s": 2 * k + 1} for k in range(MAX_WINDOWS + 1)]},
    ],
)
def test_contradictory_profiles_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        LinkProfile.model_validate(fields)


def test_transmit_paces_at_the_link_rate() -> None:
    link, clock = emulator(LinkProfile(rate_bps=1_000_000))
    for _ in range(10):
        link.transmit(125_000)  # 1 Mbit each
    assert clock.now == pytest.approx(10.0, rel=0.02)
    assert link.bits_sent == 10_000_000


def test_transmit_waits_for_the_next_pass_and_adds_latency() -> None:
    profile = LinkProfile(
        rate_bps=8000, latency_s=0.25, pass_period_s=10, pass_duration_s=5, pass_offset_s=4
    )
    link, clock = emulator(profile)
    link.transmit(1000)  # 1 s of link time, starting when the pass begins at t = 4
    assert clock.now == pytest.approx(4 + 1 + 0.5, abs=0.06)


def test_a_pipelined_transmission_leaves_the_round_trip_to_the_caller() -> None:
    link, clock = emulator(LinkProfile(rate_bps=8000, latency_s=0.25))
    assert link.round_trip_s == 0.5
    link.transmit(1000, round_trip=False)  # 1 s of link time; the answer is awaited elsewhere
    assert clock.now == pytest.approx(1.0, abs=0.06)
    link.transmit(1000)
    assert clock.now == pytest.approx(2.5, abs=0.06)


def test_a_pass_ending_mid_transmission_loses_it() -> None:
    link, clock = emulator(LinkProfile(rate_bps=8000, pass_period_s=10, pass_duration_s=2))
    link.transmit(1000)
    with pytest.raises(LinkInterruptedError) as info:
        link.transmit(2000)  # needs 2 s, only ~1 s of the pass is left
    assert info.value.bytes_lost == 2000 and not info.value.stopped
    assert link.interruptions == 1
    link.transmit(1000)  # the next pass carries it
    assert 10.0 < clock.now < 11.2


def test_utilisation_counts_only_up_time() -> None:
    link, clock = emulator(LinkProfile(rate_bps=8000, pass_period_s=4, pass_duration_s=2))
    link.transmit(900)
    link.transmit(900)  # 1.8 s of the 2 s pass carried traffic
    clock.now = 3.9
    assert link.utilisation() == pytest.approx(0.9, abs=0.03)


def test_the_burst_makes_up_idle_time_but_never_beats_the_rate_over_a_pass() -> None:
    profile = LinkProfile(rate_bps=8000, burst_s=0.5, pass_period_s=10, pass_duration_s=5)
    link, clock = emulator(profile)
    clock.now = 2.0  # idle inside the pass: half a second of it is credited
    link.transmit(1000)
    assert clock.now == pytest.approx(2.5, abs=0.06)
    clock.now = 9.0  # idle through the gap: nothing is credited across it
    link.transmit(1000)
    assert clock.now == pytest.approx(11.0, abs=0.06)


def test_a_new_profile_starts_with_an_empty_bucket() -> None:
    link, clock = emulator(LinkProfile(rate_bps=8000, burst_s=1.0))
    clock.now = 5.0
    link.set_profile(LinkProfile(rate_bps=8000, burst_s=1.0))
    link.transmit(1000)
    assert clock.now == pytest.approx(6.0, abs=0.06)
