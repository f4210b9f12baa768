"""Autoregressive rANS coding of the Gaussian-mixture latents of ``cheng2020-gmm``.

The encoder and the decoder run the SAME raster scan (as CompressAI's ``_compress_ar``): at each
latent position the masked 5x5 context and the hyper parameters give the mixture means, scales
and weights, which are first rounded to a fixed grid (so that a last-bit difference in the float
path cannot move a CDF) and then turned into M integer CDFs of 16-bit precision. The symbols are
the rounded latents ``round(y)`` themselves (no mean subtraction), so the context the decoder
feeds back is exact integers. Symbols outside [-bound, bound] take rANS's bypass (escape) path
and stay lossless.

New encodes use the wavefront order instead (:mod:`shared.codecs.learned.wavefront`): the y
string then starts with :data:`WAVEFRONT_MARKER` (8 bytes that cannot begin a rANS stream, whose
8th byte is always < 0x80), the parameters come from the exact fixed-point network, and the
decoder codes a whole diagonal per step. Raster-order strings (payload version 1) still decode
with the raster scan above.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import torch
import torch.nn.functional as F
from compressai.ans import BufferedRansEncoder, RansDecoder
from torch import Tensor

from shared.codecs.learned import wavefront
from shared.errors import CodecError

if TYPE_CHECKING:
    from shared.codecs.learned.rate_gain import ChannelGains

PRECISION = 16
MAX_SYMBOL_BOUND = 128
PARAM_STEP = 2.0**-8
SCALE_MIN, SCALE_MAX = 0.11, 64.0
SYMBOL_CLIP = 2**20
KERNEL = 5
PAD = (KERNEL - 1) // 2
WAVEFRONT_MARKER = b"EOWF\x02\xff\xff\xff"
ENCODE_CHUNK = 32  # positions whose CDFs the wavefront encoder builds at once (memory)
Order = Literal["wavefront", "raster"]
Schedule = Literal["wavefront", "sequential"]

# One coding step: (h, w, cdfs, cdf_lengths, offsets) -> the M decoded symbols at (h, w).
_Step = Callable[[int, int, list[list[int]], list[int], list[int]], Tensor]


def quantise_mixture(
    means: Tensor, scales: Tensor, weights: Tensor, k: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Round mixture parameters to a 2^-8 grid, in float64.

    Shape:
        means, scales, weights: (K*M,) component-major; returns three (K, M) tensors.
    """

    def grid(t: Tensor) -> Tensor:
        return torch.round(t.double().reshape(k, -1) / PARAM_STEP) * PARAM_STEP

    return grid(means), grid(scales).clamp(SCALE_MIN, SCALE_MAX), grid(weights)


def mixture_cdfs(means: Tensor, scales: Tensor, weights: Tensor, bound: int) -> Tensor:
    """Integer CDFs (CompressAI layout) of the discretised mixture over [-bound, bound].

    Each row is ``0, c_1, ..., c_L = 2^16 - 1, 2^16`` for L = 2*bound + 1 symbols; the last
    interval (one count) is rANS's escape symbol. Every symbol keeps at least one count.

    Shape:
        means, scales, weights: (K, M) float64. Returns (M, L + 2) int64.
    """
    edges = torch.arange(-bound, bound + 2, dtype=torch.float64) - 0.5
    cum = torch.special.ndtr((edges - means.unsqueeze(-1)) / scales.unsqueeze(-1))
    pmf = (weights.unsqueeze(-1) * cum).sum(dim=0).diff(dim=-1).clamp_min(0.0)
    total = pmf.sum(dim=-1, keepdim=True)
    flat = total <= 1e-12  # all mass outside the range: fall back to uniform
    pmf = torch.where(flat, torch.ones_like(pmf), pmf)
    total = torch.where(flat, torch.full_like(total, pmf.shape[-1]), total)
    top = 2**PRECISION - 1  # the escape symbol takes the last count
    free = top - pmf.shape[-1]
    counts = torch.floor(pmf / total * free).long() + 1
    remainder = top - counts.sum(dim=-1)
    counts[torch.arange(counts.shape[0]), counts.argmax(dim=-1)] += remainder
    cdf = F.pad(torch.cumsum(counts, dim=-1), (1, 0), value=0)
    return F.pad(cdf, (0, 1), value=2**PRECISION)


def _scan(model: Any, params: Tensor, bound: int, step: _Step) -> Tensor:
    """Raster-scan the latent grid, computing each position's CDFs from coded neighbours.

    Shape:
        params: (1, 2M, h, w) from the hyper synthesis. Returns y_hat (1, M, h, w).
    """
    _, _, height, width = params.shape
    m = model.M
    y_hat = params.new_zeros((1, m, height + 2 * PAD, width + 2 * PAD))
    masked_weight = model.context_prediction.weight * model.context_prediction.mask
    bias = model.context_prediction.bias
    lengths, offsets = [2 * bound + 3] * m, [-bound] * m
    for h in range(height):
        for w in range(width):
            crop = y_hat[:, :, h : h + KERNEL, w : w + KERNEL]
            ctx_p = F.conv2d(crop, masked_weight, bias=bias)
            p = params[:, :, h : h + 1, w : w + 1]
            means, scales, weights = model.mixture_parameters(p, ctx_p)
            quantised = quantise_mixture(
                means.reshape(-1), scales.reshape(-1), weights.reshape(-1), model.K
            )
            cdfs = mixture_cdfs(*quantised, bound).tolist()
            y_hat[0, :, h + PAD, w + PAD] = step(h, w, cdfs, lengths, offsets)
    return y_hat[:, :, PAD : PAD + height, PAD : PAD + width]


def _hyper(model: Any, z_strings: list[bytes], shape: tuple[int, int]) -> Tensor:
    z_hat = model.entropy_bottleneck.decompress(z_strings, shape)
    return model.h_s(z_hat)


def compress_gmm(
    model: Any,
    x: Tensor,
    order: Order = "wavefront",
    gain: Tensor | None = None,
    rate: ChannelGains | None = None,
) -> dict[str, Any]:
    """Encode one image (batch 1) into a y string and a z string.

    Args:
        model: a Cheng2020GMM in eval mode (call inside ``deterministic_coding``).
        x: the image. Shape: (1, bands, H, W), H and W multiples of 64.
        order: ``wavefront`` (default, payload version 2) or ``raster`` (version 1).
        gain: ROI gains G per latent position (powers of two), wavefront order only. The
            symbols are ``round(G * y)``; the hyper path, the context model and the mixture
            see the unscaled latents, and each position's mixture is widened by its G, so the
            entropy model stays calibrated. Shape: (1, 1, h, w).
        rate: the per-channel gains of a variable-rate model's level (wavefront order only),
            applied like ``gain`` (:mod:`shared.codecs.learned.rate_gain`); both multiply.
    """
    y = model.g_a(x)
    z = model.h_a(y)
    z_shape = (int(z.shape[-2]), int(z.shape[-1]))
    z_strings = model.entropy_bottleneck.compress(z)
    params = _hyper(model, z_strings, z_shape)
    scaled = y if rate is None else y * rate.gain.float().view(1, -1, 1, 1)
    scaled = scaled if gain is None else scaled * gain
    y_int = torch.round(scaled).clamp(-SYMBOL_CLIP, SYMBOL_CLIP)
    bound = int(min(max(int(y_int.abs().max().item()), 1), MAX_SYMBOL_BOUND))
    if order == "wavefront":
        y_string = WAVEFRONT_MARKER + encode_wavefront(model, params, y_int, bound, gain, rate)
        return {"strings": [[y_string], z_strings], "shape": z_shape, "symbol_bound": bound}
    if gain is not None or rate is not None:
        raise CodecError("gains are coded in wavefront order only; use order='wavefront'")
    encoder = BufferedRansEncoder()
    indexes = list(range(model.M))

    def encode_step(
        h: int, w: int, cdfs: list[list[int]], lengths: list[int], offsets: list[int]
    ) -> Tensor:
        symbols = y_int[0, :, h, w]
        encoder.encode_with_indexes(symbols.long().tolist(), indexes, cdfs, lengths, offsets)
        return symbols

    _scan(model, params, bound, encode_step)
    return {"strings": [[encoder.flush()], z_strings], "shape": z_shape, "symbol_bound": bound}


def decompress_gmm(
    model: Any,
    strings: list[list[bytes]],
    shape: tuple[int, int],
    symbol_bound: int,
    schedule: Schedule = "wavefront",
    gain: Tensor | None = None,
    rate: ChannelGains | None = None,
) -> dict[str, Tensor]:
    """Decode the y and z strings of :func:`compress_gmm`; ``x_hat`` is clamped to [0, 1].

    The caller validates the strings (lengths, padding) and the shape first: rANS does not.
    Wavefront-order strings decode a diagonal per step, or with ``schedule="sequential"`` one
    position per step (the reference decoder; same pixels). Raster strings ignore ``schedule``.
    ``gain`` is the encoder's ROI gain map (shape (1, 1, h, w)) and ``rate`` its rate level's
    channel gains; synthesis reads the symbols over G, times the level's inverse gains.
    """
    if not 1 <= symbol_bound <= MAX_SYMBOL_BOUND:
        raise CodecError(
            f"symbol bound {symbol_bound} is outside 1..{MAX_SYMBOL_BOUND}; the payload is corrupt"
        )
    (y_string,), z_strings = strings
    params = _hyper(model, z_strings, shape)
    if y_string.startswith(WAVEFRONT_MARKER):
        symbols = decode_wavefront(
            model, params, y_string[len(WAVEFRONT_MARKER) :], symbol_bound, schedule, gain, rate
        )
        return {"x_hat": model.g_s(synthesis_input(symbols, gain, rate)).clamp_(0, 1)}
    if gain is not None or rate is not None:
        raise CodecError("a raster-order y string cannot carry gains: the payload is corrupt")
    decoder = RansDecoder()
    decoder.set_stream(y_string)
    indexes = list(range(model.M))

    def decode_step(
        h: int, w: int, cdfs: list[list[int]], lengths: list[int], offsets: list[int]
    ) -> Tensor:
        values = decoder.decode_stream(indexes, cdfs, lengths, offsets)
        return torch.tensor(values, dtype=torch.float32)

    y_hat = _scan(model, params, symbol_bound, decode_step)
    return {"x_hat": model.g_s(y_hat).clamp_(0, 1)}


def _context_grid(m: int, height: int, width: int) -> Tensor:
    """Zero-padded (rows + PAD, cols + 2 PAD, M) float64 context inputs (taps never look down)."""
    return torch.zeros((height + PAD, width + 2 * PAD, m), dtype=torch.float64)


def _gains(gain: Tensor | None, height: int, width: int, rate: ChannelGains | None) -> Tensor:
    """The gain of every latent: ROI gain per position times the rate level's per channel.

    Shape:
        returns (h, w, M) float64, or (h, w, 1) without a rate level (ones without ROI).
    """
    grid = torch.ones((height, width), dtype=torch.float64)
    if gain is not None:
        grid = gain.reshape(height, width).double()
    grid = grid.unsqueeze(-1)
    return grid if rate is None else grid * rate.gain.view(1, 1, -1)


def _store(grid: Tensor, positions: Tensor, values: Tensor, gains: Tensor) -> None:
    """Write coded symbols (P, M) over their gains into the context grid, clamped and rounded
    to the activation grid (element-wise, so the same at both ends; with power-of-two ROI gains
    alone the values are already on it)."""
    limit = wavefront.CONTEXT_LIMIT
    unscaled = values.double() / gains[positions[:, 0], positions[:, 1]]
    scaled = torch.round(unscaled.clamp(-limit, limit) * 2.0**wavefront.ACT_BITS)
    grid[positions[:, 0] + PAD, positions[:, 1] + PAD] = scaled


def synthesis_input(symbols: Tensor, gain: Tensor | None, rate: ChannelGains | None) -> Tensor:
    """What the synthesis transform reads: the symbols over the ROI gains, times the rate
    level's inverse gains (float64, then float32).

    Shape:
        symbols: (1, M, h, w) float64; gain: (1, 1, h, w). Returns (1, M, h, w) float32.
    """
    y_hat = symbols if gain is None else symbols / gain.double()
    if rate is not None:
        y_hat = y_hat * rate.inverse.view(1, -1, 1, 1)
    return y_hat.float()


def _cdf_rows(
    exact: wavefront.ExactEntropyModel,
    hyper: Tensor,
    grid: Tensor,
    positions: Tensor,
    bound: int,
    gains: Tensor,
) -> list[list[int]]:
    """CDF rows of P positions, position-major then channel: (P * M) rows of 2*bound + 3.

    A latent's mixture of y is widened to one of G * y (means and scales times its gain).
    """
    rows = positions[:, :1] + PAD + torch.tensor([[dr for dr, _ in exact.taps]])
    cols = positions[:, 1:] + PAD + torch.tensor([[dc for _, dc in exact.taps]])
    patches = grid[rows, cols].reshape(positions.shape[0], -1)
    means, scales, weights = exact.parameters_at(hyper[positions[:, 0], positions[:, 1]], patches)
    g = gains[positions[:, 0], positions[:, 1]].unsqueeze(1)  # (P, 1, M or 1)
    mixture = (means * g, scales * g, weights)
    return wavefront.batched_cdfs(*mixture, bound).reshape(-1, 2 * bound + 3).tolist()


def encode_wavefront(
    model: Any,
    params: Tensor,
    y_int: Tensor,
    bound: int,
    gain: Tensor | None = None,
    rate: ChannelGains | None = None,
) -> bytes:
    """rANS-encode round(G g y) diagonal by diagonal.

    Shape:
        y_int: (1, M, h, w); gain: (1, 1, h, w) ROI gains; rate: the level's channel gains.
    """
    exact = wavefront.exact_entropy_model(model)
    hyper = exact.hyper_terms(params)
    _, m, height, width = y_int.shape
    gains = _gains(gain, height, width, rate)
    grid = _context_grid(m, height, width)
    everything = torch.cartesian_prod(torch.arange(height), torch.arange(width))
    _store(grid, everything, y_int[0].permute(1, 2, 0).reshape(-1, m), gains)
    order = torch.cat(wavefront.diagonals(height, width))
    encoder = BufferedRansEncoder()
    for positions in torch.split(order, ENCODE_CHUNK):
        count = positions.shape[0] * m
        cdfs = _cdf_rows(exact, hyper, grid, positions, bound, gains)
        symbols = y_int[0, :, positions[:, 0], positions[:, 1]].t().reshape(-1)
        encoder.encode_with_indexes(
            symbols.long().tolist(),
            list(range(count)),
            cdfs,
            [2 * bound + 3] * count,
            [-bound] * count,
        )
    return encoder.flush()


def decode_wavefront(
    model: Any,
    params: Tensor,
    y_string: bytes,
    bound: int,
    schedule: Schedule,
    gain: Tensor | None = None,
    rate: ChannelGains | None = None,
) -> Tensor:
    """Decode wavefront-order symbols, a diagonal (or one position) per step.

    Shape:
        params: (1, 2M, h, w); gain: (1, 1, h, w) or None. Returns the symbols,
        (1, M, h, w) float64 (:func:`synthesis_input` turns them into y_hat).
    """
    exact = wavefront.exact_entropy_model(model)
    hyper = exact.hyper_terms(params)
    _, _, height, width = params.shape
    m = exact.m
    gains = _gains(gain, height, width, rate)
    grid = _context_grid(m, height, width)
    symbols = torch.zeros((height, width, m), dtype=torch.float64)
    steps = wavefront.diagonals(height, width)
    if schedule == "sequential":
        steps = [position.unsqueeze(0) for diagonal in steps for position in diagonal]
    decoder = RansDecoder()
    decoder.set_stream(y_string)
    for positions in steps:
        count = positions.shape[0] * m
        cdfs = _cdf_rows(exact, hyper, grid, positions, bound, gains)
        values = decoder.decode_stream(
            list(range(count)), cdfs, [2 * bound + 3] * count, [-bound] * count
        )
        decoded = torch.tensor(values, dtype=torch.float64).reshape(-1, m)
        _store(grid, positions, decoded, gains)
        symbols[positions[:, 0], positions[:, 1]] = decoded
    return symbols.permute(2, 0, 1).unsqueeze(0)
