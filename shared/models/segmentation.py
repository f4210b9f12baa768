"""U-Net segmenters (segmentation_models_pytorch) and their checkpoints.

The ground station calls :func:`load_segmenter` once per task and :meth:`Segmenter.predict` per
scene. Encoders are built with ``encoder_weights=None``: nothing is ever downloaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from shared.errors import CheckpointError, ConfigurationError, InvalidRasterError
from shared.models.weights import checkpoint_paths, load_weights, read_manifest, save_weights

Encoder = Literal["mobilenet_v2", "resnet34"]
ENCODERS: tuple[str, ...] = ("mobilenet_v2", "resnet34")
ARCHITECTURE = "unet"
PAD_MULTIPLE = 32
DEFAULT_DECODER_CHANNELS: tuple[int, ...] = (256, 128, 64, 32, 16)
_MOBILENET_OUT_INDEXES = (1, 3, 6, 13, 18)


@dataclass(frozen=True)
class UnetConfig:
    """What fixes a U-Net's tensors: encoder, input bands, encoder depth and decoder widths."""

    encoder: str
    bands: int
    encoder_depth: int = 5
    decoder_channels: tuple[int, ...] = DEFAULT_DECODER_CHANNELS

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise ConfigurationError(
                f"unknown encoder {self.encoder!r}; valid encoders: {', '.join(ENCODERS)}"
            )
        if not (1 <= self.bands <= 16):
            raise ConfigurationError(
                f"bands must be 1..16 (1 thermal, 10 Sentinel-2), got {self.bands}"
            )
        if not (1 <= self.encoder_depth <= 5):
            raise ConfigurationError(f"encoder depth must be 1..5, got {self.encoder_depth}")
        if len(self.decoder_channels) != self.encoder_depth:
            raise ConfigurationError(
                f"give one decoder width per encoder stage: depth {self.encoder_depth} needs "
                f"{self.encoder_depth} widths, got {list(self.decoder_channels)}"
            )


def build_unet(config: UnetConfig) -> nn.Module:
    """Build an untrained one-class U-Net; encoder stages the depth never runs are removed.

    Shape:
        forward: (B, bands, H, W) -> (B, 1, H, W) logits, H and W multiples of 32.
    """
    import segmentation_models_pytorch as smp

    model = smp.Unet(
        encoder_name=config.encoder,
        encoder_weights=None,
        in_channels=config.bands,
        classes=1,
        encoder_depth=config.encoder_depth,
        decoder_channels=tuple(config.decoder_channels),
    )
    _drop_unused_stages(model, config)
    return model


def _drop_unused_stages(model: Any, config: UnetConfig) -> None:
    """``model``: an smp ``Unet`` (smp ships no type information)."""
    # smp keeps the deep stages of a shallow encoder; they hold most weights and never run.
    encoder = model.encoder
    if config.encoder.startswith("resnet"):
        for stage in range(config.encoder_depth, 5):
            if hasattr(encoder, f"layer{stage}"):
                delattr(encoder, f"layer{stage}")
    elif config.encoder_depth < 5:
        encoder.features = encoder.features[: _MOBILENET_OUT_INDEXES[config.encoder_depth - 1] + 1]


def pad_to_multiple(x: torch.Tensor, multiple: int = PAD_MULTIPLE) -> torch.Tensor:
    """Pad the last two dims (edge replication) up to a multiple; crop back with ``[..., :H, :W]``.

    Shape:
        x: (B, C, H, W) -> (B, C, H', W') with H', W' multiples of ``multiple``.
    """
    height, width = x.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if pad_h == 0 and pad_w == 0:
        return x
    return nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="replicate")


def default_device() -> str:
    """``cuda`` when a GPU is present, else ``cpu``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


#: Scenes larger than this on a side are segmented in windows (bounded memory), each with a
#: halo of context that is dropped when the windows are stitched.
SEGMENT_TILE_PX = 512
SEGMENT_HALO_PX = 32


def windows(
    height: int, width: int, tile: int, halo: int
) -> Iterator[tuple[slice, slice, slice, slice]]:
    """Cover (H, W) with ``tile``-sized cores, each read with ``halo`` pixels of context.

    Yields:
        (rows, cols) of the window to read, then (rows, cols) of its core inside the window;
        the cores tile the plane exactly once.
    """
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            bottom, right = min(top + tile, height), min(left + tile, width)
            r0, c0 = max(0, top - halo), max(0, left - halo)
            r1, c1 = min(height, bottom + halo), min(width, right + halo)
            yield (
                slice(r0, r1),
                slice(c0, c1),
                slice(top - r0, bottom - r0),
                slice(left - c0, right - c0),
            )


@dataclass
class Segmenter:
    """A trained U-Net with its manifest and decision threshold, ready for inference.

    Attributes:
        tile_px, halo_px: a raster larger than ``tile_px`` on a side is segmented window by
            window (``tile_px`` cores with ``halo_px`` of context), so memory stays bounded by
            one window whatever the scene's size.
    """

    model: nn.Module
    manifest: dict[str, Any]
    device: str = field(default_factory=default_device)
    tile_px: int = SEGMENT_TILE_PX
    halo_px: int = SEGMENT_HALO_PX

    def __post_init__(self) -> None:
        self.model = self.model.to(self.device).eval()

    @property
    def task(self) -> str:
        """The task the segmenter was trained for."""
        return str(self.manifest["task"])

    @property
    def bands(self) -> int:
        """Input channels."""
        return int(self.manifest["bands"])

    @property
    def threshold(self) -> float:
        """Probability above which a pixel is positive (tuned on validation, 0.5 default)."""
        return float(self.manifest.get("threshold", 0.5))

    def probabilities(self, batch: torch.Tensor) -> torch.Tensor:
        """Per-pixel probability of the positive class.

        Shape:
            batch: (B, C, H, W) float in [0, 1] -> (B, H, W) float32 on the CPU.
        """
        height, width = batch.shape[-2:]
        with torch.inference_mode():
            logits = self.model(pad_to_multiple(batch.to(self.device, torch.float32)))
        return torch.sigmoid(logits[:, 0, :height, :width]).float().cpu()

    def check(self, raster_unit: NDArray[Any]) -> None:
        """Refuse what the segmenter cannot take.

        Raises:
            InvalidRasterError: wrong rank or band count, or NaN/Inf samples.
        """
        if raster_unit.ndim != 3 or raster_unit.shape[0] != self.bands:
            raise InvalidRasterError(
                f"the {self.task} segmenter takes ({self.bands}, H, W) rasters, got shape "
                f"{raster_unit.shape}; normalise with the task's profile first"
            )
        if not np.isfinite(raster_unit).all():
            raise InvalidRasterError("raster holds NaN or Inf samples; fill them before segmenting")

    def predict_batch(self, raster_units: list[NDArray[Any]]) -> list[NDArray[Any]]:
        """Segment several rasters; rasters of one shape that fit one window go through the
        network as one batch (what a GPU wants), the others one by one as :meth:`predict`.

        Shape:
            raster_units: each (C, H, W) float32 in [0, 1] -> each (H, W) uint8 of 0/1.

        Raises:
            InvalidRasterError: a raster :meth:`check` refuses.
        """
        for unit in raster_units:
            self.check(unit)
        shapes = {unit.shape for unit in raster_units}
        if len(shapes) != 1 or max(next(iter(shapes))[-2:]) > self.tile_px:
            return [self.predict(unit) for unit in raster_units]
        stacked = np.stack([np.asarray(u, dtype=np.float32) for u in raster_units])
        probs = self.probabilities(torch.from_numpy(stacked)).numpy()
        return [(p >= self.threshold).astype(np.uint8) for p in probs]

    def predict(self, raster_unit: NDArray[Any]) -> NDArray[Any]:
        """Segment one normalised raster with the validation-chosen threshold.

        Shape:
            raster_unit: (C, H, W) float32 in [0, 1] -> (H, W) uint8 of 0/1.

        Raises:
            InvalidRasterError: wrong rank or band count, or NaN/Inf samples.
        """
        self.check(raster_unit)
        height, width = raster_unit.shape[-2:]
        mask = np.empty((height, width), dtype=np.uint8)
        for rows, cols, core_rows, core_cols in windows(height, width, self.tile_px, self.halo_px):
            window = np.ascontiguousarray(raster_unit[:, rows, cols], dtype=np.float32)
            probs = self.probabilities(torch.from_numpy(window)[None])[0].numpy()
            core = probs[core_rows, core_cols] >= self.threshold
            mask[rows, cols][core_rows, core_cols] = core
        return mask


def unet_config_from_manifest(manifest: dict[str, Any]) -> UnetConfig:
    """Rebuild the architecture description a manifest records."""
    try:
        return UnetConfig(
            encoder=str(manifest["encoder"]),
            bands=int(manifest["bands"]),
            encoder_depth=int(manifest.get("encoder_depth", 5)),
            decoder_channels=tuple(
                int(c) for c in manifest.get("decoder_channels", DEFAULT_DECODER_CHANNELS)
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"segmenter manifest lacks a valid architecture field: {exc}"
        ) from exc


def save_segmenter(
    model: nn.Module,
    path: Path | str,
    config: UnetConfig,
    fields: dict[str, Any],
    dtype: torch.dtype | None = None,
) -> dict[str, Any]:
    """Write a segmenter checkpoint; ``fields`` adds task, threshold, metrics, data, command."""
    manifest: dict[str, Any] = {
        "kind": "segmenter",
        "architecture": ARCHITECTURE,
        "encoder": config.encoder,
        "bands": config.bands,
        "encoder_depth": config.encoder_depth,
        "decoder_channels": list(config.decoder_channels),
    }
    manifest.update(fields)
    return save_weights(model.state_dict(), path, manifest, dtype=dtype)


def load_segmenter_checkpoint(path: Path | str, device: str | None = None) -> Segmenter:
    """Load a segmenter checkpoint (weights checked against the manifest's SHA-256).

    Raises:
        CheckpointError: missing files, a hash mismatch, or weights that do not fit the manifest.
    """
    manifest = read_manifest(path)
    if manifest.get("kind", "segmenter") != "segmenter":
        raise CheckpointError(f"{path} is a {manifest.get('kind')} checkpoint, not a segmenter")
    model = build_unet(unet_config_from_manifest(manifest))
    state = load_weights(path, manifest)
    try:
        model.load_state_dict({k: v.float() for k, v in state.items()})
    except RuntimeError as exc:
        raise CheckpointError(f"weights in {path} do not fit the manifest's U-Net: {exc}") from exc
    return Segmenter(model=model, manifest=manifest, device=device or default_device())


def shipped_segmenter_root() -> Path:
    """Folder of the segmenter checkpoints that ship with the package."""
    return Path(__file__).resolve().parent.parent / "assets" / "checkpoints" / "segmenter"


def find_segmenter_checkpoint(task: str, root: Path | None = None) -> Path | None:
    """The checkpoint for ``task`` in ``root``: ``<task>.json``, else a manifest naming it."""
    root = Path(root) if root is not None else shipped_segmenter_root()
    if not root.is_dir():
        return None
    direct = root / f"{task}.json"
    if direct.is_file() and checkpoint_paths(direct)[0].is_file():
        return direct
    for candidate in sorted(root.glob("*.json")):
        try:
            manifest = read_manifest(candidate)
        except CheckpointError:
            continue
        if manifest.get("kind", "segmenter") == "segmenter" and manifest.get("task") == task:
            return candidate
    return None


def load_segmenter(
    task: str, root: Path | None = None, device: str | None = None
) -> Segmenter | None:
    """Load the segmenter for a task, or None when no checkpoint for it exists.

    Args:
        task: ``fire``, ``cloud`` or ``building``.
        root: folder of segmenter checkpoints; the shipped ones by default.
        device: where to run; ``cuda`` when available, else ``cpu``.
    """
    found = find_segmenter_checkpoint(task, root)
    if found is None:
        return None
    return load_segmenter_checkpoint(found, device=device)
