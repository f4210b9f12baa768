"""Freeze containers written by the last version-1 writer (commit 670d7f0), with their pixels.

Run once, at that commit, from the repository root: ``python tests/golden/v1/make_v1_corpus.py``.
Each case writes ``NAME.eodl`` (the container) and ``NAME.npz`` (``raster``: what that build
decoded). Later builds must decode every container here to exactly these pixels. Not rerun: the
files are the record of what the old writer produced.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shared.codecs.base import RateTarget
from shared.compression import compress_raster, decompress_container
from shared.sensors.profiles import get_profile
from workbench.datasets.generate import generate_scene

HERE = Path(__file__).parent
CASES = (
    ("fire-jpeg2000-2bpp", "fire", "jpeg2000", RateTarget(bpp=2.0), 32),
    ("cloud-jpeg2000-0.3bpp", "cloud", "jpeg2000", RateTarget(bpp=0.3), 128),
    ("building-jpeg2000-lossless", "building", "jpeg2000", RateTarget(lossless=True), 64),
    ("building-cheng2020-gmm-q2", "building", "cheng2020-gmm", RateTarget(quality=2), 64),
    (
        "building-mean-scale-hyperprior-q2",
        "building",
        "mean-scale-hyperprior",
        RateTarget(quality=2),
        64,
    ),
)


def main() -> None:
    for name, task, codec, target, size in CASES:
        profile = get_profile(task)
        scene = generate_scene(task, seed=1234)
        raster = np.ascontiguousarray(scene.image[:, :size, :size])
        mask = np.ascontiguousarray(scene.mask[..., :size, :size])
        compressed = compress_raster(
            raster,
            codec=codec,
            target=target,
            scale=profile.global_max,
            bit_depth=profile.bit_depth,
            metadata={"scene_id": name, "task": task},
            truth_mask=mask,
        )
        decoded = decompress_container(compressed.container)
        assert decoded.digest_matches
        (HERE / f"{name}.eodl").write_bytes(compressed.container)
        np.savez_compressed(HERE / f"{name}.npz", raster=decoded.raster)
        print(name, len(compressed.container), "bytes")


if __name__ == "__main__":
    main()
