"""Real entropy coding for the learned architectures, made deterministic.

``compress`` turns a padded, normalised image into rANS strings; ``decompress`` turns validated
strings back into x_hat. Both run inside :func:`deterministic_coding` (CPU float32, eval mode,
no autograd, ONE torch thread, serialised by a lock): CompressAI's hyper and context paths are
float and desynchronise the decoder when the encoder summed in another order (CompressAI issues
#279 and #309), and torch's CPU kernels split work by thread count. CompressAI's dicts stay here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor

from shared.codecs.learned.architectures import CompressionModel, LatentScheme, latent_scheme
from shared.codecs.learned.rate_gain import ChannelGains, coding_gains
from shared.codecs.learned.roi_gain import LatentGainMap, gained_view
from shared.errors import CodecError

_CODING_LOCK = threading.Lock()
CODING_THREADS = 1
MIN_STRING_BYTES = 8  # a flushed rANS stream holds at least its 64-bit state


@dataclass(frozen=True)
class LatentLayout:
    """Latent grid sizes derived from the raster (never read from a payload).

    Attributes:
        y_shape: (rows, cols) of y, the padded raster over 16.
        z_shape: (rows, cols) of z, the padded raster over 64; (0, 0) when there is no z.
    """

    y_shape: tuple[int, int]
    z_shape: tuple[int, int]


@dataclass(frozen=True)
class LatentStrings:
    """The coded latents of one image: one string per group, the GMM symbol bound, the ROI
    gain map the latents were scaled by (``None``: no ROI coding), the rate level code of a
    variable-rate model (``None``: a fixed-rate model) and the per-band offsets added to the
    decoded samples (``None``: none; see :mod:`shared.codecs.learned.band_offsets`)."""

    strings: tuple[bytes, ...]
    symbol_bound: int = 0
    gain_map: LatentGainMap | None = None
    rate_code: int | None = None
    band_offsets: tuple[int, ...] | None = None


@contextmanager
def deterministic_coding() -> Iterator[None]:
    """Run torch on one thread without autograd, restoring the thread count afterwards."""
    with _CODING_LOCK:
        previous = torch.get_num_threads()
        torch.set_num_threads(CODING_THREADS)
        try:
            with torch.no_grad():
                yield
        finally:
            torch.set_num_threads(previous)


def compress(
    architecture: str,
    model: CompressionModel,
    x: Tensor,
    gain_map: LatentGainMap | None = None,
    rate_code: int | None = None,
) -> LatentStrings:
    """Entropy-code one image with ``model`` (call inside :func:`deterministic_coding`).

    With ``gain_map`` the latents are scaled per position before coding (ROI coding, see
    :mod:`shared.codecs.learned.roi_gain`); ``model`` itself is not modified. A variable-rate
    model codes at the level ``rate_code`` (:mod:`shared.codecs.learned.rate_gain`).

    Shape:
        x: (1, bands, H, W) float32 in [0, 1], H and W multiples of 64.
    """
    coder, extra = _coder(architecture, model, gain_map, rate_code)
    out = coder.compress(x, **extra)
    strings = tuple(group[0] for group in out["strings"])
    expected = latent_scheme(architecture).string_count
    if len(strings) != expected:
        raise CodecError(
            f"{architecture} produced {len(strings)} strings, expected {expected}; "
            "the model does not fit its name"
        )
    return LatentStrings(strings, int(out.get("symbol_bound", 0)), gain_map, rate_code)


def _coder(
    architecture: str,
    model: CompressionModel,
    gain_map: LatentGainMap | None,
    rate_code: int | None,
) -> tuple[CompressionModel, dict[str, Tensor | ChannelGains]]:
    """The module to code with and the extra keywords its compress/decompress take.

    cheng2020-gmm takes the gains itself and keeps its entropy model calibrated (the mixture of
    each position is widened by its gain); the CompressAI models code ``g_a(x) * G`` through a
    per-call view whose hyper and context paths see the scaled latents.
    """
    extra: dict[str, Tensor | ChannelGains] = {}
    rate = _rate_gains(architecture, model, rate_code)
    if rate is not None:
        extra["rate"] = rate
    if gain_map is None:
        return model, extra
    if latent_scheme(architecture) is LatentScheme.MIXTURE:
        return model, {**extra, "gain": gain_map.tensor()}
    return gained_view(model, gain_map), extra


def _rate_gains(
    architecture: str, model: CompressionModel, rate_code: int | None
) -> ChannelGains | None:
    """The channel gains of ``rate_code``; a level and the weights must agree on variable rate.

    Raises:
        CodecError: a level for fixed-rate weights, or none for variable-rate weights.
    """
    gains = getattr(model, "rate_gains", None)
    if gains is None and rate_code is None:
        return None
    if gains is None:
        raise CodecError(
            f"the payload is coded at rate level {rate_code} but these {architecture} weights "
            "are fixed-rate: the payload is corrupt or names other weights"
        )
    if rate_code is None:
        raise CodecError(
            f"these {architecture} weights are variable-rate ({gains.levels} levels) but the "
            "payload names no rate level: it is corrupt or names other weights"
        )
    return coding_gains(gains, rate_code)


def symbol_counts(architecture: str, model: CompressionModel, layout: LatentLayout) -> list[int]:
    """How many symbols each string carries, in string order."""
    y_count = int(model.M) * layout.y_shape[0] * layout.y_shape[1]
    z_count = int(model.N) * layout.z_shape[0] * layout.z_shape[1]
    scheme = latent_scheme(architecture)
    if scheme is LatentScheme.FACTORIZED:
        return [y_count]
    if scheme is LatentScheme.CHECKERBOARD:
        return [y_count // 2, y_count // 2, z_count]
    return [y_count, z_count]


def guard_strings(strings: tuple[bytes, ...], counts: list[int]) -> list[list[bytes]]:
    """Refuse short strings and pad each with zeros so rANS can never read past its buffer.

    A valid stream is never read beyond its end, so the padding changes nothing for it; a
    corrupted one reads at most a few words per symbol (plus its bypass runs), all of them zeros.
    """
    guarded = []
    for index, (string, count) in enumerate(zip(strings, counts, strict=True)):
        if len(string) < MIN_STRING_BYTES:
            raise CodecError(
                f"latent string {index} has {len(string)} bytes; a rANS stream has at least "
                f"{MIN_STRING_BYTES}: the payload is truncated or corrupt"
            )
        guarded.append([string + bytes(8 * count + 16 * len(string) + 256)])
    return guarded


def decompress(
    architecture: str, model: CompressionModel, coded: LatentStrings, layout: LatentLayout
) -> Tensor:
    """Decode validated strings to x_hat (call inside :func:`deterministic_coding`).

    Shape:
        returns: (1, bands, 16 * y_rows, 16 * y_cols) float32 in [0, 1].

    With ``coded.gain_map`` the decoded latents are divided by its gains before synthesis.

    Raises:
        CodecError: a string is too short, or the decoded image is not finite.
    """
    strings = guard_strings(coded.strings, symbol_counts(architecture, model, layout))
    model, extra = _coder(architecture, model, coded.gain_map, coded.rate_code)
    scheme = latent_scheme(architecture)
    if scheme is LatentScheme.FACTORIZED:
        out = model.decompress(strings, layout.y_shape)
    elif scheme is LatentScheme.CHECKERBOARD:
        shape = {"y": (int(model.M), *layout.y_shape), "hyper": layout.z_shape}
        out = model.decompress(strings, shape)
    elif scheme is LatentScheme.MIXTURE:
        out = model.decompress(strings, layout.z_shape, coded.symbol_bound, **extra)
    else:
        out = model.decompress(strings, layout.z_shape)
    x_hat = out["x_hat"]
    if not bool(torch.isfinite(x_hat).all()):
        raise CodecError("the decoded image holds NaN or Inf: the payload is corrupt")
    return x_hat.clamp(0.0, 1.0)
