"""Bjontegaard deltas against curves whose answer is known exactly."""

from __future__ import annotations

import pytest

from shared.errors import ConfigurationError, UndefinedDeltaError
from shared.metrics import bd_psnr, bd_rate

RATES = [0.1, 0.25, 0.5, 1.0, 2.0]
PSNRS = [28.0, 31.5, 34.0, 37.2, 40.1]
# building, 2026-12-06, held-out: a learned curve that rises steeply, then flattens
LEARNED_BUILDING = (
    [0.0658, 0.2216, 0.3399, 0.4854, 0.6460, 0.8150],
    [26.14, 32.74, 33.87, 34.33, 34.52, 34.56],
)
JPEG2000_BUILDING = (
    [0.0698, 0.2220, 0.3398, 0.4862, 0.6398, 0.8062, 1.6167, 3.2422],
    [4.51, 27.53, 29.33, 30.77, 31.86, 32.81, 35.87, 39.39],
)


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


def test_the_delta_is_taken_over_the_overlap_never_the_union() -> None:
    # a: log10(rate) linear in PSNR over 28-40 dB; b: a plus a quadratic offset f(q), sampled
    # over 34-46 dB. Both fits are exact (degree <= 3), so the delta is 10**mean(f) - 1 over
    # the interval integrated: 34-40 dB gives -18.35 %, the union 28-46 dB would give -13.70 %.
    def log_a(q: float) -> float:
        return 0.05 * q - 2.0

    def offset(q: float) -> float:
        return 0.001 * (q - 34.0) ** 2 - 0.1

    psnr_a = [28.0, 31.0, 34.0, 37.0, 40.0]
    psnr_b = [34.0, 38.0, 42.0, 46.0]
    rates_a = [10 ** log_a(q) for q in psnr_a]
    rates_b = [10 ** (log_a(q) + offset(q)) for q in psnr_b]
    overlap = (10 ** (0.001 * 12.0 - 0.1) - 1.0) * 100.0  # mean of f over [34, 40]
    assert overlap == pytest.approx(-18.35, abs=0.01)
    assert bd_rate(rates_a, psnr_a, rates_b, psnr_b) == pytest.approx(overlap, abs=1e-6)


def test_an_order_of_points_does_not_matter() -> None:
    shuffled = [2, 0, 4, 1, 3]
    rates = [RATES[k] for k in shuffled]
    psnrs = [PSNRS[k] for k in shuffled]
    assert bd_rate(RATES, PSNRS, rates, psnrs) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    ("rates_b", "psnr_b", "message"),
    [
        # more bits, less PSNR: a cubic through it is no rate-distortion curve
        ([0.25, 0.3, 0.35, 0.5], [25.98, 26.20, 25.87, 27.0], "not monotone"),
        ([0.5, 1.0, 2.0], [30.0, 33.0, 36.0], "at least 4"),
        # overlap 28.0-29.5 dB: 1.5 dB, under the 2 dB a delta needs
        ([0.01, 0.02, 0.03, 0.06], [22.0, 25.0, 27.0, 29.5], "overlap by 1.50 dB"),
    ],
)
def test_an_undefined_delta_is_refused_not_computed(
    rates_b: list[float], psnr_b: list[float], message: str
) -> None:
    for delta in (bd_rate, bd_psnr):
        with pytest.raises(UndefinedDeltaError, match=message):
            delta(RATES, PSNRS, rates_b, psnr_b)


@pytest.mark.parametrize(
    ("rates_b", "psnr_b", "message"),
    [
        ([0.5, 1.0, 2.0, 4.0], [50.0, 52.0, 54.0, 56.0], "overlap by nothing"),
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


def test_a_fit_that_turns_back_is_refused() -> None:
    """A learned curve that rises steeply, then flattens (building, 2026-12-06, held-out): its
    points are monotone, but the cubic of log-rate against PSNR falls between 30 and 33 dB, and
    the BD-rate it gave (+19 %) disagreed in sign with the BD-PSNR (+7.8 dB)."""
    with pytest.raises(UndefinedDeltaError, match="cubic fit of curve b turns back"):
        bd_rate(*JPEG2000_BUILDING, *LEARNED_BUILDING)
    with pytest.raises(UndefinedDeltaError, match="turns back"):
        bd_psnr(*JPEG2000_BUILDING, *LEARNED_BUILDING)
    # without its degenerate 4.5 dB point
    smooth = (JPEG2000_BUILDING[0][1:], JPEG2000_BUILDING[1][1:])
    assert bd_rate(*smooth, *smooth) == pytest.approx(0.0, abs=1e-9)


def test_pchip_gives_the_exact_delta_of_a_scaled_or_shifted_curve() -> None:
    half = [r / 2 for r in RATES]
    better = [q + 1.5 for q in PSNRS]
    assert bd_rate(RATES, PSNRS, half, PSNRS, method="pchip") == pytest.approx(-50.0, abs=1e-9)
    assert bd_psnr(RATES, PSNRS, RATES, better, method="pchip") == pytest.approx(1.5, abs=1e-9)


def test_pchip_measures_the_curve_whose_cubic_turns_back() -> None:
    """The building curve above, interpolated point to point: the learned codec is ahead at every
    measured PSNR (it needs 0.22 bpp for the 32.7 dB that JPEG 2000 needs 0.8 for), so both
    deltas must say so, with the same sign."""
    assert -90.0 < bd_rate(*JPEG2000_BUILDING, *LEARNED_BUILDING, method="pchip") < -50.0
    assert bd_psnr(*JPEG2000_BUILDING, *LEARNED_BUILDING, method="pchip") > 2.0


def test_pchip_agrees_with_scipy() -> None:
    pytest.importorskip("scipy")
    import numpy as np
    from scipy.integrate import quad
    from scipy.interpolate import PchipInterpolator

    rates_b = [0.12, 0.2, 0.45, 0.9, 1.7]
    psnr_b = [29.0, 32.5, 35.0, 36.1, 36.4]  # steep, then flat
    low, high = max(min(PSNRS), min(psnr_b)), min(max(PSNRS), max(psnr_b))
    fit_a = PchipInterpolator(PSNRS, np.log10(RATES))
    fit_b = PchipInterpolator(psnr_b, np.log10(rates_b))
    mean = quad(lambda q: fit_b(q) - fit_a(q), low, high, limit=200)[0] / (high - low)
    expected = (10.0**mean - 1.0) * 100.0
    assert bd_rate(RATES, PSNRS, rates_b, psnr_b, method="pchip") == pytest.approx(
        expected, abs=1e-6
    )


def test_an_unknown_interpolation_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="unknown interpolation 'akima'"):
        bd_rate(RATES, PSNRS, RATES, PSNRS, method="akima")
