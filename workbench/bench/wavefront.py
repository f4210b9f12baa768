"""Decode speed of cheng2020-gmm: raster loop (CompressAI's style) vs the wavefront decoders.

``eodl bench wavefront`` (or ``python -m workbench.bench.wavefront``) codes one random image per
shape twice: in raster order (payload version 1, decoded one position at a time exactly as
CompressAI's ``_decompress_ar``) and in wavefront order (version 2, decoded one position at a
time by the reference decoder and one diagonal at a time by the fast one). It also times
CompressAI's stock ``Cheng2020Attention.decompress`` at the same width. Whole decodes include
h_s and g_s (the same for all); the context loops are also timed alone. It prints
figures and whether all decoders gave identical pixels; it asserts nothing about time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
from compressai.ans import RansDecoder

from shared.codecs.learned import coding
from shared.codecs.learned.architectures import build_model
from shared.codecs.learned.gmm_coding import (
    WAVEFRONT_MARKER,
    _scan,
    compress_gmm,
    decode_wavefront,
    decompress_gmm,
)

SHAPES = ((1, 256, 256), (10, 128, 128))


@dataclass(frozen=True)
class WavefrontTiming:
    """Median decode seconds per decoder (whole decode, and the context loop alone)."""

    shape: tuple[int, int, int]
    width: int
    decode_s: dict[str, float]
    loop_s: dict[str, float]
    identical: bool

    def speedup(self, baseline: str = "raster", fast: str = "wavefront") -> float:
        """How many times faster ``fast`` decodes than ``baseline`` (whole decode)."""
        return self.decode_s[baseline] / self.decode_s[fast]

    def loop_speedup(self, baseline: str = "raster", fast: str = "wavefront") -> float:
        """The same for the context loop alone."""
        return self.loop_s[baseline] / self.loop_s[fast]


def time_decoders(shape: tuple[int, int, int], width: int, repeats: int) -> WavefrontTiming:
    """Time the three decoders and CompressAI's on one random image of ``shape``."""
    bands, height, cols = shape
    torch.manual_seed(0)
    model = build_model("cheng2020-gmm", bands, 3, N=width).eval()
    model.update(force=True)
    stock = build_model("cheng2020-attn", bands, 3, N=width).eval()
    stock.update(force=True)
    x = torch.rand(1, bands, height, cols)
    with coding.deterministic_coding():
        raster = compress_gmm(model, x, order="raster")
        wave = compress_gmm(model, x, order="wavefront")
        stock_out = stock.compress(x)
        whole = {
            "raster": lambda: decompress_gmm(model, *_args(raster)),
            "sequential": lambda: decompress_gmm(model, *_args(wave), "sequential"),
            "wavefront": lambda: decompress_gmm(model, *_args(wave), "wavefront"),
            "compressai": lambda: stock.decompress(stock_out["strings"], stock_out["shape"]),
        }
        decode_s, pixels = {}, {}
        for name, run in whole.items():
            decode_s[name], pixels[name] = _median_run(run, repeats)
        loop_s = {
            name: _median_run(run, repeats)[0]
            for name, run in _loops(model, stock, raster, wave, stock_out).items()
        }
    identical = all(torch.equal(pixels["raster"], pixels[n]) for n in ("sequential", "wavefront"))
    return WavefrontTiming(shape, width, decode_s, loop_s, identical)


def _loops(
    model: Any, stock: Any, raster: dict[str, Any], wave: dict[str, Any], stock_out: dict[str, Any]
) -> dict[str, Any]:
    """The context loops alone (hyper synthesis done beforehand, no g_s), per decoder."""
    params = model.h_s(model.entropy_bottleneck.decompress(raster["strings"][1], raster["shape"]))
    stock_params = stock.h_s(
        stock.entropy_bottleneck.decompress(*stock_out["strings"][1:], stock_out["shape"])
    )
    bound = raster["symbol_bound"]
    wave_y = wave["strings"][0][0][len(WAVEFRONT_MARKER) :]
    _, _, height, width = params.shape

    def raster_loop() -> Any:
        decoder = RansDecoder()
        decoder.set_stream(raster["strings"][0][0])
        indexes = list(range(model.M))

        def step(h: int, w: int, cdfs: Any, lengths: Any, offsets: Any) -> torch.Tensor:
            values = decoder.decode_stream(indexes, cdfs, lengths, offsets)
            return torch.tensor(values, dtype=torch.float32)

        return _scan(model, params, bound, step)

    def stock_loop() -> Any:
        y_hat = torch.zeros((1, stock.M, height + 4, width + 4))
        stock._decompress_ar(stock_out["strings"][0][0], y_hat, stock_params, height, width, 5, 2)
        return y_hat

    return {
        "raster": raster_loop,
        "sequential": lambda: decode_wavefront(model, params, wave_y, bound, "sequential"),
        "wavefront": lambda: decode_wavefront(model, params, wave_y, bound, "wavefront"),
        "compressai": stock_loop,
    }


def _args(out: dict[str, Any]) -> tuple[Any, ...]:
    return out["strings"], out["shape"], out["symbol_bound"]


def _median_run(run: Any, repeats: int) -> tuple[float, Any]:
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - start)
    value = result["x_hat"] if isinstance(result, dict) else result
    return sorted(seconds)[len(seconds) // 2], value


def format_timing(t: WavefrontTiming) -> str:
    """Two lines: whole-decode seconds per decoder and the speed-ups."""
    shape = "x".join(map(str, t.shape))
    whole = "  ".join(f"{k} {v:.3f}s" for k, v in t.decode_s.items())
    loop = "  ".join(f"{k} {v:.3f}s" for k, v in t.loop_s.items())
    return (
        f"cheng2020-gmm {shape} N={t.width}: decode {whole}\n"
        f"  context loop only: {loop}\n"
        f"  wavefront vs raster loop: x{t.speedup():.2f} whole, x{t.loop_speedup():.2f} loop; "
        f"vs CompressAI cheng2020-attn: x{t.speedup('compressai'):.2f} whole, "
        f"x{t.loop_speedup('compressai'):.2f} loop; "
        f"identical pixels: {'yes' if t.identical else 'NO'}"
    )


def main() -> None:
    """Print the table for the two issue shapes at width N=128 (cheng2020 quality 1-3)."""
    for shape in SHAPES:
        print(format_timing(time_decoders(shape, 128, 3)), flush=True)


if __name__ == "__main__":
    main()
