"""Timing and size figures of the learned codecs (measures and prints; asserts nothing).

Run: ``python -m workbench.bench.learned_codec [--repeats 3] [--quality 3]``. Untrained weights
at the default widths are enough for timing: coding cost depends on shapes, not on training.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.codecs.base import RasterSpec, RateTarget
from shared.codecs.learned.architectures import ARCHITECTURES, build_model
from shared.codecs.learned.checkpoint import CheckpointStore, checkpoint_paths, init_checkpoint
from shared.codecs.registry import get_codec

TILES = ((10, 128, 128), (1, 256, 256))


@dataclass(frozen=True)
class CodecTiming:
    """Median encode (which includes decoding its own payload) and decode seconds."""

    architecture: str
    shape: tuple[int, int, int]
    encode_s: float
    decode_s: float
    payload_bytes: int


def time_codec(
    architecture: str, shape: tuple[int, int, int], root: Path, quality: int, repeats: int
) -> CodecTiming:
    """Time one codec on a synthetic uint16 tile with untrained default-width weights."""
    bands, height, width = shape
    name = root / f"{architecture}-b{bands}-q{quality}"
    if not checkpoint_paths(name)[1].exists():
        init_checkpoint(architecture, bands, quality, name, seed=0)
    codec = get_codec(architecture, checkpoints=CheckpointStore([root]))
    spec = RasterSpec(bands, height, width, "uint16", 14, 16383.0)
    rng = np.random.default_rng(0)
    raster = rng.integers(0, 16384, shape).astype(np.uint16)
    codec.encode(raster, spec, RateTarget(quality=quality))  # load and warm up
    encode_s, decode_s = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        result = codec.encode(raster, spec, RateTarget(quality=quality))
        encode_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        codec.decode(result.payload, spec, result.model)
        decode_s.append(time.perf_counter() - start)
    return CodecTiming(
        architecture,
        shape,
        statistics.median(encode_s),
        statistics.median(decode_s),
        len(result.payload),
    )


def model_size(
    architecture: str, quality: int, bands: int, N: int | None = None
) -> tuple[int, int]:
    """(parameter count, safetensors bytes) of an untrained model."""
    model = build_model(architecture, bands, quality, N)
    params = sum(p.numel() for p in model.parameters())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m"
        init_checkpoint(architecture, bands, quality, path, seed=0, N=N)
        size = checkpoint_paths(path)[0].stat().st_size
    return params, size


def main() -> None:
    """Print the timing table and the cheng2020-gmm sizes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quality", type=int, default=3)
    parser.add_argument("--architectures", nargs="*", default=list(ARCHITECTURES))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for arch in args.architectures:
            for shape in TILES:
                t = time_codec(arch, shape, Path(folder), args.quality, args.repeats)
                print(
                    f"{arch:24s} {'x'.join(map(str, shape)):12s} encode {t.encode_s:7.3f} s "
                    f"decode {t.decode_s:7.3f} s payload {t.payload_bytes} B",
                    flush=True,
                )
    for quality, n in ((3, None), (6, None), (3, 64)):
        params, size = model_size("cheng2020-gmm", quality, 10, n)
        label = f"q{quality}" + ("" if n is None else f" N=M={n}")
        print(f"cheng2020-gmm {label:10s} params {params:,} safetensors {size:,} B (10 bands)")


if __name__ == "__main__":
    main()
