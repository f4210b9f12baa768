"""`eodl experiment NAME --task T [--quick | --standard] [--out DIR]`: reproduce the paper's study.

Three sizes (``workbench/experiments/settings.py``): ``--quick`` (a smoke run of minutes),
``--standard`` (~45 min of one CPU core; codecs train enough to be compared with JPEG 2000)
and, with neither flag, the paper-scale full run (a GPU's hours to days).

Each experiment writes its CSV, PNG plots and markdown section into ``--out`` and resumes
after an interruption (finished rows in the CSV are skipped; trained checkpoints under
``OUT/work/`` are reused). ``all`` runs every experiment and assembles ``report.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXPERIMENT_HELP = "baseline, rd, seg-vs-rate, joint, roi, budget or all"


def experiment_cmd(
    name: Annotated[str, typer.Argument(help=EXPERIMENT_HELP, show_default=False)],
    task: Annotated[str, typer.Option("--task", help="fire, cloud, building or all")] = "all",
    quick: Annotated[
        bool, typer.Option("--quick", help="tiny data and models, a few minutes on 2 cores")
    ] = False,
    standard: Annotated[
        bool,
        typer.Option("--standard", help="mid-size data and models, ~45 min of one CPU core"),
    ] = False,
    out: Annotated[Path, typer.Option("--out", help="results folder")] = Path("results"),
    codecs: Annotated[
        str | None,
        typer.Option("--codecs", help="comma-separated learned codecs for rd (default: by mode)"),
    ] = None,
    threads: Annotated[
        int | None, typer.Option("--threads", help="torch CPU threads (default: torch's)")
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="seed of the data split and the weights (default: by mode)"),
    ] = None,
    shipped_codec: Annotated[
        bool,
        typer.Option(
            "--shipped-codec",
            help="seg-vs-rate: the shipped variable-rate cheng2020-gmm at qualities 1..6, "
            "not the codecs rd trains",
        ),
    ] = False,
    every_rate: Annotated[
        bool,
        typer.Option("--every-rate", help="seg-vs-rate at every rate point, not a subset"),
    ] = False,
) -> None:
    """Run one experiment of the paper (or all) and write CSV, PNG and markdown."""
    from shared.errors import ConfigurationError
    from workbench.experiments.catalog import expand_experiments, run_experiment
    from workbench.experiments.report import write_report
    from workbench.experiments.settings import (
        expand_tasks,
        get_settings,
        with_codecs,
        with_options,
    )

    names, tasks = expand_experiments(name), expand_tasks(task)
    settings = get_settings(quick, standard)
    if codecs is not None:
        settings = with_codecs(settings, tuple(c.strip() for c in codecs.split(",") if c.strip()))
    settings = with_options(settings, seed, shipped_codec, every_rate)
    if threads is not None:
        if threads < 1:
            raise ConfigurationError(f"--threads must be at least 1, got {threads}")
        import torch

        torch.set_num_threads(threads)
    for experiment in names:
        section = run_experiment(experiment, out, tasks, settings)
        typer.echo(f"{experiment}: wrote {section}")
    command = f"eodl experiment {name} --task {task}"
    command += f" --{settings.mode}" if quick or standard else ""
    command += f" --out {out}" + (f" --codecs {codecs}" if codecs else "")
    command += f" --threads {threads}" if threads is not None else ""
    command += f" --seed {seed}" if seed is not None else ""
    command += " --shipped-codec" if shipped_codec else ""
    command += " --every-rate" if every_rate else ""
    typer.echo(f"report: {write_report(out, settings.mode, command)}")


def register(app: typer.Typer) -> None:
    """Add the `experiment` command to the `eodl` app."""
    app.command("experiment")(experiment_cmd)
