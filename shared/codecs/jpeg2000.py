"""JPEG 2000 codec (OpenJPEG via glymur's low-level API): raw J2K codestreams, 1 to 16 bands.

- Lossless: reversible 5/3 wavelet, bit-exact. Lossy: irreversible 9/7 at a target bpp measured
  on the codestream (see :mod:`shared.codecs.j2k_rate`, which also documents the quality ladder).
- SIZ declares the raster's true bit depth (a 14-bit sensor in uint16 declares 14), so rate
  targets are right; the colour transform is always off, so bands are never mixed.
- float32 input is quantised to ``spec.bit_depth`` bits: q = round(clip(x / scale, 0, 1) *
  (2**B - 1)); the reconstruction is q / (2**B - 1) * scale as float32. "Lossless" then means
  lossless after that quantisation.
- The decoder reads SIZ and the marker structure itself and checks them against the expected
  spec and the decode limits before OpenJPEG allocates anything (decompression-bomb guard).
- OpenJPEG's COM marker ("Created by OpenJPEG ...") is stripped: about 40 bytes that matter on a
  32x32 fire patch.
"""

from __future__ import annotations

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
from shared.codecs.j2k_codestream import SizInfo, inspect_codestream, parse_siz, strip_comments
from shared.codecs.j2k_openjpeg import (
    EncoderSettings,
    decode_codestream,
    encode_codestream,
    max_resolutions,
)
from shared.codecs.j2k_rate import bpp_for_quality, search_rate
from shared.codecs.j2k_roi import smooth_background
from shared.codecs.registry import register_codec
from shared.errors import (
    CodecError,
    ConfigurationError,
    InvalidRasterError,
    RateTargetError,
    ResourceLimitError,
)

MAX_BANDS = 16
MAX_TILES = 1024  # OpenJPEG allocates per-tile state from SIZ alone; our encoder writes one tile
NO_MODEL = ModelRef(0, b"")


def classical_result(
    payload: bytes,
    reconstruction: NDArray[Any],
    spec: RasterSpec,
    samples: NDArray[Any],
    target: RateTarget,
    library: str,
) -> EncodedPayload:
    """A classical codec's encoding, its lossless promise checked: the reconstruction's
    samples must equal the input's bit for bit.

    Raises:
        CodecError: ``library`` broke a lossless round trip (a bug to report).
    """
    if target.lossless and not np.array_equal(quantise(reconstruction, spec), samples):
        raise CodecError(f"{library}'s lossless round trip was not bit-exact; report this bug")
    return EncodedPayload(payload, NO_MODEL, reconstruction, None, target.lossless)


def quantise(raster: NDArray[Any], spec: RasterSpec) -> NDArray[Any]:
    """The unsigned integer samples that go into the codestream, at ``spec.bit_depth`` bits.

    Shape:
        raster: (C, H, W); return: (C, H, W) uint8 or uint16.

    Raises:
        InvalidRasterError: integer samples exceed 2**bit_depth - 1.
    """
    top = 2**spec.bit_depth - 1
    if raster.dtype.kind == "f":
        unit = np.clip(raster.astype(np.float64) / spec.scale, 0.0, 1.0)
        return np.rint(unit * top).astype(np.uint16)
    peak = int(raster.max())
    if peak > top:
        raise InvalidRasterError(
            f"sample value {peak} does not fit the declared {spec.bit_depth}-bit depth (max "
            f"{top}); declare bit_depth >= {peak.bit_length()} or rescale the raster"
        )
    return raster


def dequantise(samples: NDArray[Any], spec: RasterSpec) -> NDArray[Any]:
    """Decoded integer samples back to ``spec.dtype`` (float32 in the raster's original units).

    Shape:
        samples: (C, H, W); return: (C, H, W) in ``spec.dtype``.
    """
    if spec.dtype == "float32":
        top = float(2**spec.bit_depth - 1)
        return (samples.astype(np.float64) / top * spec.scale).astype(np.float32)
    return np.clip(samples, 0, 2**spec.bit_depth - 1).astype(spec.dtype)


def check_declared(siz: SizInfo, spec: RasterSpec, limits: DecodeLimits) -> None:
    """Refuse a codestream whose SIZ exceeds the limits or differs from the expected spec.

    Raises:
        ResourceLimitError: declared bands, pixels or tiles exceed the caps.
        CodecError: declared geometry or precision differs from ``spec``.
    """
    if siz.bands > limits.max_bands or siz.pixels > limits.max_pixels or siz.tiles > MAX_TILES:
        raise ResourceLimitError(
            f"J2K codestream declares {siz.bands} bands of {siz.height}x{siz.width} pixels in "
            f"{siz.tiles} tiles; caps are {limits.max_bands} bands, {limits.max_pixels} pixels, "
            f"{MAX_TILES} tiles: refusing to decode"
        )
    declared = (siz.bands, siz.height, siz.width)
    if declared != spec.shape:
        raise CodecError(f"J2K codestream declares shape {declared}, the container {spec.shape}")
    for k, comp in enumerate(siz.components):
        if (comp.precision, comp.signed, comp.dx, comp.dy) != (spec.bit_depth, False, 1, 1):
            raise CodecError(
                f"J2K component {k} declares {comp.precision}-bit "
                f"{'signed' if comp.signed else 'unsigned'} samples subsampled {comp.dx}x"
                f"{comp.dy}; expected {spec.bit_depth}-bit unsigned, not subsampled"
            )


@register_codec(
    "jpeg2000",
    wire_id=1,
    kind="classical",
    summary="JPEG 2000 (OpenJPEG via glymur): lossless 5/3 or lossy 9/7 at a target bpp",
    capabilities=Capabilities(roi="background-lowpass", lossless=True),
)
class Jpeg2000Codec(Codec):
    """JPEG 2000 over OpenJPEG: lossless 5/3 or lossy 9/7 at a target bpp, 1 to 16 bands.

    Args:
        threads: OpenJPEG worker threads for encode and decode.
        resolutions: wanted resolution levels (decompositions + 1), reduced for small tiles.
        **options: accepted and ignored (e.g. ``checkpoints=``) so every codec is built alike.
    """

    def __init__(self, *, threads: int = 1, resolutions: int = 6, **options: Any) -> None:
        if threads < 1 or not 1 <= resolutions <= 33:
            raise ConfigurationError(
                f"threads must be >= 1 and resolutions 1..33, got {threads} and {resolutions}"
            )
        self.threads = threads
        self.resolutions = resolutions

    def _settings(
        self, spec: RasterSpec, resolutions: int, ratio: float | None = None
    ) -> EncoderSettings:
        return EncoderSettings(
            precision=spec.bit_depth,
            irreversible=ratio is not None,
            ratio=ratio,
            resolutions=resolutions,
            threads=self.threads,
        )

    def _search(
        self, samples: NDArray[Any], spec: RasterSpec, bpp: float, resolutions: int
    ) -> bytes:
        def at_ratio(ratio: float) -> bytes:
            settings = self._settings(spec, resolutions, ratio)
            return strip_comments(encode_codestream(samples, settings))

        first_ratio = spec.bands * spec.bit_depth / bpp
        return search_rate(at_ratio, bpp, spec.pixels, first_ratio).codestream

    def _lossy(self, samples: NDArray[Any], spec: RasterSpec, bpp: float) -> bytes:
        """9/7 at ``bpp``; below the marker floor, retry with fewer resolutions (smaller QCD)."""
        most = max_resolutions(spec.height, spec.width, self.resolutions)
        for resolutions in range(most, 1, -1):
            try:
                return self._search(samples, spec, bpp, resolutions)
            except RateTargetError:
                continue  # fewer resolutions lower the floor and ease pass granularity
        return self._search(samples, spec, bpp, 1)  # refuses with the true floor

    def _codestream(self, samples: NDArray[Any], spec: RasterSpec, target: RateTarget) -> bytes:
        if target.lossless:
            resolutions = max_resolutions(spec.height, spec.width, self.resolutions)
            return strip_comments(encode_codestream(samples, self._settings(spec, resolutions)))
        if target.bpp is not None:
            return self._lossy(samples, spec, target.bpp)
        return self._lossy(samples, spec, bpp_for_quality(target.quality or 0, spec.bands))

    def encode(
        self,
        raster: NDArray[Any],
        spec: RasterSpec,
        target: RateTarget,
        roi_mask: NDArray[Any] | None = None,
    ) -> EncodedPayload:
        """Encode a (C, H, W) raster to a raw J2K codestream at the rate target.

        With ``roi_mask`` (lossy only) the background is low-passed before coding so that the
        target's bytes go to the ROI (see :mod:`shared.codecs.j2k_roi`); the reconstruction is
        still the plain decode of the standard codestream.

        Shape:
            raster: (C, H, W) in ``spec.dtype``; roi_mask: (H, W) bool.

        Raises:
            InvalidRasterError: the raster does not match ``spec`` or exceeds its bit depth.
            RateTargetError: the target bpp is below the codestream's marker overhead.
            CodecError: OpenJPEG failed.
        """
        check_raster(raster, spec)
        if spec.bands > MAX_BANDS:
            raise InvalidRasterError(
                f"JPEG 2000 here takes 1..{MAX_BANDS} bands, got {spec.bands}; split the cube"
            )
        samples = quantise(raster, spec)
        if roi_mask is not None:
            if target.lossless:
                raise RateTargetError("ROI coding needs a lossy target; lossless keeps every pixel")
            payload = self._codestream(smooth_background(samples, roi_mask), spec, target)
        else:
            payload = self._codestream(samples, spec, target)
        reconstruction = self.decode(payload, spec, NO_MODEL)
        return classical_result(payload, reconstruction, spec, samples, target, "OpenJPEG")

    def decode(
        self, payload: bytes, spec: RasterSpec, model: ModelRef, limits: DecodeLimits | None = None
    ) -> NDArray[Any]:
        """Decode a raw J2K codestream after checking its declared header against spec and limits.

        Shape:
            return: (C, H, W) in ``spec.dtype``.

        Raises:
            ResourceLimitError: the payload or its declared sizes exceed ``limits``.
            CodecError: not a valid J2K codestream for ``spec``, or OpenJPEG failed.
        """
        limits = limits or DecodeLimits()
        if model != NO_MODEL:
            raise CodecError(f"JPEG 2000 payloads use no model weights, got {model}")
        if not payload:
            raise CodecError("JPEG 2000 payload is empty; the container carries no codestream")
        limits.check(spec, len(payload))
        check_declared(parse_siz(payload), spec, limits)
        inspect_codestream(payload)  # marker structure and tile-part chain, up to EOC
        samples = decode_codestream(payload, spec.shape, self.threads)
        return dequantise(samples, spec)
