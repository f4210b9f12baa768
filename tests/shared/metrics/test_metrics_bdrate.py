"""Bjontegaard deltas against curves whose answer is known exactly."""

from __future__ import annotations

import pytest

from shared.errors import ConfigurationError
from shared.metrics import bd_psnr, bd_rate

RATES = [0.1, 0.25, 0.5, 1.0, 2.0]
PSNRS = [28.0, 31.5, 34.0, 37.2, 40.1]


def test_identical_curves_have_zero_delta() -> None:
    assert bd_rate(RATES, PSNRS, RATES, PSNRS) == pytest.approx(0.0, abs=1e-9)
    assert bd_psnr(RATES, PSNRS, RATES, PSNRS) == pytest.approx(0.0, abs=1e-9)


def test_half_the_rate_is_minus_fifty_percent() -> None:
    half = [r / 2 for r in RATES]
    assert bd_rate(RATES, PSNRS, half, PSNRS) == pytest.approx(-50.0, abs=1e-9)
    assert bd_rate(half, PSNRS, RATES, PSNRS) == pytest.approx(100.0, abs=1e-9)


def test_constant_psnr_gain_is_the_bd_psnr() -> None:
    better = [q + 1.5 for q in PSNRS]
    assert bd_psnr(RATES, PSNRS, RATES, better) == pytest.approx(1.5, abs=1e-9)
    assert bd_rate(RATES, PSNRS, RATES, better) < 0  # b needs fewer bits for the same PSNR


def test_partial_overlap_uses_common_interval() -> None:
    # log10(rate) linear in PSNR, so the fits are exact; b is a at 0.8x the rate, sampled on a
    # PSNR range that only partly overlaps a's: the delta is exactly -20 % on the overlap.
    def rate_a(q: float) -> float:
        return 10 ** (0.05 * q - 2.0)

    psnr_b = [30.0, 33.0, 36.0, 42.0]
    rates_a = [rate_a(q) for q in PSNRS]
    rates_b = [0.8 * rate_a(q) for q in psnr_b]
    assert bd_rate(rates_a, PSNRS, rates_b, psnr_b) == pytest.approx(-20.0, abs=1e-6)


def test_short_curves_fit_a_lower_degree() -> None:
    assert bd_rate([0.5, 1.0], [30.0, 33.0], [0.25, 0.5], [30.0, 33.0]) == pytest.approx(-50.0)


@pytest.mark.parametrize(
    ("rates_b", "psnr_b", "message"),
    [
        ([0.5, 1.0, 2.0, 4.0], [50.0, 52.0, 54.0, 56.0], "do not overlap"),
        ([0.5], [30.0], "at least 2"),
        ([0.5, 1.0, 2.0], [30.0, 33.0], "matching"),
        ([0.0, 1.0, 2.0], [30.0, 33.0, 36.0], "positive finite"),
        ([0.5, 1.0, 2.0], [30.0, 33.0, float("inf")], "lossless"),
        ([0.5, 1.0, 2.0], [30.0, 33.0, 33.0], "repeats"),
    ],
)
def test_refuses_unusable_curves(rates_b: list[float], psnr_b: list[float], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        bd_rate(RATES, PSNRS, rates_b, psnr_b)
