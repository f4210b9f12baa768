"""Figures of one processed transfer, written onto its record: rate from the container's
length, PSNR from the onboard figure (a version-1 container's metadata, or the satellite's
announcement beside a version-2 one; it describes the ground's pixels when the container's
reconstruction check matches, and is flagged when it does not), F1 from the truth sidecar."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ground_station.db import TransferRecord
from ground_station.processing.decode import DecodeOutcome
from shared.codecs.base import RasterSpec, to_unit
from shared.errors import InvalidRasterError
from shared.metrics.rate import bits_per_sample, bpp
from shared.metrics.segmentation import f1_macro, f1_positive
from shared.protocol.messages import ONBOARD_KEY
from shared.roi.masks import ROI_METADATA_KEY, BlockMask, block_mask_from_metadata
from shared.wire.container import DIGEST_KEY
from shared.wire.format_v2 import bpp_of_code


def _finite(value: Any) -> float | None:
    if isinstance(value, int | float) and math.isfinite(float(value)):
        return float(value)
    return None


def _rate_target(
    header: dict[str, Any], metadata: dict[str, Any], onboard: dict[str, Any]
) -> str | None:
    for source in (metadata, onboard):
        for key in ("rate_target", "target", "rate"):
            if source.get(key) is not None:
                return str(source[key])[:64]
    if header.get("lossless"):
        return "lossless"
    if header.get("quality"):
        return f"quality={header['quality']}"
    if header.get("rate_code"):
        return f"bpp~{bpp_of_code(int(header['rate_code'])):.3g}"
    return None


def _onboard(record: TransferRecord) -> dict[str, Any]:
    """What the satellite announced beside a version-2 container (PSNR, rate target, ...)."""
    announced = record.announced_header or {}
    onboard = announced.get(ONBOARD_KEY)
    return onboard if isinstance(onboard, dict) else {}


def roi_of(metadata: dict[str, Any], height: int, width: int) -> BlockMask | None:
    """The ROI the container recorded, or None (no record, or one that does not fit)."""
    record = metadata.get(ROI_METADATA_KEY)
    if not isinstance(record, dict):
        return None
    try:
        return block_mask_from_metadata(record, height, width)
    except InvalidRasterError:
        return None


def apply_decode(record: TransferRecord, outcome: DecodeOutcome) -> np.ndarray:
    """Record the container's figures; return the reconstruction normalised to [0, 1].

    Shape:
        returns: (C, H, W) float32 in [0, 1], divided by the container's scale.
    """
    header, meta = outcome.result["header"], outcome.result["metadata"]
    c, h, w = int(header["bands"]), int(header["height"]), int(header["width"])
    record.codec = str(header["codec"])
    record.bands, record.height, record.width = c, h, w
    record.dtype, record.bit_depth = str(header["dtype"]), int(header["bit_depth"])
    record.model_id, record.quality = int(header["model_id"]), header.get("quality")
    record.lossless = bool(header.get("lossless"))
    onboard = _onboard(record)
    record.rate_target = _rate_target(header, meta, onboard)
    # The evaluation sidecar (truth mask) rides along for scoring only and never counts in
    # the rate: container_bytes is the container as a mission would downlink it.
    sidecar = int(outcome.result["sidecar_bytes"])
    size = int(outcome.result.get("rate_bytes", int(outcome.result["container_bytes"]) - sidecar))
    payload = int(outcome.result["payload_bytes"])
    record.container_bytes, record.payload_bytes = size, payload
    record.sidecar_bytes = sidecar
    record.bpp = bpp(size, h, w)
    record.bits_per_sample = bits_per_sample(size, c, h, w)
    record.payload_bpp = bpp(payload, h, w)
    record.decode_ms = float(outcome.result["decode_ms"])
    matches = outcome.result["digest_matches"]
    record.digest_verified = None if matches is None else bool(matches)  # None: not carried
    record.psnr_db = _finite(meta.get("psnr_db", onboard.get("psnr_db")))
    roi = roi_of(meta, h, w)
    record.roi_fraction = None if roi is None else roi.fraction
    if record.digest_verified is False:
        record.reason = (
            "reconstruction digest mismatch: the ground decoded other pixels than the encoder "
            f"reconstructed (onboard {str(meta.get(DIGEST_KEY))[:16]}...); psnr_db is the "
            "onboard figure and does not describe these pixels"
        )
    spec = RasterSpec(c, h, w, record.dtype, record.bit_depth, float(header["scale"]))
    return to_unit(outcome.raster, spec)


def apply_segmentation(
    record: TransferRecord,
    mask: np.ndarray,
    truth: np.ndarray | None,
    segment_ms: float,
    device: str,
) -> None:
    """Record segmentation time, device and, with a truth mask, the F1 figures.

    Shape:
        mask: (H, W) 0/1; truth: (H, W) or (1, H, W) 0/1, or None.
    """
    record.segment_ms = segment_ms
    record.device = device
    if truth is None:
        record.segmentation_note = "no truth mask came with the scene: F1 not computed"
        return
    truth_hw = np.asarray(truth)
    if truth_hw.ndim == 3 and truth_hw.shape[0] == 1:
        truth_hw = truth_hw[0]
    record.f1_positive = f1_positive(truth_hw, mask)
    record.f1_macro = f1_macro(truth_hw, mask)
