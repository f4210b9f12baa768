"""Rate figures: bits per pixel over the whole container, as CompressAI counts them."""

from __future__ import annotations

from shared.errors import ConfigurationError


def _check_sizes(n_bytes: int, *dims: int) -> None:
    if n_bytes < 0:
        raise ConfigurationError(f"a byte count cannot be negative, got {n_bytes}")
    if min(dims) < 1:
        raise ConfigurationError(f"raster dimensions must be positive, got {dims}")


def bpp(container_bytes: int, height: int, width: int) -> float:
    """Bits per spatial pixel: ``bytes * 8 / (H * W)``, all bands together (CompressAI's bpp).

    Raises:
        ConfigurationError: a negative byte count or a non-positive dimension.
    """
    _check_sizes(container_bytes, height, width)
    return container_bytes * 8 / (height * width)


def bits_per_sample(container_bytes: int, bands: int, height: int, width: int) -> float:
    """Bits per sample: ``bytes * 8 / (C * H * W)``; comparable across band counts.

    Raises:
        ConfigurationError: a negative byte count or a non-positive dimension.
    """
    _check_sizes(container_bytes, bands, height, width)
    return container_bytes * 8 / (bands * height * width)
