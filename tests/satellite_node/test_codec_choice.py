"""`auto` picks the learned codec with the best measured rate-distortion on the task."""

from __future__ import annotations

from pathlib import Path

import pytest

from satellite_node.codec_choice import choose_codec
from shared.codecs.base import RateTarget
from shared.codecs.learned.architectures import build_model
from shared.codecs.learned.checkpoint import CheckpointStore, save_checkpoint


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> CheckpointStore:
    root = tmp_path_factory.mktemp("checkpoints")
    points = [  # (architecture, quality, task, trained, bpp, psnr_db)
        ("factorized-prior", 1, "cloud", True, 0.30, 35.0),
        ("scale-hyperprior", 2, "cloud", True, 0.60, 39.0),
        ("mean-scale-hyperprior", 2, "fire", True, 0.60, 45.0),  # another task
        ("mean-scale-hyperprior", 1, "cloud", False, 0.10, 60.0),  # untrained
    ]
    for arch, quality, task, trained, bpp, psnr in points:
        model = build_model(arch, 1, quality, 8, 8)
        save_checkpoint(
            model,
            root / f"{arch}-q{quality}-{task}",
            {
                "architecture": arch,
                "quality": quality,
                "task": task,
                "trained": trained,
                "metrics": {"bpp": bpp, "psnr_db": psnr},
            },
        )
    checkpoints = CheckpointStore(root)
    checkpoints.roots = [root]  # only these, not the shipped ones
    return checkpoints


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (RateTarget(bpp=0.5), "factorized-prior"),
        (RateTarget(bpp=1.0), "scale-hyperprior"),
        (RateTarget(bpp=0.05), "factorized-prior"),  # nothing that low: the lowest-rate point
        (RateTarget(quality=1), "factorized-prior"),
        (RateTarget(lossless=True), "jpeg2000"),
    ],
)
def test_auto_follows_the_measured_rate_distortion(
    store: CheckpointStore, target: RateTarget, expected: str
) -> None:
    assert choose_codec("auto", "cloud", store, target).name == expected


def test_auto_without_measured_checkpoints_falls_back_with_a_reason(
    store: CheckpointStore,
) -> None:
    choice = choose_codec("auto", "building", store, RateTarget(bpp=1.0))
    assert choice.name == "jpeg2000" and "no learned checkpoint" in choice.reason


def test_a_named_codec_is_kept(store: CheckpointStore, tmp_path: Path) -> None:
    assert choose_codec("jpeg2000", "cloud", store, RateTarget(bpp=0.5)).name == "jpeg2000"
