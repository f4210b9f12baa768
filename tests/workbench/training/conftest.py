"""Tiny generated datasets shared by the training tests (made once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def fire_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 generated fire patches (32 x 32, 1 band): enough for a train and a validation split."""
    from workbench.datasets.generate import write_dataset

    out = tmp_path_factory.mktemp("fire")
    write_dataset("fire", 24, 5, out)
    return out


@pytest.fixture(scope="session")
def building_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 generated building tiles (128 x 128, 10 bands)."""
    from workbench.datasets.generate import write_dataset

    out = tmp_path_factory.mktemp("building")
    write_dataset("building", 12, 6, out)
    return out


@pytest.fixture(scope="session")
def fire_codec(fire_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A tiny cheng2020-gmm (N=8) trained four epochs on the fire patches: (path, manifest)."""
    from workbench.training.codec import CodecTrainConfig, train_codec

    out = tmp_path_factory.mktemp("codec") / "fire-gmm-q2"
    config = CodecTrainConfig(
        task="fire",
        data=fire_dir,
        out=out,
        model="cheng2020-gmm",
        quality=2,
        lmbda=200.0,
        N=8,
        epochs=4,
        batch_size=8,
        lr=3e-3,
        patience=10,
        seed=1,
        device="cpu",
        command="test",
    )
    return out, train_codec(config)


@pytest.fixture(scope="session")
def fire_segmenter(fire_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny mobilenet_v2 U-Net trained two epochs on the fire patches."""
    from workbench.training.segmenter import SegmenterTrainConfig, train_segmenter

    out = tmp_path_factory.mktemp("segmenter") / "fire"
    train_segmenter(
        SegmenterTrainConfig(
            task="fire",
            data=fire_dir,
            out=out,
            encoder="mobilenet_v2",
            encoder_depth=3,
            decoder_channels=(16, 8, 8),
            epochs=2,
            batch_size=8,
            lr=3e-3,
            seed=2,
            device="cpu",
        )
    )
    return out
