"""`eodl data generate` and `eodl data stats`: make synthetic datasets and check folders."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

PROGRESS_MIN_COUNT = 50


class TaskChoice(StrEnum):
    """The tasks a dataset can be generated for (the sensor profiles)."""

    fire = "fire"
    cloud = "cloud"
    building = "building"


def generate(
    task: Annotated[TaskChoice, typer.Option(help="sensor profile / segmentation task")],
    count: Annotated[int, typer.Option(min=1, help="number of scenes")],
    seed: Annotated[int, typer.Option(min=0, help="dataset seed (same seed, same bytes)")],
    out: Annotated[Path, typer.Option(help="folder to write scenes and index.json into")],
) -> None:
    """Generate COUNT synthetic scenes of TASK into OUT (<id>.npy, <id>.mask.npy, index.json)."""
    from workbench.datasets.generate import write_dataset

    started = time.perf_counter()
    entries = write_dataset(task.value, count, seed, out, progress=count >= PROGRESS_MIN_COUNT)
    elapsed = time.perf_counter() - started
    mean_fraction = sum(e.mask_fraction for e in entries) / len(entries)
    typer.echo(
        f"wrote {len(entries)} {task.value} scenes to {out} in {elapsed:.2f} s "
        f"({1000 * elapsed / len(entries):.1f} ms/scene); mean mask fraction {mean_fraction:.4f}"
    )


def stats(
    folder: Annotated[Path, typer.Argument(help="a folder written by `eodl data generate`")],
) -> None:
    """Print per-band min/mean/max, the mask-fraction distribution and mismatching files.

    Exits with code 1 when any file does not fit its profile (each is listed as MISMATCH).
    """
    from workbench.datasets.stats import dataset_stats, format_stats

    report = dataset_stats(folder)
    typer.echo(format_stats(report))
    if report.problems:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add the `data` sub-app to the `eodl` app."""
    data_app = typer.Typer(help="Synthetic datasets and dataset checks.", no_args_is_help=True)
    data_app.command("generate")(generate)
    data_app.command("stats")(stats)
    app.add_typer(data_app, name="data")
