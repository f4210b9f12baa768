"""Figures of merit: rate (bpp), distortion (PSNR), segmentation (F1) and Bjontegaard deltas."""

from shared.metrics.bdrate import bd_psnr, bd_rate
from shared.metrics.distortion import psnr_db, psnr_sensor_db
from shared.metrics.rate import bits_per_sample, bpp
from shared.metrics.segmentation import f1_macro, f1_positive

__all__ = [
    "bd_psnr",
    "bd_rate",
    "bits_per_sample",
    "bpp",
    "f1_macro",
    "f1_positive",
    "psnr_db",
    "psnr_sensor_db",
]
