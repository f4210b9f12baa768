"""Training a segmenter on what the ground receives: scenes passed through a learned codec.

The ground segments decoded rasters, never the originals. A U-Net trained on clean scenes alone
meets the learned codec's smoothing (and its missing fine texture) for the first time at the
ground, and there its F1 falls far faster than PSNR does. :class:`DecodedScenes` wraps a
dataset so that a share of its items come back as the shipped variable-rate ``cheng2020-gmm``
reconstructs them, at a level drawn anew each time (training) or fixed by the item's index
(validation, so that every epoch is scored on the same mix).

The reconstruction is the model's inference pass (latents rounded as the entropy coder codes
them), then clipped and rounded to the sensor's integer grid as the ground's
:func:`~shared.codecs.base.from_unit` does.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from shared.codecs.learned.rate_gain import LEVEL_STEPS, QUALITIES, level_code
from shared.errors import ConfigurationError

BLOCK = 64  # cheng2020-gmm's spatial grid: inputs are padded to a multiple of it


@dataclass(frozen=True)
class DecodedShare:
    """Which codec decodes a training item, how often, and on which sensor grid.

    Attributes:
        checkpoint: a variable-rate cheng2020-gmm checkpoint (NAME, without a suffix).
        fraction: the share of items that come back decoded, in [0, 1].
        scale: the sensor's full scale (integer steps of 1 / scale in unit values).
        qualities: the (lowest, highest) container quality, 1..6, whose rate levels the
            decoded items are drawn between (continuously); (1, 6): the whole range.
    """

    checkpoint: Path
    fraction: float
    scale: float
    qualities: tuple[int, int] = (1, 6)

    def describe(self) -> dict[str, Any]:
        """What a segmenter manifest records about its decoded share."""
        weights = self.checkpoint.with_suffix(".safetensors")
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()
        return {
            "checkpoint": str(self.checkpoint),
            "sha256": digest,
            "fraction": self.fraction,
            "qualities": list(self.qualities),
        }


class DecodedScenes(torch.utils.data.Dataset):
    """Items of ``source`` with a share of them decoded by a variable-rate codec.

    Args:
        source: yields (x in [0, 1] of shape (C, H, W), mask).
        share: the codec and how often it decodes.
        fixed: pick decoded items and their levels from the index (validation), not at random.

    Raises:
        ConfigurationError: the checkpoint is not a variable-rate model, or its bands differ.
    """

    def __init__(self, source: torch.utils.data.Dataset, share: DecodedShare, fixed: bool) -> None:
        from shared.codecs.learned.checkpoint import load_checkpoint

        if not 0.0 <= share.fraction <= 1.0:
            raise ConfigurationError(f"--decoded-fraction must lie in [0, 1], got {share.fraction}")
        low, high = share.qualities
        if not 1 <= low <= high <= QUALITIES:
            raise ConfigurationError(
                f"--decoded-qualities must be LOW,HIGH with 1 <= LOW <= HIGH <= {QUALITIES}, "
                f"got {low},{high}"
            )
        model, manifest = load_checkpoint(share.checkpoint)
        if not manifest.rate_lmbdas:
            raise ConfigurationError(
                f"{share.checkpoint} is a fixed-rate checkpoint; --decoded-with needs a "
                "variable-rate cheng2020-gmm (one model, every rate)"
            )
        self.source, self.share, self.fixed = source, share, fixed
        self.model, self.bands = model.eval(), manifest.bands
        levels = len(manifest.rate_lmbdas)
        # quality 6 is level 0: the highest quality gives the lowest level
        self.span = tuple(level_code(q, levels) / LEVEL_STEPS for q in (high, low))

    def __len__(self) -> int:
        return len(self.source)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, mask = self.source[index]
        level = self._level(index)
        if level is None:
            return x, mask
        if x.shape[0] != self.bands:
            raise ConfigurationError(
                f"the codec {self.share.checkpoint} codes {self.bands} bands, the scenes have "
                f"{x.shape[0]}; pass the task's own checkpoint to --decoded-with"
            )
        return decode_at(self.model, x, level, self.share.scale), mask

    def _level(self, index: int) -> float | None:
        """None (clean) or the continuous rate level the item is decoded at."""
        first, last = self.span
        if self.fixed:  # a golden-ratio sequence: evenly spread, the same every epoch
            draw, spot = (index * 0.618034) % 1.0, (index * 0.754878) % 1.0
            return None if draw >= self.share.fraction else first + spot * (last - first)
        if float(torch.rand(())) >= self.share.fraction:
            return None
        return first + float(torch.rand(())) * (last - first)


def decode_at(model: Any, x: torch.Tensor, level: float, scale: float) -> torch.Tensor:
    """A variable-rate model's reconstruction of one item at ``level``, on the sensor grid,
    with the band offsets the encoder would send (:mod:`shared.codecs.learned.band_offsets`).

    Shape:
        x: (C, H, W) in [0, 1]; returns the same shape, float32.
    """
    from shared.codecs.learned.rate_gain import forward_at

    height, width = x.shape[-2:]
    pad = (0, -width % BLOCK, 0, -height % BLOCK)
    with torch.inference_mode():
        padded = F.pad(x[None].float(), pad, mode="replicate")
        x_hat = forward_at(model, padded, level)["x_hat"][0, :, :height, :width]
        counts = torch.round(x_hat.clamp(0.0, 1.0) * scale).numpy().astype(np.uint16)
    corrected = _with_band_offsets(np.rint(x.numpy() * scale).astype(np.uint16), counts, scale)
    return torch.from_numpy(corrected.astype(np.float32) / np.float32(scale)).contiguous()


def _with_band_offsets(raster: np.ndarray, counts: np.ndarray, scale: float) -> np.ndarray:
    """``counts`` as the ground decodes them: plus the offsets the encoder sends, if any."""
    from shared.codecs.base import RasterSpec
    from shared.codecs.learned import band_offsets

    bits = max(1, math.ceil(math.log2(scale + 1)))
    spec = RasterSpec(*raster.shape, "uint16", bits, scale)
    offsets = band_offsets.measure(raster, counts, spec)
    return counts if offsets is None else band_offsets.apply(counts, offsets, spec)
