"""Rate-distortion (paper, Fig. 3): PSNR against real bpp, JPEG 2000 against every learned codec
trained from scratch, plus, on the 10-band building profile, the paper's transfer strategy.

Every bpp is measured from the containers :func:`shared.compression.compress_raster` writes for
the held-out scenes (container bits over H x W); the payload-only figure goes to
``rd-payload.csv`` beside ``rd.csv``. The ``quality`` column is the learned codec's quality level
(one trained checkpoint, lambda rising with it) or, for ``jpeg2000``, the target bpp asked for.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tqdm.auto import tqdm

from shared.codecs.base import RateTarget
from shared.errors import RateTargetError
from workbench.experiments.data import ensure_task_data
from workbench.experiments.runner import ResultsTable, Workspace
from workbench.experiments.settings import PAPER_CODEC, RunSettings
from workbench.experiments.training import ensure_codec

COLUMNS = ("task", "codec", "quality", "bpp", "bits_per_sample", "psnr_db")
PAYLOAD_COLUMNS = ("task", "codec", "quality", "payload_bpp")
KEY = ("task", "codec", "quality")
#: The building codec fine-tuned from a model pretrained on the cloud profile.
CLASSICAL_CODECS = ("jpeg2000", "jpeg2000-spectral", "jpeg-xl")  # at the same target rates
TRANSFER_SOURCE = "cloud"
TRANSFER_CODEC = f"{PAPER_CODEC}+{TRANSFER_SOURCE}-finetuned"


def tables(out: Path) -> tuple[ResultsTable, ResultsTable]:
    """(rd.csv, rd-payload.csv) of an output folder."""
    return (
        ResultsTable(out / "rd.csv", COLUMNS, KEY),
        ResultsTable(out / "rd-payload.csv", PAYLOAD_COLUMNS, KEY),
    )


def codec_checkpoint(ws: Workspace, task: str, codec: str, quality: int) -> Path:
    """Where the rate point ``quality`` of a learned codec for a task is trained."""
    return ws.checkpoint("codec", task, f"{codec}-q{quality}")


def _record(
    tabs: tuple[ResultsTable, ResultsTable], task: str, codec: str, quality: object, point: dict
) -> None:
    row = {"task": task, "codec": codec, "quality": quality}
    tabs[0].append({**row, **{k: point[k] for k in COLUMNS[3:]}})
    if not tabs[1].has(**row):
        tabs[1].append({**row, "payload_bpp": point["payload_bpp"]})


def _classical(tabs: tuple, task: str, test: Path, settings: RunSettings, codec: str) -> None:
    """A classical codec at the JPEG 2000 targets (the same rates for every classical one)."""
    from workbench.training.evaluate import measure_rate_point

    for target in settings.jpeg2000_bpps[task]:
        if tabs[0].has(task=task, codec=codec, quality=target):
            continue
        try:
            point = measure_rate_point(codec, task, test, RateTarget(bpp=target))
        except RateTargetError as exc:
            print(f"{task} {codec}: {target} bpp is unreachable, skipped ({exc})", file=sys.stderr)
            continue
        _record(tabs, task, codec, target, point)


def _references(tabs: tuple, task: str, test: Path) -> None:
    """The band-mean and 16 x 16 block-mean points (:mod:`workbench.experiments.references`)."""
    from shared.sensors.profiles import get_profile
    from workbench.experiments.references import BAND_MEAN, reference_rows
    from workbench.training.evaluate import iter_scenes

    if tabs[0].has(task=task, codec=BAND_MEAN, quality=""):
        return
    for row in reference_rows(task, iter_scenes(test, None), get_profile(task)):
        _record(tabs, task, row["codec"], "", row)


def _learned(
    tabs: tuple,
    ws: Workspace,
    task: str,
    codec: str,
    label: str,
    settings: RunSettings,
    init_task: str | None = None,
) -> None:
    from workbench.training.evaluate import measure_codec_checkpoint

    train, test = ensure_task_data(ws, task, settings)
    points = tqdm(settings.rate_points, desc=f"rd {task} {label}", unit="point", leave=False)
    for quality, lmbda in points:
        if tabs[0].has(task=task, codec=label, quality=quality):
            continue
        init_from = None
        if init_task is not None:
            source_train, _ = ensure_task_data(ws, init_task, settings)
            init_from = ensure_codec(
                init_task,
                source_train,
                codec_checkpoint(ws, init_task, codec, quality),
                codec,
                quality,
                lmbda,
                settings,
            )
        ckpt = codec_checkpoint(ws, task, label, quality)
        ensure_codec(task, train, ckpt, codec, quality, lmbda, settings, init_from=init_from)
        point = measure_codec_checkpoint(ckpt, codec, quality, task, test)
        _record(tabs, task, label, quality, point)


def run_rd(out: Path, tasks: tuple[str, ...], settings: RunSettings) -> ResultsTable:
    """Measure every rate point of every codec for each task; resumes from ``rd.csv``."""
    ws, tabs = Workspace(out), tables(out)
    for task in tqdm(tasks, desc="rd", unit="task"):
        _, test = ensure_task_data(ws, task, settings)
        for classical in CLASSICAL_CODECS:
            _classical(tabs, task, test, settings, classical)
        _references(tabs, task, test)
        for codec in settings.codecs:
            _learned(tabs, ws, task, codec, codec, settings)
        if task == "building" and PAPER_CODEC in settings.codecs:
            _learned(
                tabs, ws, task, PAPER_CODEC, TRANSFER_CODEC, settings, init_task=TRANSFER_SOURCE
            )
    return tabs[0]
