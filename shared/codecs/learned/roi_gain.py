"""Region-of-interest coding for the learned codecs: a power-of-two gain on the latents.

The encoder scales the analysis output per latent position, ``y' = g_a(x) * G``, with
``G = 2**roi_shift`` in the ROI and ``2**-background_shift`` outside; everything after it
(hyper analysis, context model, quantisation, entropy coding) runs on ``y'`` unchanged, and the
decoder divides before synthesis, ``g_s(y_hat' / G)``. Quantisation steps in the ROI are thus
``1 / G`` as large: more bits and more fidelity there, fewer in the background when
``background_shift > 0``. No retraining is needed and every architecture works the same way
(the CompressAI models through :func:`gained_view`, whose hyper and context paths see ``y'``).
cheng2020-gmm does better (:func:`shared.codecs.learned.gmm_coding.compress_gmm` with
``gain``): its hyper and context paths see the unscaled latents and each position's mixture is
widened by its G, so the entropy model stays calibrated; same pixels, a third to 40% fewer
bytes than the uncalibrated view on the shipped cloud checkpoints. Powers of two keep every division
exact (float32 and the wavefront's fixed point).

Measured (shipped cloud checkpoints, cheng2020-gmm, scene ``generate_scene("cloud", 101)``,
19% of its pixels in the detected ROI, gain 4): quality 1: 712 -> 1134 payload bytes, PSNR
inside +0.56 dB, outside +0.21 dB; quality 3: 1100 -> 1642 bytes, +0.10 / +0.05 dB. The shipped
checkpoints are small (N = 32) and transform-limited: even unquantised latents decode within
~1 dB of rounded ones, so no latent-precision scheme can buy more than that with them; well
trained (quantisation-limited) models gain several dB, as gain 2 at quality 2 on an overcast
scene shows (seed 102, ROI 99.9%: 29.0 -> 33.5 dB).

``G`` lives on the latent grid (one cell per 16 x 16 pixels, the analysis stride); a cell is in
the ROI when any of its pixels is (max-pool). The payload carries that grid as a bitmap with the
two shifts (:mod:`shared.codecs.learned.payload`, version 3), so the decoder needs no metadata.
The model is never mutated: :func:`gained_view` wraps ``g_a`` / ``g_s`` in a per-call view.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from shared.codecs.learned.architectures import CompressionModel
from shared.errors import CodecError, ConfigurationError, InvalidRasterError
from shared.roi.masks import BlockMask, block_mask

LATENT_STRIDE = 16  # pixels per latent cell (y = g_a(x) downsamples by 16)
MAX_SHIFT = 3  # gains 1/8 .. 8: beyond that the symbol bound and escapes dominate
ROI_METHOD = "latent-gain"  # recorded in the container metadata


@dataclass(frozen=True)
class RoiGain:
    """The two gain exponents: ``2**roi_shift`` inside the ROI, ``2**-background_shift`` outside.

    Raises:
        ConfigurationError: a shift outside 0..MAX_SHIFT, or both zero (no ROI emphasis).
    """

    roi_shift: int = 2
    background_shift: int = 0

    def __post_init__(self) -> None:
        shifts = (self.roi_shift, self.background_shift)
        if not all(isinstance(s, int) and 0 <= s <= MAX_SHIFT for s in shifts):
            raise ConfigurationError(
                f"ROI gain shifts must be integers 0..{MAX_SHIFT} (gains 1..{2**MAX_SHIFT}), "
                f"got roi_shift={self.roi_shift}, background_shift={self.background_shift}"
            )
        if self.roi_shift + self.background_shift == 0:
            raise ConfigurationError(
                "an ROI gain of 1 inside and outside changes nothing; use roi_shift >= 1 "
                "or background_shift >= 1, or encode without an ROI mask"
            )

    @property
    def gain(self) -> float:
        """The gain inside the ROI."""
        return float(2**self.roi_shift)

    @property
    def background_gain(self) -> float:
        """The gain outside the ROI (1 or less)."""
        return float(2.0**-self.background_shift)


DEFAULT_ROI_GAIN = RoiGain(roi_shift=2, background_shift=0)


@dataclass(frozen=True)
class LatentGainMap:
    """Which latent cells are in the ROI, and the gains. Hashable, compared by value.

    Attributes:
        y_shape: (rows, cols) of the latent grid (the padded raster over 16).
        bits: the cells, row-major, packed MSB first (``np.packbits``), padding bits zero.
        levels: the gain exponents.
    """

    y_shape: tuple[int, int]
    bits: bytes
    levels: RoiGain

    def cells(self) -> NDArray[Any]:
        """The (rows, cols) bool grid."""
        count = self.y_shape[0] * self.y_shape[1]
        raw = np.frombuffer(self.bits, dtype=np.uint8)
        return np.unpackbits(raw)[:count].reshape(self.y_shape).astype(bool)

    def tensor(self) -> Tensor:
        """The gain G per latent position.

        Shape:
            returns: (1, 1, rows, cols) float32, broadcast over the latent channels.
        """
        inside = torch.from_numpy(self.cells())
        roi = torch.tensor(self.levels.gain, dtype=torch.float32)
        background = torch.tensor(self.levels.background_gain, dtype=torch.float32)
        return torch.where(inside, roi, background).reshape(1, 1, *self.y_shape)

    def block_mask(self, height: int, width: int) -> BlockMask:
        """The coded ROI on the raster, in 16-pixel cells (what the ground shows)."""
        rows, cols = -(-height // LATENT_STRIDE), -(-width // LATENT_STRIDE)
        return BlockMask(height, width, LATENT_STRIDE, self.cells()[:rows, :cols].copy())

    def to_metadata(self, height: int, width: int) -> dict[str, Any]:
        """The container's ROI record (``BlockMask.to_metadata`` with the gains; the
        background gain only where it is not 1, since every byte counts on small scenes)."""
        extra: dict[str, Any] = {"method": ROI_METHOD, "gain": self.levels.gain}
        if self.levels.background_shift:
            extra["background_gain"] = self.levels.background_gain
        return self.block_mask(height, width).to_metadata(**extra)

    def check_fits(self, height: int, width: int) -> None:
        """Refuse a map with ROI cells over the padding (an encoder never writes one).

        Raises:
            CodecError: a cell beyond the raster's ceil(H/16) x ceil(W/16) cells is set.
        """
        rows, cols = -(-height // LATENT_STRIDE), -(-width // LATENT_STRIDE)
        cells = self.cells()
        if cells[rows:].any() or cells[:, cols:].any():
            raise CodecError(
                f"the payload's ROI map marks latent cells outside the {height}x{width} "
                "raster: the payload is corrupt or was made for another raster size"
            )


def bitmap_bytes(y_shape: tuple[int, int]) -> int:
    """Bytes of the packed ROI bitmap of a latent grid."""
    return -(-(y_shape[0] * y_shape[1]) // 8)


def latent_gain_map(
    roi_mask: NDArray[Any], y_shape: tuple[int, int], levels: RoiGain = DEFAULT_ROI_GAIN
) -> LatentGainMap | None:
    """Max-pool a pixel ROI onto the latent grid; ``None`` when no pixel is in the ROI.

    The mask is used as given (no dilation): :func:`shared.compression.compress_raster` has
    already grown it by its margin and reduced it to blocks.

    Shape:
        roi_mask: (H, W) or (1, H, W), nonzero = ROI, with 16 * rows >= H and 16 * cols >= W.

    Raises:
        InvalidRasterError: the mask is not 2-D or does not fit the latent grid.
    """
    plane = np.asarray(roi_mask)
    if plane.ndim == 3 and plane.shape[0] == 1:
        plane = plane[0]
    rows, cols = y_shape
    if plane.ndim != 2 or not (
        LATENT_STRIDE * (rows - 4) < plane.shape[0] <= LATENT_STRIDE * rows
        and LATENT_STRIDE * (cols - 4) < plane.shape[1] <= LATENT_STRIDE * cols
    ):
        raise InvalidRasterError(
            f"ROI mask of shape {plane.shape} does not fit the raster (latent grid "
            f"{rows}x{cols}); pass an (H, W) mask of the raster's own height and width"
        )
    grid = block_mask(plane, block=LATENT_STRIDE, margin=0).cells
    if not grid.any():
        return None
    cells = np.zeros(y_shape, dtype=bool)
    cells[: grid.shape[0], : grid.shape[1]] = grid
    return LatentGainMap(y_shape, np.packbits(cells.reshape(-1)).tobytes(), levels)


class GainedAnalysis(nn.Module):
    """``g_a`` followed by the per-position gain: ``y' = g_a(x) * G``."""

    gain: Tensor

    def __init__(self, inner: nn.Module, gain: Tensor) -> None:
        super().__init__()
        self.inner = inner
        self.register_buffer("gain", gain, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """Shape: x (1, bands, H, W) -> y' (1, M, H / 16, W / 16)."""
        y = self.inner(x)
        if y.shape[-2:] != self.gain.shape[-2:]:
            raise CodecError(
                f"latent grid {tuple(y.shape[-2:])} differs from the ROI map's "
                f"{tuple(self.gain.shape[-2:])}; pad the raster to a multiple of 64"
            )
        return y * self.gain


class GainedSynthesis(nn.Module):
    """The inverse gain followed by ``g_s``: ``x_hat = g_s(y_hat' / G)`` (exact: G = 2**k)."""

    gain: Tensor

    def __init__(self, inner: nn.Module, gain: Tensor) -> None:
        super().__init__()
        self.inner = inner
        self.register_buffer("gain", gain, persistent=False)

    def forward(self, y_hat: Tensor) -> Tensor:
        """Shape: y_hat' (1, M, h, w) -> x_hat (1, bands, 16 h, 16 w)."""
        return self.inner(y_hat / self.gain)


def gained_view(model: CompressionModel, gain_map: LatentGainMap) -> CompressionModel:
    """A shallow view of ``model`` whose ``g_a`` / ``g_s`` apply the gain map.

    The view shares every parameter, buffer and entropy model with ``model`` but has its own
    module table, so the shared model (which the ground decodes with concurrently) is never
    mutated and needs no lock beyond the coding one.
    """
    gain = gain_map.tensor()
    view = copy.copy(model)
    modules = dict(model._modules)
    modules["g_a"] = GainedAnalysis(model.g_a, gain)
    modules["g_s"] = GainedSynthesis(model.g_s, gain)
    view.__dict__["_modules"] = modules
    return view
