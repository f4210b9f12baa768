"""Bjontegaard deltas (VCEG-M33): the average rate or PSNR difference between two RD curves.

Curve ``a`` is the anchor and ``b`` the test: a negative BD-rate means ``b`` needs that many
percent fewer bits than ``a`` for the same PSNR; a positive BD-PSNR means ``b`` is that many dB
better at the same rate. Each curve is fitted by a cubic polynomial (of log10 rate against PSNR
for BD-rate, of PSNR against log10 rate for BD-PSNR), as in the reference, and the fits are
integrated over the interval both curves cover (never their union).

``method="pchip"`` interpolates each curve piecewise instead (monotone cubic Hermite,
Fritsch-Carlson slopes, as the JCT-VC common test conditions' spreadsheet computes BD-rate since
JCTVC-L1100): it follows every measured point and never turns back between monotone points, so
a curve that rises steeply and then flattens (where one cubic overshoots) still gives a delta.

A delta is a number only where it means something: each curve needs at least
:data:`MIN_POINTS` points that are monotone (more bits, more PSNR: a cubic through a curve that
turns back is not a rate-distortion curve), and the two curves' PSNR ranges must overlap by at
least :data:`MIN_OVERLAP_DB`; and each cubic fit (``method="cubic"``) must itself keep rising
over that interval (a
curve whose points rise but bend sharply, e.g. flat at the top, can give a cubic that turns
back, and then the delta measures the fit, not the codecs). Otherwise
:class:`~shared.errors.UndefinedDeltaError` says why, and reports print "n/a" with that reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.polynomial import Polynomial
from numpy.typing import NDArray

from shared.errors import ConfigurationError, UndefinedDeltaError

MIN_POINTS = 4  # a cubic fit, as VCEG-M33
MIN_OVERLAP_DB = 2.0  # PSNR interval both curves must cover
FIT_SAMPLES = 257  # where a fit is checked for rising over the common interval
PCHIP_SAMPLES = 4097  # Simpson's rule over the common interval (odd: an even number of panels)
METHODS = ("cubic", "pchip")


def _curve(rates: Sequence[float], psnrs: Sequence[float], name: str) -> tuple[NDArray[Any], ...]:
    r = np.asarray(rates, dtype=np.float64)
    q = np.asarray(psnrs, dtype=np.float64)
    if r.ndim != 1 or r.shape != q.shape or r.size < 2:
        raise ConfigurationError(
            f"curve {name} needs matching 1-D lists of at least 2 rates and PSNRs, "
            f"got {r.shape} rates and {q.shape} PSNRs"
        )
    if not (np.isfinite(r).all() and np.isfinite(q).all()) or (r <= 0).any():
        raise ConfigurationError(
            f"curve {name} needs positive finite rates and finite PSNRs "
            "(drop lossless points: their PSNR is infinite)"
        )
    if np.unique(q).size != q.size or np.unique(r).size != r.size:
        raise ConfigurationError(f"curve {name} repeats a rate or PSNR value; merge duplicates")
    if r.size < MIN_POINTS:
        raise UndefinedDeltaError(
            f"curve {name} has {r.size} points; a Bjontegaard delta needs at least {MIN_POINTS}"
        )
    order = np.argsort(r)
    r, q = r[order], q[order]
    if (np.diff(q) <= 0).any():
        k = int(np.argmax(np.diff(q) <= 0))
        raise UndefinedDeltaError(
            f"curve {name} is not monotone: {r[k + 1]:.4g} bpp gives {q[k + 1]:.2f} dB, no more "
            f"than {q[k]:.2f} dB at {r[k]:.4g} bpp"
        )
    return np.log10(r), q


def _check_overlap(q_a: NDArray[Any], q_b: NDArray[Any]) -> None:
    """Refuse curves whose PSNR ranges share less than :data:`MIN_OVERLAP_DB`."""
    low, high = max(q_a.min(), q_b.min()), min(q_a.max(), q_b.max())
    if high - low < MIN_OVERLAP_DB:
        span = f"{high - low:.2f} dB ({low:.2f}-{high:.2f} dB)" if high > low else "nothing"
        raise UndefinedDeltaError(
            f"the curves' PSNR ranges overlap by {span}; a Bjontegaard delta needs at least "
            f"{MIN_OVERLAP_DB:g} dB: measure rate points that reach into the other's range"
        )


def _mean_gap(
    x_a: NDArray[Any],
    y_a: NDArray[Any],
    x_b: NDArray[Any],
    y_b: NDArray[Any],
    on_rate: bool,
    method: str = "cubic",
) -> float:
    """Mean of (fit_b - fit_a) over the x interval both curves cover."""
    low = max(x_a.min(), x_b.min())
    high = min(x_a.max(), x_b.max())
    if not high > low:
        raise UndefinedDeltaError(
            f"the two curves do not overlap (common interval [{low:.4g}, {high:.4g}]); "
            "measure more rate points so that their ranges intersect"
        )
    if method == "pchip":
        grid = np.linspace(low, high, PCHIP_SAMPLES)
        gap = _pchip(x_b, y_b, grid) - _pchip(x_a, y_a, grid)
        return float(_simpson(gap, grid[1] - grid[0]) / (high - low))
    integrals = []
    for name, x, y in (("a", x_a, y_a), ("b", x_b, y_b)):
        fit = Polynomial.fit(x, y, deg=min(3, x.size - 1))
        _check_rising(fit, low, high, name, on_rate)
        antiderivative = fit.integ()
        integrals.append(antiderivative(high) - antiderivative(low))
    return float((integrals[1] - integrals[0]) / (high - low))


def _pchip(x: NDArray[Any], y: NDArray[Any], at: NDArray[Any]) -> NDArray[Any]:
    """Monotone piecewise cubic Hermite interpolation of ``y(x)`` at ``at``; ``x`` rises, as
    :func:`_curve` leaves both coordinates of a monotone curve."""
    slopes = _pchip_slopes(x, y)
    k = np.clip(np.searchsorted(x, at, side="right") - 1, 0, x.size - 2)
    h = x[k + 1] - x[k]
    t = (at - x[k]) / h
    h00, h10 = (1 + 2 * t) * (1 - t) ** 2, t * (1 - t) ** 2
    h01, h11 = t**2 * (3 - 2 * t), t**2 * (t - 1)
    return h00 * y[k] + h10 * h * slopes[k] + h01 * y[k + 1] + h11 * h * slopes[k + 1]


def _pchip_slopes(x: NDArray[Any], y: NDArray[Any]) -> NDArray[Any]:
    """Fritsch-Carlson slopes: a weighted harmonic mean of the neighbouring secants inside (0
    where they differ in sign), a shape-preserving three-point estimate at each end."""
    h, secant = np.diff(x), np.diff(y) / np.diff(x)
    slopes = np.zeros_like(y)
    if x.size == 2:
        return np.full_like(y, secant[0])
    w1, w2 = 2 * h[1:] + h[:-1], h[1:] + 2 * h[:-1]
    same = secant[:-1] * secant[1:] > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = (w1 + w2) / (w1 / secant[:-1] + w2 / secant[1:])
    slopes[1:-1] = np.where(same, inner, 0.0)
    slopes[0] = _end_slope(h[0], h[1], secant[0], secant[1])
    slopes[-1] = _end_slope(h[-1], h[-2], secant[-1], secant[-2])
    return slopes


def _end_slope(h0: float, h1: float, s0: float, s1: float) -> float:
    """The three-point end slope, kept to the sign of the end secant and within 3 times it."""
    slope = ((2 * h0 + h1) * s0 - h0 * s1) / (h0 + h1)
    if np.sign(slope) != np.sign(s0):
        return 0.0
    if np.sign(s0) != np.sign(s1) and abs(slope) > abs(3 * s0):
        return 3 * s0
    return float(slope)


def _simpson(values: NDArray[Any], step: float) -> float:
    """Simpson's rule over equally spaced samples (an odd number of them)."""
    return float(
        step / 3 * (values[0] + values[-1] + 4 * values[1:-1:2].sum() + 2 * values[2:-1:2].sum())
    )


def _check_rising(fit: Polynomial, low: float, high: float, name: str, on_rate: bool) -> None:
    """Refuse a fit that falls anywhere on [low, high] (sampled at :data:`FIT_SAMPLES` points);
    ``on_rate``: the fit's x is log10 rate (BD-PSNR), else PSNR (BD-rate)."""
    grid = np.linspace(low, high, FIT_SAMPLES)
    slope = fit.deriv()(grid)
    if (slope <= 0).any():
        at = float(grid[int(np.argmin(slope))])
        where = f"{10.0**at:.4g} bpp" if on_rate else f"{at:.2f} dB"
        raise UndefinedDeltaError(
            f"the cubic fit of curve {name} turns back inside the interval both curves cover "
            f"(near {where}): its points rise too unevenly for a cubic; measure points where "
            "the curve bends, or compare the points themselves"
        )


def bd_rate(
    rates_a: Sequence[float],
    psnr_a: Sequence[float],
    rates_b: Sequence[float],
    psnr_b: Sequence[float],
    method: str = "cubic",
) -> float:
    """Bjontegaard delta rate of curve ``b`` against the anchor ``a``, in percent.

    Rates in any positive unit (bpp); the same unit for both curves. ``method``: ``cubic``
    (one cubic per curve, VCEG-M33) or ``pchip`` (piecewise monotone cubic).

    Raises:
        ConfigurationError: a curve holds invalid values.
        UndefinedDeltaError: a curve is short or not monotone, or the PSNR ranges overlap by
            less than :data:`MIN_OVERLAP_DB`.
    """
    log_a, q_a, log_b, q_b = _curves(rates_a, psnr_a, rates_b, psnr_b, method)
    gap = _mean_gap(q_a, log_a, q_b, log_b, on_rate=False, method=method)
    return (math.pow(10.0, gap) - 1.0) * 100.0


def bd_psnr(
    rates_a: Sequence[float],
    psnr_a: Sequence[float],
    rates_b: Sequence[float],
    psnr_b: Sequence[float],
    method: str = "cubic",
) -> float:
    """Bjontegaard delta PSNR of curve ``b`` against the anchor ``a``, in dB (``method`` as
    in :func:`bd_rate`).

    Raises:
        ConfigurationError: a curve holds invalid values.
        UndefinedDeltaError: a curve is short or not monotone, the PSNR ranges overlap by less
            than :data:`MIN_OVERLAP_DB`, or the rate ranges do not overlap.
    """
    log_a, q_a, log_b, q_b = _curves(rates_a, psnr_a, rates_b, psnr_b, method)
    return _mean_gap(log_a, q_a, log_b, q_b, on_rate=True, method=method)


def _curves(
    rates_a: Sequence[float],
    psnr_a: Sequence[float],
    rates_b: Sequence[float],
    psnr_b: Sequence[float],
    method: str,
) -> tuple[NDArray[Any], ...]:
    """Both curves checked (method, points, monotone, overlap): log10 rates and PSNRs."""
    if method not in METHODS:
        raise ConfigurationError(f"unknown interpolation {method!r}; choose one of {METHODS}")
    log_a, q_a = _curve(rates_a, psnr_a, "a")
    log_b, q_b = _curve(rates_b, psnr_b, "b")
    _check_overlap(q_a, q_b)
    return log_a, q_a, log_b, q_b
