"""JPEG XL codec (libjxl through imagecodecs): lossless, or lossy at a target bpp, up to 16 bits.

- Each band is one greyscale JPEG XL file at the raster's true bit depth (a 14-bit sensor
  declares 14); the payload is the bands' files behind a varint length directory
  (:func:`shared.wire.patches.join_patches`: the last length is implied).
- Lossless is bit-exact (checked on every encode). Lossy: one Butteraugli distance for every
  band (an equal-quality allocation), bisected on a log scale until the payload meets the bpp
  target; qualities 1..6 are fixed distances.
- float32 input is quantised to ``spec.bit_depth`` bits as for JPEG 2000.
- The decoder reads each file's declared size (:mod:`shared.codecs.jxl_header`) and checks it
  against the spec and the decode limits before libjxl allocates anything.

imagecodecs is pinned below 2025: its later releases need NumPy 2, which CompressAI 1.2 refuses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from shared.codecs.base import (
    Capabilities,
    Codec,
    DecodeLimits,
    EncodedPayload,
    ModelRef,
    RasterSpec,
    RateTarget,
    check_raster,
)
from shared.codecs.jpeg2000 import NO_MODEL, classical_result, dequantise, quantise
from shared.codecs.jxl_header import declared_size
from shared.codecs.registry import register_codec
from shared.errors import CodecError, ConfigurationError, RateTargetError, ResourceLimitError
from shared.wire.patches import join_patches, split_patches

MAX_BANDS = 16
#: Quality level -> Butteraugli distance (libjxl: 1.0 is "visually lossless" on photographs).
QUALITY_DISTANCE: dict[int, float] = {1: 12.0, 2: 6.0, 3: 3.0, 4: 1.5, 5: 0.8, 6: 0.4}
DISTANCE_RANGE = (0.05, 25.0)  # what libjxl accepts, roughly: 0.0 is lossless, 25 the coarsest
SEARCH_STEPS = 14
EFFORT = 7  # libjxl's default


def _imagecodecs() -> Any:
    try:
        import imagecodecs
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise ConfigurationError(
            "JPEG XL needs the imagecodecs package (pip install 'imagecodecs<2025')"
        ) from exc
    return imagecodecs


@register_codec(
    "jpeg-xl",
    wire_id=2,
    kind="classical",
    summary="JPEG XL (libjxl via imagecodecs): lossless or lossy at a target bpp, band by band",
    capabilities=Capabilities(lossless=True),
)
class JpegXlCodec(Codec):
    """JPEG XL, one greyscale file per band, 1 to 16 bands.

    Args:
        effort: libjxl's encoder effort 1..9 (7, its default: slower is smaller).
        **options: accepted and ignored (e.g. ``checkpoints=``) so every codec is built alike.
    """

    def __init__(self, *, effort: int = EFFORT, **options: Any) -> None:
        if not 1 <= effort <= 9:
            raise ConfigurationError(f"JPEG XL effort must be 1..9, got {effort}")
        self.effort = effort

    def _bands(self, samples: NDArray[Any], spec: RasterSpec, distance: float | None) -> bytes:
        codecs = _imagecodecs()
        options: dict[str, Any] = {"bitspersample": spec.bit_depth, "effort": self.effort}
        if distance is None:
            options["lossless"] = True
        else:
            options["distance"] = distance
        files = [codecs.jpegxl_encode(np.ascontiguousarray(band), **options) for band in samples]
        return join_patches([bytes(f) for f in files])

    def _search(self, samples: NDArray[Any], spec: RasterSpec, bpp: float) -> bytes:
        """The largest payload within ``bpp``: bisection of the distance on a log scale."""
        budget = bpp * spec.pixels / 8.0
        low, high = (math.log(d) for d in DISTANCE_RANGE)
        coarsest = self._bands(samples, spec, DISTANCE_RANGE[1])
        if len(coarsest) > budget:
            floor = 8.0 * len(coarsest) / spec.pixels
            raise RateTargetError(
                f"JPEG XL cannot reach {bpp} bpp on {spec.pixels} pixels: its coarsest setting "
                f"takes {floor:.3f} bpp; ask for at least that"
            )
        best = coarsest
        for _ in range(SEARCH_STEPS):
            middle = (low + high) / 2
            payload = self._bands(samples, spec, math.exp(middle))
            if len(payload) <= budget:
                best, high = payload, middle
            else:
                low = middle
        return best

    def _payload(self, samples: NDArray[Any], spec: RasterSpec, target: RateTarget) -> bytes:
        if target.lossless:
            return self._bands(samples, spec, None)
        if target.bpp is not None:
            return self._search(samples, spec, target.bpp)
        try:
            distance = QUALITY_DISTANCE[target.quality or 0]
        except KeyError:
            raise RateTargetError(
                f"JPEG XL quality must be one of {sorted(QUALITY_DISTANCE)}, got {target.quality}"
            ) from None
        return self._bands(samples, spec, distance)

    def encode(
        self,
        raster: NDArray[Any],
        spec: RasterSpec,
        target: RateTarget,
        roi_mask: NDArray[Any] | None = None,
    ) -> EncodedPayload:
        """Encode a (C, H, W) raster, band by band, at the rate target.

        Raises:
            InvalidRasterError: the raster does not match ``spec`` or exceeds its bit depth.
            RateTargetError: the target is below what the coarsest setting takes.
            ConfigurationError: an ROI mask (JPEG XL here codes none).
            CodecError: libjxl failed, or a lossless round trip was not exact.
        """
        check_raster(raster, spec)
        if roi_mask is not None:
            raise ConfigurationError("jpeg-xl does not code a region of interest here")
        if spec.bands > MAX_BANDS:
            raise ConfigurationError(f"JPEG XL here takes 1..{MAX_BANDS} bands, got {spec.bands}")
        samples = quantise(raster, spec).astype(np.uint16 if spec.bit_depth > 8 else np.uint8)
        try:
            payload = self._payload(samples, spec, target)
        except RuntimeError as exc:  # imagecodecs' JpegxlError
            raise CodecError(f"libjxl could not encode: {exc}") from exc
        reconstruction = self.decode(payload, spec, NO_MODEL)
        return classical_result(payload, reconstruction, spec, samples, target, "libjxl")

    def decode(
        self, payload: bytes, spec: RasterSpec, model: ModelRef, limits: DecodeLimits | None = None
    ) -> NDArray[Any]:
        """Decode the bands' files after checking each declared size against spec and limits.

        Shape:
            return: (C, H, W) in ``spec.dtype``.

        Raises:
            ResourceLimitError: the payload or the declared sizes exceed ``limits``.
            CodecError: not JPEG XL for ``spec``, or libjxl failed.
        """
        limits = limits or DecodeLimits()
        if model != NO_MODEL:
            raise CodecError(f"JPEG XL payloads use no model weights, got {model}")
        limits.check(spec, len(payload))
        files = split_patches(payload, spec.bands)
        return dequantise(np.stack([_decode_band(f, spec, limits) for f in files]), spec)


def _decode_band(data: bytes, spec: RasterSpec, limits: DecodeLimits) -> NDArray[Any]:
    height, width = declared_size(data)
    if height * width > limits.max_pixels:
        raise ResourceLimitError(
            f"a JPEG XL band declares {height}x{width} pixels; the cap is {limits.max_pixels}"
        )
    if (height, width) != (spec.height, spec.width):
        raise CodecError(
            f"a JPEG XL band declares {height}x{width}; the container {spec.height}x{spec.width}"
        )
    band = _call(lambda: _imagecodecs().jpegxl_decode(data))
    if band.shape != (spec.height, spec.width) or band.dtype.kind != "u":
        raise CodecError(f"libjxl decoded a {band.dtype} {band.shape} band; expected greyscale")
    if int(band.max(initial=0)) > 2**spec.bit_depth - 1:
        raise CodecError(f"a JPEG XL band holds samples above {spec.bit_depth} bits: corrupt")
    return band


def _call(work: Callable[[], Any]) -> Any:
    try:
        return work()
    except RuntimeError as exc:  # imagecodecs' JpegxlError
        raise CodecError(f"libjxl could not decode a band: {exc}") from exc
