"""Thermal radiometry: Planck's law, brightness temperature, NEdT noise and linear quantisation.

Units throughout: wavelength in micrometres (um), temperature in kelvin (K), spectral radiance in
W m-2 sr-1 um-1. Constants are CODATA 2018 (exact SI definitions of h, c and k_B):

- first radiation constant for radiance, c1L = 2 h c**2 = 1.191042972e8 W um**4 m-2 sr-1
- second radiation constant, c2 = h c / k_B = 1.438776877e4 um K

so that B(lambda, T) = c1L / (lambda**5 * (exp(c2 / (lambda * T)) - 1)).
Check values: B(3.8 um, 300 K) = 0.496, B(3.8 um, 1000 K) = 3.49e3, B(11.5 um, 300 K) = 9.30.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

C1L_W_UM4_M2_SR = 1.191042972e8
C2_UM_K = 1.438776877e4


def planck_radiance(wavelength_um: float, temperature_k: NDArray[Any] | float) -> NDArray[Any]:
    """Blackbody spectral radiance B(lambda, T) in W m-2 sr-1 um-1 (float64).

    Shape:
        temperature_k: any; returns the same shape.
    """
    t = np.asarray(temperature_k, dtype=np.float64)
    x = C2_UM_K / (wavelength_um * t)
    return C1L_W_UM4_M2_SR / (wavelength_um**5 * np.expm1(x))


def brightness_temperature(wavelength_um: float, radiance: NDArray[Any] | float) -> NDArray[Any]:
    """Invert Planck's law: the temperature of a blackbody emitting ``radiance`` (K, float64).

    Non-positive radiance maps to 0 K rather than NaN.
    """
    lum = np.asarray(radiance, dtype=np.float64)
    safe = np.maximum(lum, 1e-30)
    t = C2_UM_K / (wavelength_um * np.log1p(C1L_W_UM4_M2_SR / (wavelength_um**5 * safe)))
    return np.where(lum > 0, t, 0.0)


def radiance_slope(wavelength_um: float, temperature_k: float) -> float:
    """dB/dT at (lambda, T) in W m-2 sr-1 um-1 K-1: converts an NEdT into a radiance sigma."""
    x = C2_UM_K / (wavelength_um * temperature_k)
    b = float(planck_radiance(wavelength_um, temperature_k))
    return b * x / temperature_k * np.exp(x) / np.expm1(x)


def add_nedt_noise(
    radiance: NDArray[Any],
    wavelength_um: float,
    nedt_k: float,
    rng: np.random.Generator,
    reference_k: float = 300.0,
) -> NDArray[Any]:
    """Add detector noise: Gaussian in radiance with sigma = NEdT * dB/dT at ``reference_k``.

    Detector noise of a thermal imager is specified as the noise-equivalent temperature
    difference at a reference scene temperature; in radiance it is (to first order) constant.
    """
    sigma = nedt_k * radiance_slope(wavelength_um, reference_k)
    return radiance + sigma * rng.standard_normal(radiance.shape)


def radiance_to_counts(radiance: NDArray[Any], full_scale: float, bit_depth: int) -> NDArray[Any]:
    """Quantise radiance linearly: 0 -> 0, ``full_scale`` -> 2**bit_depth - 1, saturating.

    Returns uint16 counts.
    """
    top = 2**bit_depth - 1
    counts = np.rint(np.asarray(radiance) * (top / full_scale))
    return np.clip(counts, 0, top).astype(np.uint16)


def counts_to_radiance(counts: NDArray[Any], full_scale: float, bit_depth: int) -> NDArray[Any]:
    """Undo :func:`radiance_to_counts` (to within half a count). Returns float64."""
    return np.asarray(counts, dtype=np.float64) * (full_scale / (2**bit_depth - 1))
