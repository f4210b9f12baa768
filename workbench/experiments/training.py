"""Trained models the experiments need, made once per workspace with the project's trainers.

Nothing here is a training loop: codecs come from :func:`workbench.training.codec.train_codec`,
U-Nets from :func:`workbench.training.segmenter.train_segmenter`. A checkpoint already present in
the workspace is reused, which is what makes a rerun resume instead of retraining.
"""

from __future__ import annotations

from pathlib import Path

import torch

from workbench.experiments.settings import RunSettings


def device() -> str:
    """``cuda`` when a GPU is present, else ``cpu``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def _done(path: Path) -> bool:
    return path.with_name(path.name + ".json").is_file()


def codec_config(
    task: str,
    data: Path,
    out: Path,
    architecture: str,
    quality: int,
    lmbda: float,
    settings: RunSettings,
) -> object:
    """The :class:`CodecTrainConfig` of one rate point under the run's settings."""
    from workbench.training.codec import CodecTrainConfig

    width = None if settings.codec_widths is None else settings.codec_widths[quality]
    return CodecTrainConfig(
        task=task,
        data=data,
        out=out,
        model=architecture,
        quality=quality,
        lmbda=lmbda,
        N=width,
        M=None if width is None or architecture.startswith("cheng2020") else width,
        epochs=settings.codec_epochs,
        batch_size=settings.batch_size,
        lr=settings.lr,
        patience=settings.codec_epochs,
        max_steps=settings.codec_steps,
        crop=settings.crops[task],
        eval_limit=4,
        seed=settings.seed,
        device=device(),
        resume=True,
        command=f"eodl experiment ({settings.mode} mode) codec {architecture} q{quality}",
    )


def ensure_codec(
    task: str,
    data: Path,
    out: Path,
    architecture: str,
    quality: int,
    lmbda: float,
    settings: RunSettings,
    init_from: Path | None = None,
) -> Path:
    """Train one rate point of a learned codec into ``out`` unless it is there already.

    Args:
        init_from: a checkpoint of the same architecture (possibly another band count) whose
            inner layers start the training: the transfer strategy of the paper's Fig. 3b.
    """
    from workbench.training.codec import train_codec

    if not _done(out):
        config = codec_config(task, data, out, architecture, quality, lmbda, settings)
        if init_from is not None:
            from workbench.experiments.transfer import write_warm_start

            write_warm_start(config, init_from)
        train_codec(config)  # type: ignore[arg-type]
    return out


def ensure_segmenter(
    task: str, data: Path, out: Path, backbone: str, settings: RunSettings
) -> Path:
    """Train a U-Net on a folder into ``out`` unless it is there already."""
    from workbench.training.segmenter import SegmenterTrainConfig, train_segmenter

    if not _done(out):
        config = SegmenterTrainConfig(
            task=task,
            data=data,
            out=out,
            encoder=backbone,
            encoder_depth=settings.seg_depth,
            decoder_channels=settings.seg_channels,
            epochs=settings.seg_epochs,
            batch_size=settings.batch_size,
            lr=settings.lr,
            patience=max(3, settings.seg_epochs // 4),
            pos_weight=1.0,
            max_steps=settings.seg_steps,
            crop=settings.crops[task],
            seed=settings.seed,
            device=device(),
            resume=True,
            command=f"eodl experiment ({settings.mode} mode) segmenter {task} {backbone}",
        )
        train_segmenter(config)
    return out
