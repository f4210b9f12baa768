"""The one compression pipeline: raster -> container onboard, container -> raster on the ground.

Both services and the CLI call :func:`compress_raster` and :func:`decompress_container`, so the
normalisation, the digest of the reconstruction and the figures are computed in one place.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from shared.codecs.base import (
    SUPPORTED_DTYPES,
    Codec,
    DecodeLimits,
    EncodedPayload,
    RasterSpec,
    RateTarget,
    check_raster,
    reconstruction_digest,
)
from shared.codecs.j2k_roi import DEFAULT_SIGMA_PX, ROI_METHOD
from shared.codecs.patches import decode_patches, encode_patches, stack_patches
from shared.codecs.registry import all_codecs, codec_info, open_codec
from shared.codecs.tiling import TilingPolicy, decode_tiled, encode_tiled
from shared.errors import (
    CodecError,
    ConfigurationError,
    ContainerError,
    EODownlinkError,
    InvalidRasterError,
    RateTargetError,
)
from shared.metrics.distortion import psnr_db
from shared.metrics.rate import bits_per_sample, bpp
from shared.roi.masks import ROI_METADATA_KEY, block_mask
from shared.varint import encode_uvarint
from shared.wire.container import (
    DIGEST_KEY,
    MAX_METADATA_BYTES,
    WRITTEN_VERSION,
    Container,
    encode_free_metadata,
    encode_metadata,
    pack_container,
    read_header,
    unpack_container,
)
from shared.wire.format_v2 import patch_count
from shared.wire.georef import Georef
from shared.wire.header import FORMAT_VERSION, ContainerHeader
from shared.wire.sidecar import pack_mask, unpack_mask

RESERVED_METADATA = (DIGEST_KEY, "psnr_db")
#: The longest header either version writes (version 2's, with every optional field, is ~110).
MAX_HEADER_BYTES = 128


@dataclass(frozen=True)
class CompressedScene:
    """A compressed scene and its onboard figures.

    Attributes:
        container: the bytes to downlink.
        header: the container's header.
        reconstruction: what the ground will decode. Shape: (C, H, W), original dtype.
        bpp: container bits per spatial pixel, all bands, header and metadata included; the
            evaluation sidecar is not counted (it would not fly operationally).
        bits_per_sample: the same bits over C x H x W.
        payload_bpp: codec payload bits per spatial pixel (no header, metadata or sidecar).
        psnr_db: PSNR on data normalised by the scale; ``math.inf`` for an exact reconstruction.
    """

    container: bytes = field(repr=False)
    header: ContainerHeader
    reconstruction: NDArray[Any] = field(repr=False)
    bpp: float
    bits_per_sample: float
    payload_bpp: float
    psnr_db: float | None


@dataclass(frozen=True)
class DecodedScene:
    """A decoded container.

    Attributes:
        raster: the reconstruction. Shape: (C, H, W), original dtype.
        container: the verified container it came from.
        digest_matches: the raster is bit-identical to the encoder's reconstruction (as far as
            the container's check goes: all 32 bytes of the SHA-256 in version 1, 8 in version
            2); ``None`` when the container carries no check.
        truth_mask: the sidecar's truth mask, or ``None``.
    """

    raster: NDArray[Any] = field(repr=False)
    container: Container
    digest_matches: bool | None
    truth_mask: NDArray[Any] | None = field(default=None, repr=False)


def _as_chw(raster: NDArray[Any]) -> NDArray[Any]:
    if raster.ndim == 2:
        return raster[np.newaxis]
    if raster.ndim != 3:
        raise InvalidRasterError(
            f"raster must be (C, H, W) or (H, W), got {raster.ndim} dimensions {raster.shape}"
        )
    return raster


def written_version() -> int:
    """The container version to write: ``EODL_CONTAINER_VERSION`` (1 or 2), else 2.

    Raises:
        ConfigurationError: the variable holds anything else.
    """
    text = os.environ.get("EODL_CONTAINER_VERSION", "").strip()
    if not text:
        return WRITTEN_VERSION
    if text not in ("1", "2"):
        raise ConfigurationError(
            f"EODL_CONTAINER_VERSION={text!r}: use 1 (for a ground that reads version 1 only) "
            "or 2, or unset it"
        )
    return int(text)


def carries_check(kind: str) -> bool:
    """Whether a codec of ``kind`` carries the reconstruction check by default:
    ``EODL_RECONSTRUCTION_CHECK`` (``always``, ``never``, ``learned``), else learned codecs only.

    Raises:
        ConfigurationError: the variable holds anything else.
    """
    policy = os.environ.get("EODL_RECONSTRUCTION_CHECK", "").strip() or "learned"
    if policy not in ("always", "never", "learned"):
        raise ConfigurationError(
            f"EODL_RECONSTRUCTION_CHECK={policy!r}: use always, never or learned (the default)"
        )
    return policy == "always" or (policy == "learned" and kind != "classical")


def build_spec(raster: NDArray[Any], *, scale: float | None, bit_depth: int | None) -> RasterSpec:
    """The spec of a (C, H, W) raster with the pipeline's defaults.

    ``bit_depth`` defaults to the dtype's bits for integers and 16 for float32; ``scale`` to
    ``2**bit_depth - 1`` for integers and the raster's maximum for float32.

    Raises:
        InvalidRasterError: unsupported dtype, samples beyond the bit depth, or no positive scale.
    """
    dtype = raster.dtype.name
    if dtype not in SUPPORTED_DTYPES:
        raise InvalidRasterError(
            f"raster dtype {dtype} is not supported; convert it to one of "
            f"{', '.join(SUPPORTED_DTYPES)} (e.g. raster.astype(np.float32))"
        )
    is_float = raster.dtype.kind == "f"
    depth = bit_depth if bit_depth is not None else (16 if is_float else raster.itemsize * 8)
    if not is_float and raster.size and 0 < depth <= raster.itemsize * 8:
        peak = int(raster.max())
        if peak > 2**depth - 1:
            raise InvalidRasterError(
                f"raster holds the value {peak}, which needs {peak.bit_length()} bits, but the "
                f"bit depth is {depth}; pass --bit-depth {peak.bit_length()} or more"
            )
    if scale is None:
        scale = float(2**depth - 1) if not is_float else _float_peak(raster)
    bands, height, width = raster.shape
    return RasterSpec(bands, height, width, dtype, depth, float(scale))


def _float_peak(raster: NDArray[Any]) -> float:
    if not np.isfinite(raster).all():
        raise InvalidRasterError("raster holds NaN or Inf samples; fill or mask them first")
    peak = float(raster.max())
    if peak <= 0:
        raise InvalidRasterError(
            f"float raster's maximum is {peak}; pass a positive scale (the profile's global max)"
        )
    return peak


def _scene_metadata(metadata: dict[str, Any] | None, version: int) -> dict[str, Any]:
    meta = dict(metadata or {})
    clash = sorted(set(meta) & set(RESERVED_METADATA))
    if clash:
        raise ConfigurationError(
            f"metadata keys {clash} are set by the pipeline; remove them from the metadata"
        )
    if version == FORMAT_VERSION:
        meta.setdefault("created_at", datetime.now(UTC).isoformat(timespec="seconds"))
    encode_metadata({**meta, DIGEST_KEY: "0" * 64})  # fail before a slow encode, not after
    return meta


def _metadata_bytes(meta: dict[str, Any], version: int) -> int:
    """What ``meta`` costs in a container of ``version`` (version 1 always carries a digest)."""
    if version == FORMAT_VERSION:
        return len(encode_metadata({**meta, DIGEST_KEY: "0" * 64, "psnr_db": "x" * 22}))
    if not meta:
        return 0
    blob = len(encode_free_metadata(meta))
    return blob + len(encode_uvarint(blob))


def _sidecar(truth_mask: NDArray[Any] | None, spec: RasterSpec) -> bytes | None:
    if truth_mask is None:
        return None
    if truth_mask.shape not in ((spec.height, spec.width), (1, spec.height, spec.width)):
        raise InvalidRasterError(
            f"truth mask shape {truth_mask.shape} does not match the raster's "
            f"{spec.height}x{spec.width}; pass (H, W) or (1, H, W)"
        )
    return pack_mask(truth_mask)


def compress_raster(
    raster: NDArray[Any],
    *,
    codec: str,
    target: RateTarget,
    scale: float | None = None,
    bit_depth: int | None = None,
    metadata: dict[str, Any] | None = None,
    truth_mask: NDArray[Any] | None = None,
    checkpoints: Any = None,
    roi_mask: NDArray[Any] | None = None,
    tiling: TilingPolicy | None = None,
    container_version: int | None = None,
    reconstruction_check: bool | None = None,
    patch_shape: tuple[int, int] | None = None,
    georef: Georef | None = None,
) -> CompressedScene:
    """Encode a raster into a container and measure it.

    Args:
        raster: the scene, (C, H, W) or (H, W), uint8/uint16/float32.
        codec: registry name, e.g. ``jpeg2000`` or ``cheng2020-gmm``.
        target: the rate target (bpp, quality or lossless).
        scale: normalisation scale (the profile's global max); see :func:`build_spec`.
        bit_depth: significant bits per sample; see :func:`build_spec`.
        metadata: scene_id, task, sensor, created_at, ... (JSON values).
        truth_mask: optional binary mask (H, W) or (1, H, W) carried in the sidecar.
        checkpoints: the CheckpointStore learned codecs load weights from.
        roi_mask: optional (H, W) region of interest (e.g. from satellite_node.detectors): coded at
            higher fidelity (jpeg2000: background low-pass; learned codecs: a gain on the
            latents) and recorded in the metadata under ``roi``.
        tiling: when and how a large scene is cut into tiles coded in parallel (default
            :class:`shared.codecs.tiling.TilingPolicy`: learned codecs, 512-pixel tiles, 2 workers).
            The container is still one per scene; its header says ``tiled``.
        container_version: 2 (compact) or 1; ``None``: ``EODL_CONTAINER_VERSION`` from the
            environment (for a ground that reads version 1 only, or a before/after
            measurement), else 2. Version 1 always carries the metadata,
            the onboard PSNR and the reconstruction's SHA-256; version 2 carries the metadata
            only when there is some (the caller reports the PSNR beside the container, as the
            satellite does in its transfer announcement).
        reconstruction_check: version 2: carry 8 bytes of the reconstruction's SHA-256, so that
            the ground can prove it decoded the encoder's pixels. ``None``: as
            :func:`carries_check` says (by default for learned codecs, whose float synthesis
            is where encoder and decoder could part, not for classical ones).
        patch_shape: the raster is a grid of patches of this (height, width), as
            :func:`compress_patches` lays them out; each is coded alone, any one decodes
            without the others (:func:`decompress_patch`). Version 2 only; no ROI, no tiling.
        georef: where and when the scene was seen (:mod:`shared.wire.georef`); version 2
            only (with version 1 it is refused, not dropped).

    Raises:
        InvalidRasterError, RateTargetError, ConfigurationError, CodecError, CheckpointError.
    """
    chw = _as_chw(np.asarray(raster))
    spec = build_spec(chw, scale=scale, bit_depth=bit_depth)
    check_raster(chw, spec)
    container_version = container_version or written_version()
    if patch_shape is not None and (roi_mask is not None or container_version != 2):
        raise ConfigurationError(
            "patches travel together only in container version 2 and without an ROI mask; "
            "send them one by one, or drop the ROI / EODL_CONTAINER_VERSION=1"
        )
    meta = _scene_metadata(metadata, container_version)
    sidecar = _sidecar(truth_mask, spec)
    info = codec_info(codec)
    if roi_mask is not None and info.capabilities.roi == "none":
        takes = [i.name for i in all_codecs() if i.capabilities.roi != "none"]
        raise ConfigurationError(
            f"{codec} does not code a region of interest; drop the ROI mask or choose one of "
            f"{', '.join(takes)}"
        )
    policy = tiling or TilingPolicy()
    tiled = roi_mask is None and patch_shape is None and policy.applies(info.kind, spec)
    if patch_shape is not None:
        patch_count(spec.height, spec.width, patch_shape)
        encoded = encode_patches(
            chw, spec, patch_shape, target, codec=codec, checkpoints=checkpoints
        )
    elif tiled:
        encoded = encode_tiled(
            chw, spec, target, codec=codec, policy=policy, checkpoints=checkpoints
        )
    elif roi_mask is None:
        encoded = open_codec(codec, checkpoints).encode(chw, spec, target)
    else:
        engine = open_codec(codec, checkpoints)
        encoded = _encode_roi(engine, chw, spec, target, roi_mask, meta, container_version)
    recon = encoded.reconstruction
    if recon.shape != spec.shape or recon.dtype.name != spec.dtype:
        raise CodecError(
            f"codec {codec} returned a {recon.dtype} {recon.shape} reconstruction for a "
            f"{spec.dtype} {spec.shape} raster; the codec breaks the contract"
        )
    psnr = psnr_db(chw, recon, spec.scale)
    digest = reconstruction_digest(recon)
    if container_version == FORMAT_VERSION:
        meta[DIGEST_KEY] = digest
        meta["psnr_db"] = psnr if math.isfinite(psnr) else None  # JSON null: exact (infinite)
    check = reconstruction_check
    if check is None:
        check = carries_check(info.kind)
    container = pack_container(
        codec=codec,
        spec=spec,
        model=encoded.model,
        payload=encoded.payload,
        metadata=meta,
        sidecar=sidecar,
        lossless=encoded.lossless,
        quality=encoded.quality if encoded.quality is not None else target.quality,
        tiled=tiled,
        version=container_version,
        rate_bpp=target.bpp,
        digest=digest if check else None,
        patch_shape=patch_shape,
        georef=georef,
    )
    header = read_header(container)
    return CompressedScene(
        container=container,
        header=header,
        reconstruction=recon,
        bpp=bpp(header.rate_bytes, spec.height, spec.width),
        bits_per_sample=bits_per_sample(header.rate_bytes, *spec.shape),
        payload_bpp=bpp(len(encoded.payload), spec.height, spec.width),
        psnr_db=psnr,
    )


def compress_patches(
    patches: NDArray[Any], *, truth_masks: NDArray[Any] | None = None, **options: Any
) -> CompressedScene:
    """Encode many small scenes of one pass (say 32x32 fire patches) into one container: one
    header and a patch directory, each patch coded alone (:mod:`shared.codecs.patches`).

    Shape:
        patches: (N, C, h, w), or (N, h, w) single-band; truth_masks: (N, h, w).
        The container's raster (and the reconstruction) is the patches' grid,
        :func:`shared.codecs.patches.stack_patches`.

    Args:
        patches: the patches, all of one shape.
        truth_masks: optional binary masks, one per patch, carried in the sidecar.
        options: as :func:`compress_raster` (codec, target, scale, bit_depth, metadata, ...).

    Raises:
        As :func:`compress_raster`; InvalidRasterError for patches of the wrong shape.
    """
    raster, patch_shape = stack_patches(patches)
    truth = None
    if truth_masks is not None:
        masks = np.asarray(truth_masks)
        if masks.shape != (len(np.asarray(patches)), *patch_shape):
            raise InvalidRasterError(
                f"truth masks of shape {masks.shape} do not match the patches: pass (N, h, w)"
            )
        truth = stack_patches(masks)[0][0]
    return compress_raster(raster, truth_mask=truth, patch_shape=patch_shape, **options)


def _encode_roi(
    engine: Codec,
    chw: NDArray[Any],
    spec: RasterSpec,
    target: RateTarget,
    roi_mask: NDArray[Any],
    meta: dict[str, Any],
    version: int,
) -> EncodedPayload:
    """Encode with ROI coding and record the coded ROI (its block grid) in ``meta``."""
    if ROI_METADATA_KEY in meta:
        raise ConfigurationError(f"metadata key {ROI_METADATA_KEY!r} is set by ROI coding")
    if np.asarray(roi_mask).shape not in ((spec.height, spec.width), (1, spec.height, spec.width)):
        raise InvalidRasterError(
            f"ROI mask shape {np.asarray(roi_mask).shape} does not match the raster's "
            f"{spec.height}x{spec.width}; pass (H, W)"
        )
    grid = block_mask(roi_mask)
    if engine.capabilities.roi == "latent-gain":
        return _encode_roi_learned(engine, chw, spec, target, grid.pixels(), meta, version)
    if engine.capabilities.roi != "background-lowpass":
        raise ConfigurationError(f"{engine.name} does not code a region of interest")
    record = grid.to_metadata(method=ROI_METHOD, sigma_px=DEFAULT_SIGMA_PX)
    without = dict(meta)
    meta[ROI_METADATA_KEY] = record
    if target.bpp is not None:  # the ROI record's bytes come out of the payload: equal totals
        record_bits = 8 * (_metadata_bytes(meta, version) - _metadata_bytes(without, version))
        payload_bpp = target.bpp - record_bits / (spec.height * spec.width)
        if payload_bpp <= 0:
            raise RateTargetError(
                f"the ROI record alone needs {record_bits} bits, more than {target.bpp} bpp "
                "allows; raise the rate or send without ROI"
            )
        target = RateTarget(bpp=payload_bpp)
    return engine.encode(chw, spec, target, roi_mask=grid.pixels())


def _encode_roi_learned(
    engine: Codec,
    chw: NDArray[Any],
    spec: RasterSpec,
    target: RateTarget,
    roi: NDArray[Any],
    meta: dict[str, Any],
    version: int,
) -> EncodedPayload:
    """Latent-gain ROI coding; a bpp target picks the (quality, gains) whose container fits.

    The ROI record is the codec's own (16-pixel latent cells, ``method="latent-gain"``).
    """
    from shared.codecs.learned.codec import LearnedCodec
    from shared.codecs.learned.roi_rate import bpp_budget_bytes, fit_roi_rate

    if not isinstance(engine, LearnedCodec):
        raise ConfigurationError(f"{engine.name} is not a learned codec")
    if target.bpp is None:
        encoded = engine.encode(chw, spec, target, roi_mask=roi)
    else:  # header + the metadata (version 1: with the digest and a 24-character psnr_db)
        fixed = MAX_HEADER_BYTES + _metadata_bytes(meta, version)
        budget = bpp_budget_bytes(target.bpp, spec)
        encoded = fit_roi_rate(
            engine, chw, spec, roi, max_bytes=budget, fixed_overhead_bytes=fixed
        ).encoded
    if encoded.roi is not None:
        meta[ROI_METADATA_KEY] = encoded.roi
    return encoded


def max_container_bytes(limits: DecodeLimits) -> int:
    """The largest container a decode under ``limits`` can legitimately need."""
    mask_bytes = 2 + 4 * 3 + (limits.max_pixels + 7) // 8
    return MAX_HEADER_BYTES + limits.max_payload_bytes + MAX_METADATA_BYTES + mask_bytes


def decompress_container(
    data: bytes,
    *,
    limits: DecodeLimits | None = None,
    checkpoints: Any = None,
    tiling: TilingPolicy | None = None,
) -> DecodedScene:
    """Verify a container, then decode it with the codec its wire id names.

    Declared sizes (of the whole scene) are checked against ``limits`` and the checksum is
    verified before the decoder runs. A tiled container is decoded tile by tile, in parallel
    as ``tiling`` says (its workers and start method; default :class:`TilingPolicy`).

    Raises:
        ContainerError: the container is malformed, corrupted or truncated.
        ResourceLimitError: declared sizes exceed ``limits``.
        CodecError, WeightsMismatchError, CheckpointError: the decode failed.
    """
    limits = limits or DecodeLimits()
    header = read_header(data)
    limits.check(header.spec, payload_bytes=header.payload_bytes)
    container = unpack_container(data, max_bytes=max_container_bytes(limits))
    try:
        raster = _decode_payload(container, limits, checkpoints, tiling)
    except EODownlinkError:
        raise
    except Exception as exc:  # a codec adapter let a foreign error through
        raise CodecError(f"{header.codec_name} could not decode the payload: {exc}") from exc
    if raster.shape != header.spec.shape or raster.dtype.name != header.dtype:
        raise CodecError(
            f"{header.codec_name} decoded a {raster.dtype} {raster.shape} raster; the header "
            f"declares {header.dtype} {header.spec.shape}"
        )
    matches = container.reconstruction_matches(reconstruction_digest(raster))
    mask = unpack_mask(container.sidecar) if container.sidecar is not None else None
    return DecodedScene(raster, container, matches, mask)


def _decode_payload(
    container: Container, limits: DecodeLimits, checkpoints: Any, tiling: TilingPolicy | None
) -> NDArray[Any]:
    header = container.header
    if header.patch_shape is not None:
        return _decode_patches(container, limits, checkpoints)
    if header.tiled:
        return decode_tiled(
            container.payload,
            header.spec,
            limits,
            codec=header.codec_name,
            policy=tiling,
            checkpoints=checkpoints,
        )
    codec = open_codec(header.codec_name, checkpoints)
    return codec.decode(container.payload, header.spec, header.model, limits)


def decompress_patch(
    data: bytes, index: int, *, limits: DecodeLimits | None = None, checkpoints: Any = None
) -> NDArray[Any]:
    """Verify a patch container, then decode patch ``index`` alone (no other patch is decoded).

    Shape:
        returns: (C, h, w) in the container's dtype.

    Raises:
        ContainerError: malformed or corrupt, or not a patch container.
        CodecError: ``index`` is out of range, or the decode failed.
    """
    limits = limits or DecodeLimits()
    header = read_header(data)
    limits.check(header.spec, payload_bytes=header.payload_bytes)
    if header.patch_shape is None:
        raise ContainerError(
            "this container holds one scene, not patches: decode it with decompress_container"
        )
    container = unpack_container(data, max_bytes=max_container_bytes(limits))
    return _decode_patches(container, limits, checkpoints, index)


def _decode_patches(
    container: Container, limits: DecodeLimits, checkpoints: Any, only: int | None = None
) -> NDArray[Any]:
    """Every patch of a patch container in its grid, or patch ``only`` alone."""
    header = container.header
    return decode_patches(
        container.payload,
        header.spec,
        header.patch_shape or (header.height, header.width),
        limits,
        codec=header.codec_name,
        model=header.model,
        checkpoints=checkpoints,
        only=only,
    )
