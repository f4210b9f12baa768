"""Bjontegaard deltas (VCEG-M33): the average rate or PSNR difference between two RD curves.

Curve ``a`` is the anchor and ``b`` the test: a negative BD-rate means ``b`` needs that many
percent fewer bits than ``a`` for the same PSNR; a positive BD-PSNR means ``b`` is that many dB
better at the same rate. Each curve is fitted by a cubic polynomial (of log10 rate against PSNR
for BD-rate, of PSNR against log10 rate for BD-PSNR), as in the reference, and the fits are
integrated over the interval both curves cover (never their union).

A delta is a number only where it means something: each curve needs at least
:data:`MIN_POINTS` points that are monotone (more bits, more PSNR: a cubic through a curve that
turns back is not a rate-distortion curve), and the two curves' PSNR ranges must overlap by at
least :data:`MIN_OVERLAP_DB`; and each cubic fit must itself keep rising over that interval (a
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
    x_a: NDArray[Any], y_a: NDArray[Any], x_b: NDArray[Any], y_b: NDArray[Any], on_rate: bool
) -> float:
    """Mean of (fit_b - fit_a) over the x interval both curves cover."""
    low = max(x_a.min(), x_b.min())
    high = min(x_a.max(), x_b.max())
    if not high > low:
        raise UndefinedDeltaError(
            f"the two curves do not overlap (common interval [{low:.4g}, {high:.4g}]); "
            "measure more rate points so that their ranges intersect"
        )
    integrals = []
    for name, x, y in (("a", x_a, y_a), ("b", x_b, y_b)):
        fit = Polynomial.fit(x, y, deg=min(3, x.size - 1))
        _check_rising(fit, low, high, name, on_rate)
        antiderivative = fit.integ()
        integrals.append(antiderivative(high) - antiderivative(low))
    return float((integrals[1] - integrals[0]) / (high - low))


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
) -> float:
    """Bjontegaard delta rate of curve ``b`` against the anchor ``a``, in percent.

    Rates in any positive unit (bpp); the same unit for both curves.

    Raises:
        ConfigurationError: a curve holds invalid values.
        UndefinedDeltaError: a curve is short or not monotone, or the PSNR ranges overlap by
            less than :data:`MIN_OVERLAP_DB`.
    """
    log_a, q_a = _curve(rates_a, psnr_a, "a")
    log_b, q_b = _curve(rates_b, psnr_b, "b")
    _check_overlap(q_a, q_b)
    return (math.pow(10.0, _mean_gap(q_a, log_a, q_b, log_b, on_rate=False)) - 1.0) * 100.0


def bd_psnr(
    rates_a: Sequence[float],
    psnr_a: Sequence[float],
    rates_b: Sequence[float],
    psnr_b: Sequence[float],
) -> float:
    """Bjontegaard delta PSNR of curve ``b`` against the anchor ``a``, in dB.

    Raises:
        ConfigurationError: a curve holds invalid values.
        UndefinedDeltaError: a curve is short or not monotone, the PSNR ranges overlap by less
            than :data:`MIN_OVERLAP_DB`, or the rate ranges do not overlap.
    """
    log_a, q_a = _curve(rates_a, psnr_a, "a")
    log_b, q_b = _curve(rates_b, psnr_b, "b")
    _check_overlap(q_a, q_b)
    return _mean_gap(log_a, q_a, log_b, q_b, on_rate=True)
