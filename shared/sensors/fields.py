"""Random spatial fields for synthetic scenes: 1/f (fractal) noise, terrain shading, blurs.

Natural scenes have power spectra close to a power law, P(f) ~ 1/f**beta, with beta near 2 for
land-surface temperature and reflectance and 2.5-3.5 for terrain and cloud fields. Fields are made
in the Fourier domain (one real FFT each), which keeps a 256x256 field near a millisecond.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def power_law_field(
    rng: np.random.Generator, shape: tuple[int, int], beta: float, min_period_px: float = 0.0
) -> NDArray[Any]:
    """A zero-mean, unit-variance Gaussian random field with power spectrum ~ 1/f**beta.

    Args:
        rng: the scene's random generator.
        shape: (H, W) of the field.
        beta: spectral slope; larger is smoother (2: land texture, 3: terrain, clouds).
        min_period_px: if > 0, structure finer than this many pixels is removed.

    Shape:
        returns: (H, W) float64.
    """
    height, width = shape
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    freq = np.hypot(fy, fx)
    freq[0, 0] = np.inf  # no DC: the field is zero-mean
    amplitude = freq ** (-beta / 2.0)
    if min_period_px > 0:
        amplitude = amplitude * (freq <= 1.0 / min_period_px)
    noise = rng.standard_normal((height, fx.shape[1])) + 1j * rng.standard_normal(
        (height, fx.shape[1])
    )
    field = np.fft.irfft2(noise * amplitude, s=shape)
    std = field.std()
    return (field - field.mean()) / (std if std > 0 else 1.0)


def hillshade(
    elevation: NDArray[Any], sun_azimuth_deg: float, sun_elevation_deg: float
) -> NDArray[Any]:
    """Cosine of the solar incidence angle on each pixel's slope (Lambertian shading, 0..1).

    Args:
        elevation: terrain height in pixel units (a slope of 1 is 45 degrees).
        sun_azimuth_deg: clockwise from north (up).
        sun_elevation_deg: above the horizon.

    Shape:
        elevation: (H, W); returns (H, W).
    """
    dz_dy, dz_dx = np.gradient(elevation)
    az = np.deg2rad(sun_azimuth_deg)
    el = np.deg2rad(sun_elevation_deg)
    sun = np.array([np.sin(az) * np.cos(el), -np.cos(az) * np.cos(el), np.sin(el)])
    norm = np.sqrt(dz_dx**2 + dz_dy**2 + 1.0)
    cos_i = (-dz_dx * sun[0] - dz_dy * sun[1] + sun[2]) / norm
    return np.clip(cos_i, 0.0, 1.0)


def gaussian_blur(image: NDArray[Any], sigma_px: float) -> NDArray[Any]:
    """Blur the last two axes with a Gaussian point spread function.

    A separable, normalised discrete kernel (radius three sigma, all taps positive) over a
    reflect-padded image: energy is conserved, nothing wraps from one edge to the other, and a
    bright fire cannot ring into negative radiance as a truncated Fourier Gaussian would.

    Shape:
        image: (..., H, W); returns the same shape, float64.
    """
    image = np.asarray(image, dtype=np.float64)
    if sigma_px <= 0:
        return image
    radius = max(1, int(np.ceil(3.0 * sigma_px)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_px) ** 2)
    taps /= taps.sum()
    for axis in (-2, -1):
        widths = [(0, 0)] * image.ndim
        widths[axis] = (radius, radius)
        padded = np.pad(image, widths, mode="reflect")
        length = image.shape[axis]
        out = np.zeros_like(image)
        for k, weight in enumerate(taps):
            window = [slice(None)] * image.ndim
            window[axis] = slice(k, k + length)
            out += weight * padded[tuple(window)]
        image = out
    return image


def quantile_threshold(field: NDArray[Any], share_above: float) -> float:
    """The level above which ``share_above`` of the field's pixels lie."""
    share = float(np.clip(share_above, 0.0, 1.0))
    return float(np.quantile(field, 1.0 - share))


def smoothstep(x: NDArray[Any], low: float, high: float) -> NDArray[Any]:
    """0 below ``low``, 1 above ``high``, a smooth cubic between (semi-transparent edges)."""
    t = np.clip((x - low) / max(high - low, 1e-12), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)
