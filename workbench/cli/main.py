"""The `eodl` command line: one Typer app carrying every job.

Domain errors end the command with one line on stderr (what was wrong, how to fix it) and a
non-zero exit code, never a traceback.
"""

from __future__ import annotations

import sys

import typer

from shared.errors import EODownlinkError

app = typer.Typer(
    name="eodl",
    help="EO Downlink: compress Earth-observation rasters onboard, judge them on the ground.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


COMMAND_MODULES = (
    "codec_cmds",
    "data_cmds",
    "train_cmds",
    "satellite_cmds",
    "ground_cmds",
    "bench_cmds",
    "experiment_cmds",
    "demo_cmd",
)


def _register() -> None:
    import importlib

    for name in COMMAND_MODULES:
        module = importlib.import_module(f"workbench.cli.{name}")
        module.register(app)


def main() -> None:
    """Entry point of the console script.

    Typer's standalone mode prints usage errors and turns exit codes into ``SystemExit``; our
    domain errors pass through it and are printed here as one line.
    """
    _register()
    try:
        app()
    except EODownlinkError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
