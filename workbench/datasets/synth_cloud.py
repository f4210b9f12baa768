"""Synthetic LWIR (11.5 um) cloud scenes: fractal cold clouds over warm land and sea.

Physics, per pixel:

- sea: a smooth sea-surface temperature (271-303 K, +-0.7 K);
- land: diurnal contrast with the sea (by day 3-18 K warmer, by night 0-10 K cooler; in 20% of
  scenes a continental winter at 250-275 K), a 1/f**2 texture (+-2.5 K) and a lapse rate of
  6.5 K/km over fractal terrain up to 1.5 km high;
- clouds: a fractal optical-depth field (1/f**3) thresholded to the scene's cloud cover, drawn
  from clear to overcast (12% of scenes clear, 12% overcast, the rest uniform in between);
  cloud emissivity rises smoothly from 0 at the cloud's edge to 1 in its core, so the edges are
  thin and semi-transparent: L = eps * B(T_cloud) + (1 - eps) * tau * B(T_surface) +
  (1 - tau) * B(T_air), with cloud tops at 210-260 K (thicker is higher and colder; never
  within 8 K of the surface's 10th percentile, as the model has no inversions) and a
  clear-sky window transmittance tau of 0.85-0.95 (water vapour); in 35% of scenes a thin
  cirrus layer (emissivity up to 0.2-0.6, 210-232 K) lies above;
- sensor: NEdT 0.15 K at 300 K (uncooled microbolometer class), linear 14-bit quantisation over
  0..16 W m-2 sr-1 um-1 (saturating at 344 K).

The mask marks eps >= 0.3, so the faintest edges are radiometrically mixed but not cloud. Cold
winter land and thin cirrus keep a single radiance threshold to a pixel F1 of about 0.9.
"""

from __future__ import annotations

import numpy as np

from shared.sensors.fields import gaussian_blur, power_law_field, quantile_threshold, smoothstep
from shared.sensors.physics import (
    add_nedt_noise,
    brightness_temperature,
    planck_radiance,
    radiance_to_counts,
)
from shared.sensors.profiles import CLOUD, CLOUD_FULL_SCALE_RADIANCE

FULL_SCALE_RADIANCE = CLOUD_FULL_SCALE_RADIANCE
NEDT_K = 0.15
CLOUD_EMISSIVITY_THRESHOLD = 0.3
LAPSE_RATE_K_PER_KM = 6.5
WINTER_SHARE = 0.2
CIRRUS_SHARE = 0.35
WAVELENGTH_UM = CLOUD.wavelengths_um[0]


def generate_cloud_scene(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One cloud scene and its mask in the cloud profile's layout.

    Shape:
        returns: image (1, 256, 256) uint16 counts, mask (256, 256) uint8 0/1.
    """
    shape = CLOUD.tile
    t_surface = _surface_temperature(rng, shape)
    tau = rng.uniform(0.85, 0.95)
    t_air = float(np.median(t_surface)) - rng.uniform(8.0, 15.0)
    clear = tau * planck_radiance(WAVELENGTH_UM, t_surface) + (1.0 - tau) * planck_radiance(
        WAVELENGTH_UM, t_air
    )
    # No inversions: a cloud top is at least ~1.2 km up, so 8 K colder than the ground below.
    ceiling = min(260.0, float(np.percentile(t_surface, 10)) - 8.0)
    emissivity, t_cloud = _clouds(rng, shape, ceiling)
    radiance = emissivity * planck_radiance(WAVELENGTH_UM, t_cloud) + (1.0 - emissivity) * clear
    radiance = add_nedt_noise(radiance, WAVELENGTH_UM, NEDT_K, rng)
    counts = radiance_to_counts(radiance, FULL_SCALE_RADIANCE, CLOUD.bit_depth)
    mask = (emissivity >= CLOUD_EMISSIVITY_THRESHOLD).astype(np.uint8)
    return counts[np.newaxis], mask


def _surface_temperature(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Land and sea skin temperature (K) with day/night land-sea contrast and terrain."""
    sst = rng.uniform(271.0, 303.0) + 0.7 * power_law_field(rng, shape, beta=3.0)
    relief = power_law_field(rng, shape, beta=3.2)
    land_share = rng.choice([rng.uniform(0.0, 0.3), rng.uniform(0.3, 1.0), 1.0])
    coast = quantile_threshold(relief, land_share)
    land = smoothstep(relief, coast - 0.03, coast + 0.03)
    if rng.random() < WINTER_SHARE:
        land_mean = rng.uniform(250.0, 275.0)  # continental winter, snow cover at night
    elif rng.random() < 0.6:
        land_mean = float(sst.mean()) + rng.uniform(3.0, 18.0)  # day: land warmer than sea
    else:
        land_mean = float(sst.mean()) - rng.uniform(0.0, 10.0)  # night: land cooler
    height_km = 1.5 * np.clip((relief - coast) / max(relief.max() - coast, 1e-6), 0.0, 1.0)
    t_land = (
        land_mean + 2.5 * power_law_field(rng, shape, beta=2.0) - LAPSE_RATE_K_PER_KM * height_km
    )
    return land * t_land + (1.0 - land) * sst


def _cloud_cover(rng: np.random.Generator) -> float:
    """Scene cloud cover: clear, overcast, or anything between."""
    draw = rng.random()
    if draw < 0.12:
        return rng.uniform(0.0, 0.01)
    if draw > 0.88:
        return rng.uniform(0.95, 1.0)
    return rng.uniform(0.02, 0.95)


def _clouds(
    rng: np.random.Generator, shape: tuple[int, int], ceiling: float
) -> tuple[np.ndarray, np.ndarray]:
    """Effective cloud emissivity (0..1) and cloud-top temperature (K) of up to two layers.

    A thin cirrus layer (emissivity <= 0.6, 210-232 K) lies over the main layer in some
    scenes; the two combine as eps = 1 - (1 - eps_main) * (1 - eps_cirrus), and the
    cloud-top temperature is the emissivity-weighted blend of the two layers' Planck radiance.
    """
    eps_main, t_main = _main_layer(rng, shape, ceiling)
    if rng.random() >= CIRRUS_SHARE:
        return eps_main, t_main
    streaks = power_law_field(rng, shape, beta=3.6)
    level = quantile_threshold(streaks, rng.uniform(0.1, 0.6))
    eps_cirrus = rng.uniform(0.2, 0.6) * smoothstep(streaks, level, level + 1.0)
    t_cirrus = min(rng.uniform(210.0, 232.0), ceiling)
    b_main = planck_radiance(WAVELENGTH_UM, t_main)
    b_cirrus = planck_radiance(WAVELENGTH_UM, t_cirrus)
    emissivity = 1.0 - (1.0 - eps_main) * (1.0 - eps_cirrus)
    blend = eps_cirrus * b_cirrus + (1.0 - eps_cirrus) * eps_main * b_main
    safe = np.maximum(emissivity, 1e-6)
    t_cloud = brightness_temperature(
        WAVELENGTH_UM, np.where(emissivity > 1e-6, blend / safe, b_main)
    )
    return emissivity, t_cloud


def _main_layer(
    rng: np.random.Generator, shape: tuple[int, int], ceiling: float
) -> tuple[np.ndarray, np.ndarray]:
    """The main fractal cloud layer: emissivity and cloud-top temperature (K)."""
    depth = power_law_field(rng, shape, beta=rng.uniform(2.8, 3.4))
    cover = _cloud_cover(rng)
    edge = quantile_threshold(depth, cover)
    core = edge + rng.uniform(0.3, 1.0)
    emissivity = smoothstep(depth, edge - 0.2, core)
    emissivity = np.clip(gaussian_blur(emissivity, 0.7), 0.0, 1.0)
    top_base = min(rng.uniform(225.0, 260.0), ceiling)
    thickness = np.clip(depth - edge, 0.0, None)
    t_cloud = np.clip(top_base - 6.0 * thickness, min(210.0, ceiling), ceiling)
    return emissivity, t_cloud
