"""Scenes of real size go through the whole pipeline in tiles; a tiled container on cuda.

The slow tests build a 2048 x 2048 LWIR cloud scene and a 1024 x 1024 x 10 Sentinel-2 tile as
mosaics of generated scenes, then: compress_raster (512-pixel tiles, 2 workers, one container)
in a fresh process, decompress_container and segmentation in another fresh process (so each
stage's peak RSS is its own), and the upload through a ground station that decodes in its
worker and segments. They print the time and peak RSS of each stage; they assert correctness
only (one container, tiled, bit-exact on the ground, F1 the same everywhere).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gs_support import Link

from shared.codecs.base import RateTarget
from shared.compression import compress_raster, decompress_container
from shared.metrics.segmentation import f1_positive

REPO = Path(__file__).resolve().parents[2]

_STAGE = """
import json, resource, sys, time
from pathlib import Path
import numpy as np
from shared.codecs.base import RateTarget
from shared.compression import compress_raster, decompress_container
from workbench.datasets.generate import generate_scene
from shared.sensors.profiles import get_profile
from shared.metrics.segmentation import f1_positive
from shared.models.segmentation import load_segmenter

def own_peak_mb():  # VmHWM: this process's own peak (ru_maxrss keeps the forked parent's)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

stage, task, side, folder = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
profile, report = get_profile(task), {}
if stage == "encode":
    per = side // profile.tile[0]
    scenes = [generate_scene(task, seed) for seed in range(per * per)]
    rows = lambda key: [[getattr(scenes[r * per + c], key) for c in range(per)] for r in range(per)]
    raster = np.block(rows("image"))
    truth = np.block(rows("mask")).astype(np.uint8)
    started = time.perf_counter()
    scene = compress_raster(
        raster, codec="cheng2020-gmm", target=RateTarget(quality=2), scale=profile.global_max,
        bit_depth=profile.bit_depth, metadata={"scene_id": f"{task}-{side}", "task": task},
        truth_mask=truth,
    )
    report["seconds"] = time.perf_counter() - started
    (folder / "scene.eodl").write_bytes(scene.container)
    report.update(bpp=scene.bpp, psnr_db=scene.psnr_db, bytes=len(scene.container),
                  tiled=scene.header.tiled, shape=list(raster.shape))
else:
    data = (folder / "scene.eodl").read_bytes()
    started = time.perf_counter()
    decoded = decompress_container(data)
    report["seconds"] = time.perf_counter() - started
    report["digest_matches"] = decoded.digest_matches
    segmenter = load_segmenter(task, device="cpu")
    unit = decoded.raster.astype(np.float32) / np.float32(profile.global_max)
    started = time.perf_counter()
    mask = segmenter.predict(unit)
    report["segment_seconds"] = time.perf_counter() - started
    report["f1_positive"] = f1_positive(decoded.truth_mask, mask)
report["peak_rss_mb"] = own_peak_mb()
# forked tile workers: their peak RSS, pages shared with this process included
report["tile_workers_peak_rss_mb"] = round(
    resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
)
print(json.dumps(report))
"""


def _stage(stage: str, task: str, side: int, folder: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _STAGE, stage, task, str(side), str(folder)],
        capture_output=True,
        text=True,
        timeout=1200,
        cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"},
    )
    assert done.returncode == 0, f"{stage} of the {task} scene failed: {done.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
@pytest.mark.parametrize(("task", "side"), [("cloud", 2048), ("building", 1024)])
def test_real_size_scene_goes_through_the_pipeline_in_tiles(
    task: str, side: int, make_link: Any, tmp_path: Path
) -> None:
    encoded = _stage("encode", task, side, tmp_path)
    decoded = _stage("decode", task, side, tmp_path)
    data = (tmp_path / "scene.eodl").read_bytes()
    link: Link = make_link(data_dir=tmp_path / "ground", decode_timeout_s=900.0, device="cpu")
    link.upload(f"{task}-{side}", data, task=task)
    view = link.wait(f"{task}-{side}", timeout_s=1200)
    print(
        f"\n{task} {encoded['shape']} cheng2020-gmm q2, 512-px tiles, 2 workers: "
        f"{encoded['bytes']} bytes, {encoded['bpp']:.4f} bpp, PSNR {encoded['psnr_db']:.2f} dB\n"
        f"  encode  {encoded['seconds']:7.1f} s  peak RSS {encoded['peak_rss_mb']:7.1f} MB "
        f"(each tile worker <= {encoded['tile_workers_peak_rss_mb']:.1f} MB)\n"
        f"  decode  {decoded['seconds']:7.1f} s  (tile workers <= "
        f"{decoded['tile_workers_peak_rss_mb']:.1f} MB); segment "
        f"{decoded['segment_seconds']:.1f} s; decode+segment process peak RSS "
        f"{decoded['peak_rss_mb']:.1f} MB\n"
        f"  ground  decode {view['decode_ms'] / 1000:.1f} s, segment "
        f"{view['segment_ms'] / 1000:.1f} s, F1+ {view['f1_positive']:.3f}"
    )
    assert encoded["tiled"] and decoded["digest_matches"]
    assert view["state"] == "processed", view["reason"]
    assert view["digest_verified"] is True and view["bpp"] == pytest.approx(encoded["bpp"])
    assert math.isclose(view["f1_positive"], decoded["f1_positive"], abs_tol=1e-9)


@pytest.mark.gpu
def test_tiled_container_is_processed_on_cuda(make_link: Any, segmenter_dir: Path) -> None:
    """The learned decode stays on the CPU (bit-exact); the ground segments on cuda."""
    from shared.models.segmentation import load_segmenter

    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:768, 0:640]
    field = 7000 + 2500 * np.sin(xx / 23.0) * np.cos(yy / 17.0) + rng.normal(0, 60, xx.shape)
    raster = np.clip(field, 0, 16383).astype(np.uint16)[None]
    truth = (field > 8000).astype(np.uint8)
    scene = compress_raster(
        raster,
        codec="cheng2020-gmm",
        target=RateTarget(quality=2),
        scale=16383.0,
        bit_depth=14,
        metadata={"scene_id": "tiled-gpu", "task": "cloud"},
        truth_mask=truth,
    )
    assert scene.header.tiled  # 768 x 640 is a 2 x 2 grid of 512-pixel tiles
    link: Link = make_link(device="auto", segmenter_dir=segmenter_dir)
    link.upload("t1", scene.container)
    view = link.wait("t1", timeout_s=300)
    assert view["state"] == "processed", view["reason"]
    assert view["device"].startswith("cuda") and view["digest_verified"] is True
    decoded = decompress_container(scene.container)
    assert np.array_equal(decoded.raster, scene.reconstruction)
    segmenter = load_segmenter("cloud", root=segmenter_dir, device="cuda")
    assert segmenter is not None
    mask = segmenter.predict(decoded.raster.astype(np.float32) / np.float32(16383.0))
    assert math.isclose(view["f1_positive"], f1_positive(truth, mask))
