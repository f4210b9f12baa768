"""The codec contract every codec of the registry implements.

A codec turns a raster of shape (C, H, W) into a payload of real entropy-coded bytes and back.
Encoding also returns the reconstruction the decoder will produce from those bytes, so that the
container can carry its digest and the ground can prove it decoded the same pixels.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray

from shared.errors import InvalidRasterError, RateTargetError, ResourceLimitError

CodecKind = Literal["classical", "learned"]
SUPPORTED_DTYPES = ("uint8", "uint16", "float32")
WEIGHTS_PREFIX_BYTES = 8


@dataclass(frozen=True)
class RateTarget:
    """Exactly one of: a target in bits per pixel, a quality level 1..6, or lossless."""

    bpp: float | None = None
    quality: int | None = None
    lossless: bool = False

    def __post_init__(self) -> None:
        chosen = sum([self.bpp is not None, self.quality is not None, self.lossless])
        if chosen != 1:
            raise RateTargetError(
                "give exactly one rate target: a bpp (e.g. --bpp 0.5), a quality 1..6 "
                "(--quality 3) or --lossless"
            )
        if self.bpp is not None and not (0 < self.bpp <= 64 * 16):
            raise RateTargetError(f"bpp must be positive and finite, got {self.bpp}")
        if self.quality is not None and not (1 <= self.quality <= 6):
            raise RateTargetError(f"quality must be 1..6 as in CompressAI, got {self.quality}")


@dataclass(frozen=True)
class RasterSpec:
    """What the decoder must know about the raster besides the payload.

    Attributes:
        bands, height, width: the raster's shape (C, H, W).
        dtype: the original sample type, one of ``SUPPORTED_DTYPES``.
        bit_depth: significant bits per sample (a 14-bit sensor in uint16 declares 14). For
            float input it is the depth to which a classical codec quantises.
        scale: normalisation scale; ``x / scale`` lies in [0, 1] (the profile's global max).
    """

    bands: int
    height: int
    width: int
    dtype: str
    bit_depth: int
    scale: float

    def __post_init__(self) -> None:
        if self.dtype not in SUPPORTED_DTYPES:
            raise InvalidRasterError(
                f"dtype {self.dtype!r} is not supported; use one of {', '.join(SUPPORTED_DTYPES)}"
            )
        itemsize_bits = np.dtype(self.dtype).itemsize * 8
        max_depth = 16 if self.dtype == "float32" else itemsize_bits
        if not (1 <= self.bit_depth <= max_depth):
            raise InvalidRasterError(
                f"bit depth {self.bit_depth} does not fit {self.dtype}; use 1..{max_depth}"
            )
        if min(self.bands, self.height, self.width) < 1:
            raise InvalidRasterError(f"shape must be positive, got {self.shape}")
        if not (self.scale > 0 and np.isfinite(self.scale)):
            raise InvalidRasterError(f"normalisation scale must be positive, got {self.scale}")

    @property
    def shape(self) -> tuple[int, int, int]:
        """(bands, height, width)."""
        return (self.bands, self.height, self.width)

    @property
    def pixels(self) -> int:
        """Spatial positions, height x width (the denominator of bpp)."""
        return self.height * self.width


@dataclass(frozen=True)
class ModelRef:
    """Which weights produced a payload: model id (the quality level for learned codecs, 0 for
    classical ones) and the first bytes of the weights' SHA-256 (empty for classical codecs)."""

    model_id: int = 0
    weights_prefix: bytes = b""


@dataclass(frozen=True)
class EncodedPayload:
    """The result of encoding: the payload bytes and the reconstruction they decode to.

    Attributes:
        roi: the region of interest as coded, a JSON-able record for the container metadata
            (``BlockMask.to_metadata`` plus the method's parameters); ``None`` when the codec
            did no ROI coding or leaves the record to the pipeline.

    Shape:
        reconstruction: (C, H, W) in the raster's original dtype.
    """

    payload: bytes
    model: ModelRef
    reconstruction: NDArray[Any] = field(repr=False)
    quality: int | None = None
    lossless: bool = False
    roi: dict[str, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class DecodeLimits:
    """Caps checked against declared sizes before anything is allocated."""

    max_pixels: int = 4096 * 4096
    max_bands: int = 16
    max_payload_bytes: int = 256 * 1024 * 1024

    def check(self, spec: RasterSpec, payload_bytes: int = 0) -> None:
        """Refuse declared sizes over the caps before anything is allocated.

        Raises:
            ResourceLimitError: bands, pixels or payload bytes over their cap.
        """
        if spec.bands > self.max_bands:
            raise ResourceLimitError(f"{spec.bands} bands declared; the cap is {self.max_bands}")
        if spec.pixels > self.max_pixels:
            raise ResourceLimitError(
                f"{spec.height}x{spec.width} pixels declared; the cap is {self.max_pixels} pixels"
            )
        if payload_bytes > self.max_payload_bytes:
            raise ResourceLimitError(
                f"payload of {payload_bytes} bytes; the cap is {self.max_payload_bytes}"
            )


def reconstruction_digest(reconstruction: NDArray[Any]) -> str:
    """SHA-256 (hex) of a reconstruction's samples, C-order little-endian, with its shape."""
    arr = np.ascontiguousarray(reconstruction)
    arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    h = hashlib.sha256(repr((arr.shape, arr.dtype.str)).encode())
    h.update(arr.tobytes())
    return h.hexdigest()


def to_unit(raster: NDArray[Any], spec: RasterSpec) -> NDArray[Any]:
    """Normalise to [0, 1] by the spec's scale (paper, Appendix A). Returns float32."""
    return np.clip(raster.astype(np.float32) / np.float32(spec.scale), 0.0, 1.0)


def from_unit(unit: NDArray[Any], spec: RasterSpec) -> NDArray[Any]:
    """Undo :func:`to_unit` into the spec's dtype, rounding and clipping integer samples."""
    values = unit.astype(np.float32) * np.float32(spec.scale)
    if spec.dtype == "float32":
        return values.astype(np.float32)
    top = float(2**spec.bit_depth - 1)
    return np.clip(np.rint(values), 0.0, top).astype(spec.dtype)


def check_raster(raster: NDArray[Any], spec: RasterSpec) -> None:
    """Refuse a raster that does not match its spec, or holds NaN/Inf."""
    if raster.shape != spec.shape:
        raise InvalidRasterError(f"raster shape {raster.shape} differs from spec {spec.shape}")
    if raster.dtype.name != spec.dtype:
        raise InvalidRasterError(f"raster dtype {raster.dtype} differs from spec {spec.dtype}")
    if raster.dtype.kind == "f" and not np.isfinite(raster).all():
        raise InvalidRasterError("raster holds NaN or Inf samples; fill or mask them first")


#: How a codec codes a region of interest: not at all, a low-pass of the background before
#: coding (JPEG 2000), or a gain on the latents inside the region (learned codecs).
RoiMethod = Literal["none", "background-lowpass", "latent-gain"]


@dataclass(frozen=True)
class Capabilities:
    """What a codec can do, declared on its class.

    Attributes:
        roi: how it codes a region of interest (``none``: an ROI mask is refused).
        lossless: whether a lossless rate target is accepted.
        weights: whether it decodes with trained weights (a checkpoint store).
        block: side, in pixels, its coder pads a raster to (64 for the learned models).
    """

    roi: RoiMethod = "none"
    lossless: bool = False
    weights: bool = False
    block: int = 1


class Codec(ABC):
    """A registered codec: :func:`shared.codecs.registry.register_codec` on the class sets the
    class attributes; subclasses implement both directions."""

    name: ClassVar[str]
    wire_id: ClassVar[int]
    kind: ClassVar[CodecKind]
    capabilities: ClassVar[Capabilities]

    @abstractmethod
    def encode(
        self,
        raster: NDArray[Any],
        spec: RasterSpec,
        target: RateTarget,
        roi_mask: NDArray[Any] | None = None,
    ) -> EncodedPayload:
        """Encode a (C, H, W) raster to real entropy-coded bytes at the rate target.

        With ``roi_mask`` (an (H, W) bool region of interest) the codec spends more of the
        bytes inside the region; the decoder needs nothing but the payload to undo it. A codec
        without ROI coding raises ``ConfigurationError`` when given a mask.
        """

    @abstractmethod
    def decode(
        self, payload: bytes, spec: RasterSpec, model: ModelRef, limits: DecodeLimits | None = None
    ) -> NDArray[Any]:
        """Decode a payload to a (C, H, W) raster in ``spec.dtype``.

        Raises:
            ResourceLimitError: the declared sizes exceed ``limits`` (checked before allocation).
            CodecError: the payload is not decodable.
        """
