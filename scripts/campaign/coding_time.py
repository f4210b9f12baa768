"""Where a learned codec's onboard time goes: its transforms against the whole coding.

Times, on one thread, the analysis transform ``g_a`` and the synthesis ``g_s`` (forward passes)
and ``compress_raster`` at one quality (entropy coding with the context model, plus the decode
of its own payload that gives the reconstruction digest), on one scene of a folder.

Usage: python scripts/campaign/coding_time.py CHECKPOINT SCENE.npy TASK [--quality 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from shared.codecs.base import RateTarget
from shared.codecs.learned.checkpoint import CheckpointStore, load_checkpoint
from shared.compression import compress_raster
from shared.sensors.profiles import get_profile


def mean_seconds(run: Callable[[], object], repeats: int) -> float:
    """Mean wall time of ``run`` after one warm-up call."""
    run()
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    """Parse the arguments and print the three times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("scene", type=Path)
    parser.add_argument("task")
    parser.add_argument("--quality", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    profile = get_profile(args.task)
    image = np.load(args.scene)
    model, _ = load_checkpoint(args.checkpoint)
    x = torch.from_numpy(image.astype(np.float32) / np.float32(profile.global_max))
    x = x[None, None] if x.ndim == 2 else x[None]
    store = CheckpointStore([args.checkpoint.parent])
    with torch.no_grad():
        y = model.g_a(x)
        analysis = mean_seconds(lambda: model.g_a(x), 5)
        synthesis = mean_seconds(lambda: model.g_s(y), 5)
    whole = mean_seconds(
        lambda: compress_raster(
            image,
            codec="cheng2020-gmm",
            target=RateTarget(quality=args.quality),
            scale=profile.global_max,
            bit_depth=profile.bit_depth,
            checkpoints=store,
        ),
        3,
    )
    print(
        f"{args.scene.name} {image.shape}: g_a {analysis * 1e3:.0f} ms, "
        f"g_s {synthesis * 1e3:.0f} ms, compress_raster (with its own decode) {whole * 1e3:.0f} ms"
    )


if __name__ == "__main__":
    main()
