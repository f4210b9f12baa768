"""Distortion figures: PSNR on normalised data (the paper's convention) and in sensor units."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from shared.errors import InvalidRasterError


def _squared_error(reference: NDArray[Any], reconstruction: NDArray[Any]) -> NDArray[Any]:
    if reference.shape != reconstruction.shape:
        raise InvalidRasterError(
            f"reference shape {reference.shape} differs from reconstruction shape "
            f"{reconstruction.shape}; compare rasters of the same (C, H, W)"
        )
    if reference.size == 0:
        raise InvalidRasterError("cannot compute PSNR of an empty raster")
    diff = reference.astype(np.float64) - reconstruction.astype(np.float64)
    if not np.isfinite(diff).all():
        raise InvalidRasterError("reference or reconstruction holds NaN or Inf samples")
    return diff * diff


def _psnr(mse: float, data_range: float) -> float:
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(data_range * data_range / mse)


def psnr_db(reference: NDArray[Any], reconstruction: NDArray[Any], scale: float) -> float:
    """PSNR in dB after dividing both rasters by ``scale`` (data range 1), as the paper does.

    ``scale`` is the sensor profile's global maximum (the normalisation of the codec's input).
    Samples are not clipped, so values above ``scale`` count with their full error.

    Shape:
        reference, reconstruction: any matching shape, e.g. (C, H, W).

    Returns:
        PSNR in dB; ``math.inf`` when the reconstruction is exact.

    Raises:
        InvalidRasterError: shapes differ, the rasters are empty or hold NaN/Inf, or
            ``scale`` is not positive and finite.
    """
    if not (scale > 0 and math.isfinite(scale)):
        raise InvalidRasterError(f"normalisation scale must be positive and finite, got {scale}")
    mse = float(_squared_error(reference, reconstruction).mean()) / (scale * scale)
    return _psnr(mse, 1.0)


def psnr_sensor_db(reference: NDArray[Any], reconstruction: NDArray[Any]) -> float:
    """PSNR in dB in sensor units, with the data range taken as the reference's maximum.

    Shape:
        reference, reconstruction: any matching shape, e.g. (C, H, W).

    Returns:
        PSNR in dB; ``math.inf`` when the reconstruction is exact.

    Raises:
        InvalidRasterError: shapes differ, the rasters are empty or hold NaN/Inf, or the
            reference's maximum is not positive (no data range) while they differ.
    """
    mse = float(_squared_error(reference, reconstruction).mean())
    if mse == 0.0:
        return math.inf
    data_range = float(np.max(reference))
    if data_range <= 0:
        raise InvalidRasterError(
            f"reference maximum is {data_range}: no positive data range for a sensor PSNR; "
            "use psnr_db with the profile's scale instead"
        )
    return _psnr(mse, data_range)
