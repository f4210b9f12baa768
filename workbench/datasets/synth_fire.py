"""Synthetic MWIR (3.8 um) fire patches: sub-pixel fires over a warm, textured background.

Physics, per pixel:

- background surface temperature 280-320 K: a scene mean (286-306 K), a 1/f**2 texture
  (+-3 K), terrain shading (sun-facing slopes up to 6 K warmer than shaded ones) and sun-heated
  open surfaces (+3..9 K);
- fires: 1-3 clusters (one near the patch centre, as the paper's patches are centred on fires),
  each a patchy blob of burning fraction f peaking at 3e-3..6e-2 and flaming at 800-1200 K,
  so that L = f * B(T_fire) + (1 - f) * B(T_bg) (the Dozier 1981 bi-spectral mixing model);
- distractors, hot or bright but not burning: industrial sites (2x2-3x3 px roofs at 330-345 K
  holding a sub-pixel 450-650 K stack at f = 5e-4..5e-3), hot bare soil (elongated, 330-345 K)
  and, in daytime patches (60%), specular solar glint spots adding 1-12 W m-2 sr-1 um-1;
- sensor: Gaussian PSF (sigma 0.8 px: optics, detector footprint and along-track smear of a
  small-satellite imager), NEdT 0.1 K at 300 K, linear 14-bit quantisation over
  0..20 W m-2 sr-1 um-1 (saturating at a brightness temperature of 424 K; fire cores saturate,
  as on real fire sensors).

The mask marks pixels with f >= 2e-3 (80 m2 of flame in a 200 m pixel): weaker, smouldering
edges add radiance but are not in the mask, and the PSF spreads fire radiance onto unburnt
neighbours, so "hot" is not "fire". About one patch in ten holds no fire at all, only
distractors. A single radiance threshold reaches a pixel F1 of about 0.8 on these patches.
"""

from __future__ import annotations

import numpy as np

from shared.sensors.fields import gaussian_blur, hillshade, power_law_field, smoothstep
from shared.sensors.physics import add_nedt_noise, planck_radiance, radiance_to_counts
from shared.sensors.profiles import FIRE, FIRE_FULL_SCALE_RADIANCE

FULL_SCALE_RADIANCE = FIRE_FULL_SCALE_RADIANCE
NEDT_K = 0.1
PSF_SIGMA_PX = 0.8
FIRE_FRACTION_THRESHOLD = 2e-3
DAYTIME_SHARE = 0.6
NO_FIRE_SHARE = 0.1
WAVELENGTH_UM = FIRE.wavelengths_um[0]


def generate_fire_patch(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One fire patch and its mask in the fire profile's layout.

    Shape:
        returns: image (1, 32, 32) uint16 counts, mask (32, 32) uint8 0/1.
    """
    shape = FIRE.tile
    t_bg = _background_temperature(rng, shape)
    radiance = planck_radiance(WAVELENGTH_UM, t_bg)
    radiance = _add_distractors(rng, radiance, t_bg)
    fraction = np.zeros(shape)
    t_fire = np.full(shape, 1000.0)
    if rng.random() >= NO_FIRE_SHARE:
        fraction, t_fire = _fire_clusters(rng, shape)
    radiance = fraction * planck_radiance(WAVELENGTH_UM, t_fire) + (1.0 - fraction) * radiance
    radiance = gaussian_blur(radiance, PSF_SIGMA_PX)
    radiance = add_nedt_noise(radiance, WAVELENGTH_UM, NEDT_K, rng)
    counts = radiance_to_counts(radiance, FULL_SCALE_RADIANCE, FIRE.bit_depth)
    mask = (fraction >= FIRE_FRACTION_THRESHOLD).astype(np.uint8)
    return counts[np.newaxis], mask


def _background_temperature(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Surface temperature (K): mean + texture + terrain shading + sun-heated open ground."""
    base = rng.uniform(286.0, 306.0)
    texture = 3.0 * power_law_field(rng, shape, beta=2.0)
    terrain = 2.5 * power_law_field(rng, shape, beta=3.2)
    shade = hillshade(terrain, rng.uniform(0, 360), rng.uniform(25, 65))
    sunlit = 6.0 * (shade - shade.mean())
    open_ground = smoothstep(power_law_field(rng, shape, beta=2.6), 0.6, 1.4)
    heated = open_ground * rng.uniform(3.0, 9.0)
    return np.clip(base + texture + sunlit + heated, 280.0, 320.0)


def _blob(
    rng: np.random.Generator, shape: tuple[int, int], centre: tuple[float, float], sigma: float
) -> np.ndarray:
    """An anisotropic, randomly rotated Gaussian blob with peak 1 at ``centre``."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    angle = rng.uniform(0, np.pi)
    stretch = rng.uniform(1.0, 2.5)
    dy, dx = yy - centre[0], xx - centre[1]
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = -dx * np.sin(angle) + dy * np.cos(angle)
    return np.exp(-0.5 * ((u / (sigma * stretch)) ** 2 + (v / sigma) ** 2))


def _fire_clusters(
    rng: np.random.Generator, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Burning fraction (0..1) and flame temperature (K) maps of 1-3 fire clusters."""
    fraction = np.zeros(shape)
    t_fire = np.full(shape, 1000.0)
    centre = (shape[0] / 2.0, shape[1] / 2.0)
    for index in range(int(rng.integers(1, 4))):
        spread = 3.0 if index == 0 else shape[0] / 2.5
        at = (centre[0] + rng.uniform(-spread, spread), centre[1] + rng.uniform(-spread, spread))
        peak = np.exp(rng.uniform(np.log(3e-3), np.log(6e-2)))
        blob = _blob(rng, shape, at, rng.uniform(0.5, 1.3))
        patchy = np.exp(0.8 * rng.standard_normal(shape))  # fuel is uneven
        cluster = np.clip(peak * blob * patchy, 0.0, 0.5)
        hotter = cluster > fraction
        t_fire = np.where(hotter, rng.uniform(800.0, 1200.0), t_fire)
        fraction = np.maximum(fraction, cluster)
    fraction = np.where(fraction >= 2e-5, fraction, 0.0)
    return fraction, t_fire


def _add_distractors(
    rng: np.random.Generator, radiance: np.ndarray, t_bg: np.ndarray
) -> np.ndarray:
    """Hot or bright non-fire surfaces: industrial sites, hot bare soil, solar glint."""
    shape = radiance.shape
    out = radiance.copy()
    if rng.random() < DAYTIME_SHARE:
        out = _add_glint(rng, out)
    for _ in range(int(rng.poisson(1.2))):
        row, col = rng.integers(0, shape[0] - 3), rng.integers(0, shape[1] - 3)
        height, width = rng.integers(2, 4), rng.integers(2, 4)
        roof = planck_radiance(WAVELENGTH_UM, rng.uniform(330.0, 345.0))
        out[row : row + height, col : col + width] = roof
        stack_f = rng.uniform(5e-4, 5e-3)
        stack = stack_f * planck_radiance(WAVELENGTH_UM, rng.uniform(450.0, 650.0))
        out[row, col] = (1.0 - stack_f) * roof + stack
    for _ in range(int(rng.poisson(1.5))):
        at = (rng.uniform(0, shape[0]), rng.uniform(0, shape[1]))
        soil = smoothstep(_blob(rng, shape, at, rng.uniform(1.0, 2.5)), 0.2, 0.6)
        t_soil = rng.uniform(330.0, 345.0)
        hot = planck_radiance(WAVELENGTH_UM, np.maximum(t_bg, t_soil))
        out = soil * hot + (1.0 - soil) * out
    return out


def _add_glint(rng: np.random.Generator, radiance: np.ndarray) -> np.ndarray:
    """Specular solar reflection off water, metal roofs or panels: by day the sun adds
    reflected radiance at 3.8 um (TOA solar irradiance there is ~11 W m-2 um-1), and a specular
    spot can reach several W m-2 sr-1 um-1, a classic false alarm of MWIR fire detection."""
    out = radiance.copy()
    for _ in range(int(rng.poisson(1.0))):
        row, col = rng.integers(0, radiance.shape[0] - 2), rng.integers(0, radiance.shape[1] - 2)
        height, width = rng.integers(1, 3), rng.integers(1, 3)
        out[row : row + height, col : col + width] += rng.uniform(1.0, 12.0)
    return out
