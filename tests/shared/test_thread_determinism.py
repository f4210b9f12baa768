"""Containers decode bit-identically whatever torch thread count either side runs.

tests/shared/codecs/test_learned_codec.py already decodes every architecture's bare payload,
encoded with 2 threads, in a fresh 1-thread process. This adds the other direction and whole
containers, untiled and tiled, for the two codecs the ground decodes most: here the satellite
runs 1 thread and a fresh process runs 2 (decoding ours, and encoding the same rasters again);
then we decode its containers with 1. The cuda half is tests/ground_station/test_gs_tiled.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from shared.codecs.base import RateTarget
from shared.codecs.tiling import TilingPolicy
from shared.compression import compress_raster, decompress_container

REPO = Path(__file__).resolve().parents[2]
TILE_SIDE = 128
# key: (codec, bands, height, width, scale); the shipped checkpoints code them (quality 2)
CASES: dict[str, tuple[str, int, int, int, float]] = {
    "gmm-untiled": ("cheng2020-gmm", 1, 64, 64, 16383.0),
    "gmm-tiled": ("cheng2020-gmm", 1, 192, 160, 16383.0),
    "msh-untiled": ("mean-scale-hyperprior", 10, 64, 64, 10000.0),
    "msh-tiled": ("mean-scale-hyperprior", 10, 160, 192, 10000.0),
}

_OTHER_SIDE = """
import json, sys
from pathlib import Path
import numpy as np, torch
torch.set_num_threads(int(sys.argv[2]))
from shared.codecs.base import RateTarget, reconstruction_digest
from shared.compression import compress_raster, decompress_container
from shared.codecs.tiling import TilingPolicy
folder, report = Path(sys.argv[1]), {}
for key, case in json.loads((folder / "cases.json").read_text()).items():
    decoded = decompress_container((folder / f"{key}.eodl").read_bytes())  # 2 forked workers
    scene = compress_raster(
        np.load(folder / f"{key}.npy"), codec=case["codec"], target=RateTarget(quality=2),
        scale=case["scale"], bit_depth=14, metadata={"created_at": "fixed"},
        tiling=TilingPolicy(tile_side=case["tile_side"], workers=1),
    )
    (folder / f"{key}.other.eodl").write_bytes(scene.container)
    report[key] = {"digest_matches": decoded.digest_matches, "threads": torch.get_num_threads()}
print(json.dumps(report))
"""


def _raster(bands: int, height: int, width: int, scale: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = 0.5 + 0.3 * np.sin(xx / 7.0) * np.cos(yy / 11.0)
    cube = base[None] * np.linspace(0.6, 1.0, bands)[:, None, None]
    cube = cube + rng.normal(0, 0.01, cube.shape)
    return np.clip(cube * scale, 0, scale).astype(np.uint16)


def _encode(raster: np.ndarray, codec: str, scale: float) -> bytes:
    return compress_raster(
        raster,
        codec=codec,
        target=RateTarget(quality=2),
        scale=scale,
        bit_depth=14,
        metadata={"created_at": "fixed"},
        tiling=TilingPolicy(tile_side=TILE_SIDE, workers=1),
    ).container


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Encode with 1 torch thread here; a fresh 2-thread process decodes and re-encodes."""
    folder = tmp_path_factory.mktemp("threads")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    ours, manifest = {}, {}
    try:
        for seed, (key, (codec, bands, height, width, scale)) in enumerate(CASES.items()):
            raster = _raster(bands, height, width, scale, seed)
            np.save(folder / f"{key}.npy", raster)
            ours[key] = _encode(raster, codec, scale)
            (folder / f"{key}.eodl").write_bytes(ours[key])
            manifest[key] = {"codec": codec, "scale": scale, "tile_side": TILE_SIDE}
    finally:
        torch.set_num_threads(previous)
    (folder / "cases.json").write_text(json.dumps(manifest))
    done = subprocess.run(
        [sys.executable, "-c", _OTHER_SIDE, str(folder), "2"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "2", "PYTHONWARNINGS": "ignore"},
    )
    assert done.returncode == 0, f"the 2-thread process failed: {done.stderr[-3000:]}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    theirs = {key: (folder / f"{key}.other.eodl").read_bytes() for key in CASES}
    return {"ours": ours, "theirs": theirs, "report": report}


@pytest.mark.parametrize("key", sorted(CASES))
def test_one_thread_containers_decode_bit_exactly_with_two(
    key: str, exchange: dict[str, Any]
) -> None:
    report = exchange["report"][key]
    assert report["threads"] == 2  # the other side really ran 2 threads around the coder
    assert report["digest_matches"] is True
    assert decompress_container(exchange["ours"][key]).container.header.tiled == key.endswith(
        "-tiled"
    )


@pytest.mark.parametrize("key", sorted(CASES))
def test_two_thread_containers_are_the_same_bytes_and_decode_with_one(
    key: str, exchange: dict[str, Any]
) -> None:
    assert exchange["theirs"][key] == exchange["ours"][key]
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        decoded = decompress_container(exchange["theirs"][key], tiling=TilingPolicy(workers=1))
    finally:
        torch.set_num_threads(previous)
    assert decoded.digest_matches
