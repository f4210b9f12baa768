"""Wavefront coding of the cheng2020-gmm latents in exact arithmetic (learned payload version 2).

Schedule: the context model is a 5x5 type-A masked convolution, so position (i, j) reads rows
i-2 and i-1 at columns j-2..j+2 and row i at columns j-2 and j-1. Every tap (di, dj) satisfies
3*di + dj < 0, hence all positions with the same t = 3*i + j are independent and can be coded
at once once the diagonals t' < t are known. Symbols are written diagonal by diagonal (rows
ascending inside a diagonal, channels inside a position), which is the order both decoders read.

Exact arithmetic: batching float kernels changes their summation order, so the entropy parameters
are computed in fixed point held in float64. Activations are integers on a 2^-12 grid clamped to
|a| <= 2^23, weights are integers of at most 2^15 (a per-layer power-of-two scale), so every
product is below 2^38 and every partial sum of up to 28672 terms below 2^53: float64 represents
all of them exactly and any summation order (one position, a whole diagonal, any BLAS, any
thread count) gives the same integers. Rescaling is by powers of two with floor; LeakyReLU,
softmax (an exp table gathered by integer index) and the mixture CDFs are element-wise, so each
position's CDFs depend on nothing but its own inputs.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from shared.errors import ConfigurationError

ACT_BITS = 12
ACT_LIMIT = 2.0**23
WEIGHT_BITS = 15
MAX_SHIFT = 30
BIAS_LIMIT = 2.0**50
MAX_FAN_IN = int((2.0**53 - BIAS_LIMIT) // (ACT_LIMIT * 2.0**WEIGHT_BITS))
CONTEXT_LIMIT = 2047  # |y| the context model sees; the coded symbols themselves stay exact
GRID_BITS = 8  # mixture parameters are rounded to 2^-8, as in the raster coder
LOGIT_SPAN = 24 << GRID_BITS  # exp(-24) ~ 4e-11: smaller mixture weights round to zero
SLOPE = 3  # diagonal index t = SLOPE * row + col
SMALL_BATCH = 4
SCALE_MIN, SCALE_MAX = 0.11, 64.0
PRECISION = 16


@dataclass(frozen=True)
class ExactLinear:
    """A linear layer on integer-valued float64: y = floor((x @ weight.T + bias) / 2^shift).

    Attributes:
        weight: (N, K) integers, |w| <= 2^15.
        bias: (N,) integers at the accumulator scale 2^(ACT_BITS + shift).
        shift: the weight scale exponent.
    """

    weight: Tensor
    bias: Tensor
    shift: int

    @classmethod
    def from_float(cls, weight: Tensor, bias: Tensor | None) -> ExactLinear:
        """Quantise a float (N, K) weight and (N,) bias; refuses fan-ins that could round."""
        out_features, fan_in = weight.shape
        if fan_in > MAX_FAN_IN:
            raise ConfigurationError(
                f"a layer with fan-in {fan_in} cannot be summed exactly in float64 (limit "
                f"{MAX_FAN_IN}); use a narrower model (smaller N)"
            )
        w = weight.detach().double()
        peak = float(w.abs().max()) if w.numel() else 0.0
        exponent = math.frexp(peak)[1] if peak > 0 else 0
        shift = max(min(WEIGHT_BITS - exponent, MAX_SHIFT), -MAX_SHIFT)
        w_int = torch.round(w * 2.0**shift).clamp_(-(2.0**WEIGHT_BITS), 2.0**WEIGHT_BITS)
        b = torch.zeros(out_features, dtype=torch.float64) if bias is None else bias.double()
        b_int = torch.round(b * 2.0 ** (ACT_BITS + shift)).clamp_(-BIAS_LIMIT, BIAS_LIMIT)
        return cls(w_int.contiguous(), b_int.contiguous(), shift)

    def columns(self, start: int, stop: int, with_bias: bool) -> ExactLinear:
        """The part of the layer that reads inputs start..stop-1 (same scale)."""
        bias = self.bias if with_bias else torch.zeros_like(self.bias)
        return ExactLinear(self.weight[:, start:stop].contiguous(), bias, self.shift)

    def accumulate(self, x: Tensor) -> Tensor:
        """Compute ``x @ weight.T``, exact whatever the method: one matrix-vector product per row
        for few rows (BLAS packs the whole matrix for a small matrix product), a GEMM otherwise.

        Shape:
            x: (P, K) integer-valued float64. Returns (P, N).
        """
        if x.shape[0] <= SMALL_BATCH:
            return torch.stack([torch.mv(self.weight, row) for row in x])
        return x @ self.weight.t()

    def rescale(self, accumulated: Tensor) -> Tensor:
        """Add the bias to an exact accumulator and bring it back to the activation grid."""
        out = torch.floor((accumulated + self.bias) * 2.0**-self.shift)
        return out.clamp_(-ACT_LIMIT, ACT_LIMIT)


@dataclass(frozen=True)
class ExactEntropyModel:
    """The context convolution and entropy-parameter network of a Cheng2020GMM, exact.

    Attributes:
        taps: (row, col) offsets of the context mask's non-zero taps, e.g. (-2, -2).
        context: (taps * M) -> 2M, inputs tap-major.
        hyper: the first 1x1 layer's part that reads the hyper parameters (2M -> 6M, no bias).
        layers: the 1x1 layers (context part of the first, 2M -> 6M; 6M -> 8M; 8M -> 3KM).
        slope: LeakyReLU negative slope.
        m, k: latent channels and mixture components.
    """

    taps: tuple[tuple[int, int], ...]
    context: ExactLinear
    hyper: ExactLinear
    layers: tuple[ExactLinear, ExactLinear, ExactLinear]
    slope: float
    m: int
    k: int

    def hyper_terms(self, params: Tensor) -> Tensor:
        """First-layer contribution of the hyper parameters, for every position at once.

        Shape:
            params: (1, 2M, h, w) float from the hyper synthesis. Returns (h, w, 6M) exact.
        """
        _, channels, height, width = params.shape
        grid = torch.round(params.double()[0].permute(1, 2, 0) * 2.0**ACT_BITS)
        grid = grid.clamp_(-ACT_LIMIT, ACT_LIMIT).reshape(-1, channels)
        out = grid @ self.hyper.weight.t()
        return out.reshape(height, width, -1)

    def parameters_at(self, hyper: Tensor, patches: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Mixture means, scales and weights on the 2^-8 grid for P positions.

        Shape:
            hyper: (P, 6M) from :meth:`hyper_terms`; patches: (P, taps * M) context inputs on
            the activation grid. Returns three (P, K, M) float64 tensors.
        """
        ctx = self.context.rescale(self.context.accumulate(patches))
        first, second, third = self.layers
        act = first.rescale(hyper + first.accumulate(ctx))
        act = second.rescale(second.accumulate(self._leaky(act)))
        out = third.rescale(third.accumulate(self._leaky(act)))
        step = 2.0 ** (ACT_BITS - GRID_BITS)
        means, scales, logits = torch.round(out / step).reshape(-1, 3, self.k, self.m).unbind(1)
        scale = 2.0**-GRID_BITS
        return means * scale, (scales * scale).clamp_(SCALE_MIN, SCALE_MAX), _softmax(logits)

    def _leaky(self, act: Tensor) -> Tensor:
        return torch.where(act < 0, torch.floor(act * self.slope), act)


@lru_cache(maxsize=1)
def _exp_table() -> Tensor:
    """exp(-n / 2^8) for n = 0..LOGIT_SPAN, computed once in one call (so always the same)."""
    return torch.exp(-torch.arange(LOGIT_SPAN + 1, dtype=torch.float64) / 2.0**GRID_BITS)


def _softmax(logits: Tensor) -> Tensor:
    """Softmax over the K components of integer logits (units 2^-8), rounded to the grid.

    Shape:
        logits: (P, K, M) integer-valued float64. Returns (P, K, M).
    """
    gap = (logits.amax(dim=1, keepdim=True) - logits).clamp_(max=LOGIT_SPAN).long()
    terms = _exp_table()[gap]
    total = terms[:, 0]
    for index in range(1, terms.shape[1]):
        total = total + terms[:, index]
    scale = 2.0**GRID_BITS
    return torch.round(terms / total.unsqueeze(1) * scale) / scale


def batched_cdfs(means: Tensor, scales: Tensor, weights: Tensor, bound: int) -> Tensor:
    """Integer mixture CDFs (CompressAI layout, escape last) for P positions, element-wise.

    Shape:
        means, scales, weights: (P, K, M) float64. Returns (P, M, 2 * bound + 3) int64.
    """
    edges = torch.arange(-bound, bound + 2, dtype=torch.float64) - 0.5
    cum = torch.special.ndtr((edges - means.unsqueeze(-1)) / scales.unsqueeze(-1))
    mixed = weights[:, 0].unsqueeze(-1) * cum[:, 0]
    for index in range(1, cum.shape[1]):
        mixed = mixed + weights[:, index].unsqueeze(-1) * cum[:, index]
    pmf = mixed.diff(dim=-1).clamp_min(0.0)
    total = pmf.cumsum(dim=-1)[..., -1:]  # a sequential scan per row: batch-invariant
    flat = total <= 1e-12
    pmf = torch.where(flat, torch.ones_like(pmf), pmf)
    total = torch.where(flat, torch.full_like(total, pmf.shape[-1]), total)
    top = 2**PRECISION - 1
    counts = torch.floor(pmf / total * (top - pmf.shape[-1])).long() + 1
    remainder = top - counts.sum(dim=-1, keepdim=True)
    counts.scatter_add_(-1, counts.argmax(dim=-1, keepdim=True), remainder)
    cdf = F.pad(torch.cumsum(counts, dim=-1), (1, 0), value=0)
    return F.pad(cdf, (0, 1), value=2**PRECISION)


_CACHE: weakref.WeakKeyDictionary[Any, tuple[tuple[int, ...], ExactEntropyModel]] = (
    weakref.WeakKeyDictionary()
)


def exact_entropy_model(model: Any) -> ExactEntropyModel:
    """The exact layers of a model, quantised once and reused until its weights change.

    The cache key is the model's ``entropy_parameters`` module, which the per-call ROI views
    of :func:`shared.codecs.learned.roi_gain.gained_view` share with the model; any in-place
    update of its context or entropy parameters (an optimiser step bumps ``Tensor._version``)
    or a reassignment rebuilds them.
    """
    tensors = [model.context_prediction.weight, model.context_prediction.bias]
    tensors += list(model.entropy_parameters.parameters())
    fingerprint = tuple(x for t in tensors for x in (t.data_ptr(), t._version))
    key = model.entropy_parameters
    cached = _CACHE.get(key)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    exact = build_exact_entropy_model(model)
    _CACHE[key] = (fingerprint, exact)
    return exact


def build_exact_entropy_model(model: Any) -> ExactEntropyModel:
    """Quantise a Cheng2020GMM's context and entropy-parameter layers for exact coding.

    Raises:
        ConfigurationError: the context mask reads a position the wavefront has not coded yet,
            or a layer is too wide to sum exactly.
    """
    conv = model.context_prediction
    mask = conv.mask[0, 0]
    if not bool((conv.mask == mask).all()):
        raise ConfigurationError("the context mask differs per channel; wavefront needs one mask")
    centre_r, centre_c = mask.shape[0] // 2, mask.shape[1] // 2
    taps = tuple((int(r) - centre_r, int(c) - centre_c) for r, c in mask.nonzero().tolist())
    if any(SLOPE * dr + dc >= 0 for dr, dc in taps):
        raise ConfigurationError(
            f"context taps {taps} are not causal for the wavefront t = {SLOPE}*row + col"
        )
    rows = torch.tensor([r + centre_r for r, _ in taps])
    cols = torch.tensor([c + centre_c for _, c in taps])
    weight = conv.weight[:, :, rows, cols].permute(0, 2, 1).reshape(conv.weight.shape[0], -1)
    convs = [layer for layer in model.entropy_parameters if isinstance(layer, torch.nn.Conv2d)]
    relus = [layer for layer in model.entropy_parameters if isinstance(layer, torch.nn.LeakyReLU)]
    if len(convs) != 3 or len(relus) != 2:
        raise ConfigurationError("entropy_parameters is not conv-leaky-conv-leaky-conv")
    first, second, third = (ExactLinear.from_float(c.weight[:, :, 0, 0], c.bias) for c in convs)
    m = int(model.M)
    return ExactEntropyModel(
        taps,
        ExactLinear.from_float(weight, conv.bias),
        first.columns(0, 2 * m, with_bias=False),
        (first.columns(2 * m, 4 * m, with_bias=True), second, third),
        float(relus[0].negative_slope),
        m,
        int(model.K),
    )


def diagonals(height: int, width: int) -> list[Tensor]:
    """The wavefront schedule: for each t = 3*row + col, its (row, col) positions, rows ascending.

    Shape:
        returns: a list of (P_t, 2) int64 tensors for t = 0 .. 3*(height-1) + width-1, leaving
        out the empty diagonals (grids narrower than 3 columns have some).
    """
    out = []
    for t in range(SLOPE * (height - 1) + width):
        rows = [r for r in range(height) if 0 <= t - SLOPE * r < width]
        if rows:
            out.append(torch.tensor([(r, t - SLOPE * r) for r in rows], dtype=torch.long))
    return out
