"""Learned-codec containers decode in the worker with the ground's own weights, checked by hash."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gs_support import Link

from shared.codecs.base import RateTarget
from shared.compression import compress_raster

pytestmark = pytest.mark.slow  # the worker imports torch and CompressAI: ~10 s per decode here


@pytest.fixture(scope="module")
def codec_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real (untrained, seeded) 1-band factorized-prior checkpoint."""
    checkpoint = pytest.importorskip("shared.codecs.learned.checkpoint")
    root = tmp_path_factory.mktemp("codec-checkpoints")
    checkpoint.init_checkpoint("factorized-prior", 1, 1, root / "fp-q1", seed=0)
    return root


def _learned_container(codec_dir: Path) -> bytes:
    from shared.codecs.learned.checkpoint import CheckpointStore

    rng = np.random.default_rng(3)
    raster = (6000 + rng.normal(0, 300, (1, 64, 64))).clip(0, 16383).astype(np.uint16)
    scene = compress_raster(
        raster,
        codec="factorized-prior",
        target=RateTarget(quality=1),
        scale=16383.0,
        bit_depth=14,
        metadata={"scene_id": "fp", "task": "cloud"},
        checkpoints=CheckpointStore([codec_dir]),
    )
    return scene.container


def test_learned_container_is_decoded_with_matching_weights(
    make_link, codec_dir: Path, tmp_path: Path
) -> None:
    data = _learned_container(codec_dir)
    link: Link = make_link(codec_checkpoint_dir=codec_dir, segmenter_dir=tmp_path / "none")
    link.upload("fp1", data)
    view = link.wait("fp1", timeout_s=120)
    assert view["state"] == "processed", view["reason"]
    assert view["codec"] == "factorized-prior" and view["model_id"] == 1
    assert view["digest_verified"] is True
    assert view["bpp"] == len(data) * 8 / (64 * 64)


def test_weights_the_ground_lacks_fail_the_transfer(
    make_link, codec_dir: Path, tmp_path: Path
) -> None:
    data = _learned_container(codec_dir)
    empty = tmp_path / "empty"
    empty.mkdir()
    link: Link = make_link(codec_checkpoint_dir=empty, segmenter_dir=tmp_path / "none")
    link.upload("fp2", data)
    view = link.wait("fp2", timeout_s=120)
    assert view["state"] == "failed"
    assert view["reason"].startswith("WeightsMismatchError"), view["reason"]
