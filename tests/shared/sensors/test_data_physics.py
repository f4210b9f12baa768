"""Radiometry: Planck's law against known values, its inverse, noise and quantisation."""

from __future__ import annotations

import numpy as np
import pytest

from shared.sensors.physics import (
    add_nedt_noise,
    brightness_temperature,
    counts_to_radiance,
    planck_radiance,
    radiance_slope,
    radiance_to_counts,
)


@pytest.mark.parametrize(
    ("wavelength_um", "temperature_k", "expected"),
    [(3.8, 300.0, 0.4964), (3.8, 1000.0, 3488.4), (11.5, 300.0, 9.2903), (10.0, 300.0, 9.92)],
)
def test_planck_known_values(wavelength_um: float, temperature_k: float, expected: float) -> None:
    # Independent check from SI constants, W m-2 sr-1 m-1 -> per um.
    h, c, k = 6.62607015e-34, 299792458.0, 1.380649e-23
    lam = wavelength_um * 1e-6
    si = 2 * h * c**2 / lam**5 / np.expm1(h * c / (lam * k * temperature_k)) * 1e-6
    assert float(planck_radiance(wavelength_um, temperature_k)) == pytest.approx(si, rel=1e-6)
    assert si == pytest.approx(expected, rel=2e-2)


def test_brightness_temperature_inverts_planck() -> None:
    temps = np.array([210.0, 280.0, 300.0, 345.0, 1200.0])
    for wavelength in (3.8, 11.5):
        back = brightness_temperature(wavelength, planck_radiance(wavelength, temps))
        np.testing.assert_allclose(back, temps, rtol=1e-10)
    assert float(brightness_temperature(3.8, 0.0)) == 0.0


def test_slope_matches_finite_difference() -> None:
    numeric = (planck_radiance(11.5, 300.05) - planck_radiance(11.5, 299.95)) / 0.1
    assert radiance_slope(11.5, 300.0) == pytest.approx(float(numeric), rel=1e-6)


def test_nedt_noise_has_stated_sigma_in_kelvin() -> None:
    rng = np.random.default_rng(0)
    clean = np.full((256, 256), float(planck_radiance(11.5, 300.0)))
    noisy = add_nedt_noise(clean, 11.5, 0.15, rng)
    assert brightness_temperature(11.5, noisy).std() == pytest.approx(0.15, rel=0.03)


def test_quantisation_round_trip_and_saturation() -> None:
    radiance = np.array([0.0, 0.5, 10.0, 20.0, 99.0, -1.0])
    counts = radiance_to_counts(radiance, 20.0, 14)
    assert counts.dtype == np.uint16
    assert counts.tolist()[-2:] == [16383, 0]
    back = counts_to_radiance(counts[:4], 20.0, 14)
    np.testing.assert_allclose(back, radiance[:4], atol=20.0 / 16383)
