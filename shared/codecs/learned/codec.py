"""The seven learned codecs behind the registry's ``Codec`` contract.

Encoding pads the raster to a multiple of 64 by edge replication (repeating the last row and
column, which costs less rate than zeros and, unlike reflection, works for any size), normalises
it with :func:`to_unit`, codes it, and then DECODES its own payload through the same path the
ground runs: the reconstruction (and so its digest in the container) is what the ground gets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import torch
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
    from_unit,
    to_unit,
)
from shared.codecs.learned import band_offsets, coding
from shared.codecs.learned.architectures import MAX_BANDS, CompressionModel, latent_scheme
from shared.codecs.learned.checkpoint import CheckpointStore, StoredCheckpoint
from shared.codecs.learned.gmm_coding import WAVEFRONT_MARKER
from shared.codecs.learned.manifest import CheckpointManifest
from shared.codecs.learned.payload import pack_payload, unpack_payload
from shared.codecs.learned.rate_gain import (
    LEVEL_STEPS,
    estimated_bpp,
    level_code,
    level_for_bpp,
    quality_at_or_below,
)
from shared.codecs.learned.roi_gain import (
    DEFAULT_ROI_GAIN,
    LatentGainMap,
    RoiGain,
    latent_gain_map,
)
from shared.codecs.registry import register_codec
from shared.errors import (
    CheckpointError,
    ConfigurationError,
    InvalidRasterError,
    RateTargetError,
    WeightsMismatchError,
)

BPP_TOLERANCE = 0.05  # a bpp target's payload within 5 %, or more tries at corrected levels
BPP_REFINE_TRIES = 4  # encodes beyond the first that a bpp target may take
BLOCK = 64  # total downsampling of the cheng2020 and hyperprior models
TYPICAL_OFFSET = 64  # a band offset as the rate estimate counts it: a two-byte varint
#: What every learned codec can do: ROI by a latent gain, trained weights, 64-pixel blocks.
LEARNED = Capabilities(roi="latent-gain", weights=True, block=BLOCK)


def latent_layout(architecture: str, spec: RasterSpec) -> coding.LatentLayout:
    """Latent grid sizes implied by the raster: H, W padded to 64, then /16 (y) and /64 (z)."""
    rows, cols = -(-spec.height // BLOCK), -(-spec.width // BLOCK)
    z_shape = (rows, cols) if latent_scheme(architecture).has_hyper else (0, 0)
    return coding.LatentLayout((rows * 4, cols * 4), z_shape)


class LearnedCodec(Codec):
    """A CompressAI-based codec; subclasses name the architecture.

    Args:
        checkpoints: where to find weights (default: a store over EODL_CHECKPOINTS and the
            packaged checkpoints).
        device: must be ``cpu``: entropy coding and synthesis run on CPU float32 with one
            thread so that satellite and ground reconstruct bit-exactly.
    """

    def __init__(self, checkpoints: CheckpointStore | None = None, device: str = "cpu") -> None:
        if device != "cpu":
            raise ConfigurationError(
                f"learned codecs code on the CPU only (got device={device!r}): float paths on "
                "other devices do not reproduce the CPU's bits, which the decoder needs"
            )
        self.checkpoints = checkpoints if checkpoints is not None else CheckpointStore()
        self.device = device

    def encode(
        self,
        raster: NDArray[Any],
        spec: RasterSpec,
        target: RateTarget,
        roi_mask: NDArray[Any] | None = None,
        *,
        roi_gain: RoiGain = DEFAULT_ROI_GAIN,
        correct_bands: bool = True,
    ) -> EncodedPayload:
        """Encode a (C, H, W) raster to rANS bytes; the reconstruction is decoded from them.

        ``correct_bands``: send the per-band offsets that lower the tile's error
        (:mod:`shared.codecs.learned.band_offsets`); False codes the latents alone.

        With ``roi_mask`` the latents are scaled by ``roi_gain`` (finer quantisation in the
        16-pixel latent cells the mask touches, see :mod:`shared.codecs.learned.roi_gain`) and
        the payload carries the map; an empty mask codes the raster plainly.

        Shape:
            raster: (C, H, W) in ``spec.dtype``; roi_mask: (H, W) or (1, H, W), nonzero = ROI.

        Raises:
            InvalidRasterError: the raster or the ROI mask does not match ``spec``.
            RateTargetError, CheckpointError: no checkpoint meets the target.
        """
        check_raster(raster, spec)
        self._check_bands(spec)
        layout = latent_layout(self.name, spec)
        gain_map = None if roi_mask is None else _gain_map(roi_mask, spec, layout, roi_gain)
        entry = self._select(spec, target)
        model, manifest = self.checkpoints.load(entry)
        x = torch.from_numpy(_pad(to_unit(raster, spec), BLOCK)).unsqueeze(0)
        frame_bits = _frame_bits(layout, gain_map, spec)
        rate_code, quality = _rate_point(model, manifest, target, x, spec, frame_bits)
        decoded: dict[bytes, NDArray[Any]] = {}

        def code_at(code: int | None) -> bytes:
            with coding.deterministic_coding():
                coded = coding.compress(self.name, model.eval(), x, gain_map, code)
            payload, decoded_here = self._with_offsets(
                model, coded, layout, raster if correct_bands else None, spec
            )
            decoded[payload] = decoded_here
            return payload

        payload = code_at(rate_code)
        if target.bpp is not None and rate_code is not None:
            payload, rate_code = _refine_to_bpp(
                model, x, target.bpp, spec, frame_bits, (payload, rate_code), code_at
            )
            quality = quality_at_or_below(rate_code, len(manifest.rate_lmbdas))
        reconstruction = decoded[payload]
        return EncodedPayload(
            payload=payload,
            model=ModelRef(manifest.quality, manifest.weights_prefix),
            reconstruction=reconstruction,
            quality=quality,
            roi=None if gain_map is None else gain_map.to_metadata(spec.height, spec.width),
        )

    def _with_offsets(
        self,
        model: CompressionModel,
        coded: coding.LatentStrings,
        layout: coding.LatentLayout,
        raster: NDArray[Any] | None,
        spec: RasterSpec,
    ) -> tuple[bytes, NDArray[Any]]:
        """The payload of ``coded`` and what the ground decodes from it, with the band offsets
        that lower the error against ``raster`` added (none without a raster; see
        :mod:`shared.codecs.learned.band_offsets`)."""
        payload = pack_payload(coded, layout)
        reconstruction = self._decode_with(model, payload, spec)
        if raster is None:
            return payload, reconstruction
        offsets = band_offsets.measure(raster, reconstruction, spec)
        if offsets is None:
            return payload, reconstruction
        payload = pack_payload(replace(coded, band_offsets=offsets), layout)
        return payload, band_offsets.apply(reconstruction, offsets, spec)

    def coded_roi(self, payload: bytes, spec: RasterSpec) -> LatentGainMap | None:
        """The ROI gain map a payload carries (validated, CRC checked), without decoding it.

        Raises:
            CodecError: the payload is malformed or corrupt.
        """
        self._check_bands(spec)
        coded = unpack_payload(payload, latent_layout(self.name, spec), self.name)
        if coded.gain_map is not None:
            coded.gain_map.check_fits(spec.height, spec.width)
        return coded.gain_map

    def decode(
        self, payload: bytes, spec: RasterSpec, model: ModelRef, limits: DecodeLimits | None = None
    ) -> NDArray[Any]:
        """Decode a payload with the weights the ModelRef names.

        Raises:
            ResourceLimitError: declared sizes exceed ``limits``.
            WeightsMismatchError: no local checkpoint has the named weights.
            CodecError: the payload is malformed, corrupt or decodes to non-finite values.
        """
        (limits or DecodeLimits()).check(spec, len(payload))
        self._check_bands(spec)
        entry = self.checkpoints.find(self.name, spec.bands, weights_prefix=model.weights_prefix)
        if entry.manifest.quality != model.model_id:
            raise WeightsMismatchError(
                f"the payload names model id {model.model_id} but weights "
                f"{model.weights_prefix.hex()} are quality {entry.manifest.quality}: "
                "the container header is inconsistent"
            )
        net, _ = self.checkpoints.load(entry)
        return self._decode_with(net, payload, spec)

    def _decode_with(self, net: CompressionModel, payload: bytes, spec: RasterSpec) -> NDArray[Any]:
        layout = latent_layout(self.name, spec)
        coded = unpack_payload(payload, layout, self.name)
        if coded.gain_map is not None:
            coded.gain_map.check_fits(spec.height, spec.width)
        with coding.deterministic_coding():
            x_hat = coding.decompress(self.name, net.eval(), coded, layout)
        unit = x_hat[0, :, : spec.height, : spec.width].numpy()
        samples = from_unit(unit, spec)
        if coded.band_offsets is None:
            return samples
        return band_offsets.apply(samples, coded.band_offsets, spec)

    def _select(self, spec: RasterSpec, target: RateTarget) -> StoredCheckpoint:
        if target.lossless:
            raise RateTargetError("learned codecs are lossy; use jpeg2000 --lossless")
        # A variable-rate checkpoint meets every quality and bpp target: the first one in the
        # search order wins over the fixed-rate checkpoints after it.
        candidates = self.checkpoints.candidates(self.name, spec.bands)
        if target.quality is not None:
            fitting = [
                c
                for c in candidates
                if c.manifest.rate_lmbdas or c.manifest.quality == target.quality
            ]
            return (
                fitting[0]
                if fitting
                else self.checkpoints.find(self.name, spec.bands, quality=target.quality)
            )
        measured = [
            c
            for c in candidates
            if c.manifest.rate_lmbdas or isinstance(c.manifest.metrics.get("bpp"), int | float)
        ]
        if measured and measured[0].manifest.rate_lmbdas:
            return measured[0]
        measured = [c for c in measured if not c.manifest.rate_lmbdas]
        if not measured:
            raise CheckpointError(
                f"no {self.name} checkpoint for {spec.bands} bands has a measured bpp in its "
                "manifest, so a bpp target cannot be met; use --quality 1..6"
            )
        wanted = float(target.bpp or 0.0)
        return min(measured, key=lambda c: abs(c.manifest.metrics["bpp"] - wanted))

    def _check_bands(self, spec: RasterSpec) -> None:
        if spec.bands > MAX_BANDS:
            raise InvalidRasterError(f"{self.name} takes 1..{MAX_BANDS} bands, got {spec.bands}")


def _gain_map(
    roi_mask: NDArray[Any], spec: RasterSpec, layout: coding.LatentLayout, levels: RoiGain
) -> LatentGainMap | None:
    shape = np.shape(roi_mask)
    if shape not in ((spec.height, spec.width), (1, spec.height, spec.width)):
        raise InvalidRasterError(
            f"ROI mask shape {shape} does not match the raster's {spec.height}x{spec.width}; "
            "pass an (H, W) mask (e.g. from satellite_node.detectors.detect_roi)"
        )
    return latent_gain_map(roi_mask, layout.y_shape, levels)


def _rate_point(
    model: CompressionModel,
    manifest: CheckpointManifest,
    target: RateTarget,
    x: torch.Tensor,
    spec: RasterSpec,
    frame_bits: int,
) -> tuple[int | None, int]:
    """The rate level code (None for fixed-rate weights) and the quality the container records.

    A variable-rate model codes a quality at its evenly spread level
    (:func:`~shared.codecs.learned.rate_gain.level_code`) and a bpp target at the highest-rate
    level whose estimated bits, plus the payload's ``frame_bits``, meet it
    (:func:`~shared.codecs.learned.rate_gain.level_for_bpp`); the quality recorded is then the
    highest one at or below that level's rate.
    """
    if not manifest.rate_lmbdas:
        return None, manifest.quality
    levels = len(manifest.rate_lmbdas)
    if target.quality is not None:
        return level_code(target.quality, levels), target.quality
    pixels = spec.height * spec.width
    latent_bpp = float(target.bpp or 0.0) - frame_bits / pixels
    with coding.deterministic_coding():
        code = level_for_bpp(model.eval(), x, latent_bpp, pixels)
    return code, quality_at_or_below(code, levels)


def _refine_to_bpp(
    model: CompressionModel,
    x: torch.Tensor,
    bpp: float,
    spec: RasterSpec,
    frame_bits: int,
    first: tuple[bytes, int],
    code_at: Callable[[int], bytes],
) -> tuple[bytes, int]:
    """Corrections of a bpp target's level by the measured payload, at most
    :data:`BPP_REFINE_TRIES` more encodes, until one lands within :data:`BPP_TOLERANCE`.

    The model's estimate misses most on small rasters, where each rANS stream grows in 4-byte
    words (a 32 x 32 fire patch: 0.03 bpp a word). Each try rescales the target by the
    estimate's error at the closest level so far (measured latent bits over estimated); once
    levels on both sides of the target were measured, the next lies between them (bisection
    over level codes). The payload closest to the target is kept.
    """
    pixels = spec.height * spec.width
    tried = {first[1]: first[0]}

    def miss(code: int) -> float:
        return abs(8 * len(tried[code]) / pixels / bpp - 1.0)

    for _ in range(BPP_REFINE_TRIES):
        best = min(tried, key=miss)
        if miss(best) <= BPP_TOLERANCE:
            break
        code = _next_code(model, x, bpp, pixels, frame_bits, best, tried)
        if code is None or code in tried:
            break
        tried[code] = code_at(code)
    best = min(tried, key=miss)
    return tried[best], best


def _next_code(
    model: CompressionModel,
    x: torch.Tensor,
    bpp: float,
    pixels: int,
    frame_bits: int,
    best: int,
    tried: dict[int, bytes],
) -> int | None:
    """The next level code to try (a higher code codes fewer bits); None when none is left."""
    target_bits = bpp * pixels
    above = [c for c, p in tried.items() if 8 * len(p) > target_bits]  # too many bits
    below = [c for c, p in tried.items() if 8 * len(p) <= target_bits]
    low = max(above) if above else None  # the next code lies above every code that overshot
    high = min(below) if below else None  # and below every code that fit
    if low is not None and high is not None:
        return (low + high) // 2 if high - low > 1 else None
    frame_bpp = frame_bits / pixels
    actual = 8 * len(tried[best]) / pixels
    with coding.deterministic_coding():
        estimate = estimated_bpp(model.eval(), x, [best], pixels)[0]
        if estimate <= 0 or actual <= frame_bpp:
            return None
        wanted = (bpp - frame_bpp) * estimate / (actual - frame_bpp)
        code = level_for_bpp(model, x, wanted, pixels)
    if low is not None and code <= low:  # the estimate's noise must not undo a measurement
        code = low + 1
    if high is not None and code >= high:
        code = high - 1
    top = (model.rate_gains.levels - 1) * LEVEL_STEPS
    return code if 0 <= code <= top else None


def _frame_bits(
    layout: coding.LatentLayout, gain_map: LatentGainMap | None, spec: RasterSpec
) -> int:
    """Bits of a cheng2020-gmm rate-level payload beyond its symbols: header, ROI section,
    band offsets (two bytes a band, their usual size), string lengths, CRC, the wavefront
    marker and each rANS stream's flushed state."""
    empty = bytes(coding.MIN_STRING_BYTES)
    offsets = None if spec.dtype == "float32" else (TYPICAL_OFFSET,) * spec.bands
    template = coding.LatentStrings((WAVEFRONT_MARKER + empty, empty), 1, gain_map, 0, offsets)
    return 8 * len(pack_payload(template, layout))


def _pad(unit: NDArray[Any], block: int) -> NDArray[Any]:
    """Edge-replicate (C, H, W) up to multiples of ``block``. Returns float32, C-contiguous."""
    _, height, width = unit.shape
    pad_h, pad_w = -height % block, -width % block
    padded = np.pad(unit, ((0, 0), (0, pad_h), (0, pad_w)), mode="edge")
    return np.ascontiguousarray(padded, dtype=np.float32)


@register_codec(
    "factorized-prior",
    wire_id=10,
    kind="learned",
    summary="Balle 2017 factorized prior, N-band",
    capabilities=LEARNED,
)
class FactorizedPriorCodec(LearnedCodec):
    """Balle 2017 factorized prior, N-band."""


@register_codec(
    "scale-hyperprior",
    wire_id=11,
    kind="learned",
    summary="Balle 2018 scale hyperprior, N-band",
    capabilities=LEARNED,
)
class ScaleHyperpriorCodec(LearnedCodec):
    """Balle 2018 scale hyperprior, N-band."""


@register_codec(
    "mean-scale-hyperprior",
    wire_id=12,
    kind="learned",
    summary="Minnen 2018 mean-scale hyperprior, N-band",
    capabilities=LEARNED,
)
class MeanScaleHyperpriorCodec(LearnedCodec):
    """Minnen 2018 mean-scale hyperprior, N-band."""


@register_codec(
    "cheng2020-anchor",
    wire_id=13,
    kind="learned",
    summary="Cheng 2020 anchor (residual blocks, autoregressive context), N-band",
    capabilities=LEARNED,
)
class Cheng2020AnchorCodec(LearnedCodec):
    """Cheng 2020 anchor with autoregressive context, N-band."""


@register_codec(
    "cheng2020-attn",
    wire_id=14,
    kind="learned",
    summary="Cheng 2020 with attention, single Gaussian, N-band",
    capabilities=LEARNED,
)
class Cheng2020AttnCodec(LearnedCodec):
    """Cheng 2020 with attention, single Gaussian, N-band."""


@register_codec(
    "cheng2020-gmm",
    wire_id=15,
    kind="learned",
    summary="the paper's model: Cheng 2020 attention + Gaussian mixture (K=3), N-band",
    capabilities=LEARNED,
)
class Cheng2020GMMCodec(LearnedCodec):
    """The paper's model: Cheng 2020 attention with a Gaussian mixture (K=3), N-band."""


@register_codec(
    "cheng2020-checkerboard",
    wire_id=16,
    kind="learned",
    summary="Cheng 2020 anchor with a two-pass checkerboard context (fast decode), N-band",
    capabilities=LEARNED,
)
class Cheng2020CheckerboardCodec(LearnedCodec):
    """Cheng 2020 anchor with a two-pass checkerboard context (fast decode), N-band."""
