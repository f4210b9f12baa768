"""``eodl demo``: the whole system on loopback, with embedded defaults."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_DATA_DIR = Path("demo-data")


def demo(
    scenes: Annotated[int, typer.Option(help="scenes per task", min=1, max=50)] = 2,
    data_dir: Annotated[Path, typer.Option(help="where both services keep their data")] = (
        DEFAULT_DATA_DIR
    ),
    exit_after: Annotated[
        bool, typer.Option("--exit", help="stop both services when the run is done")
    ] = False,
    link_rate: Annotated[float, typer.Option(help="S-band link rate, bit/s")] = 2_000_000,
    pass_period: Annotated[float, typer.Option(help="seconds between pass starts")] = 12.0,
    pass_duration: Annotated[float, typer.Option(help="seconds each pass lasts")] = 8.0,
    seed: Annotated[int, typer.Option(help="seed of the generated scenes")] = 2026,
    timeout: Annotated[float, typer.Option(help="give up after this many seconds")] = 600.0,
) -> None:
    """Start ground and satellite, downlink generated scenes of every task, print the figures."""
    from shared.protocol.tokens import new_token
    from workbench.demo.processes import (
        free_port,
        new_link_key,
        prepare_data_dir,
        start_service,
        wait_ready,
    )
    from workbench.demo.reference import clean_rows
    from workbench.demo.report import format_table, summarise
    from workbench.demo.scenario import upload_scenes, wait_for_transfers

    started = time.monotonic()
    prepare_data_dir(data_dir)
    key = new_link_key()
    uploader_token, uploader = new_token("demo-uploader", "uploader", alerts=True)
    reader_token, reader = new_token("demo-reader", "reader")
    gs_port, sat_port = free_port(), free_port()
    logs = data_dir / "logs"
    ground = start_service(
        "ground",
        ["ground", "serve", "--port", str(gs_port), "--data-dir", str(data_dir / "ground")],
        gs_port,
        {"GS_LINK_KEY": key, "GS_READ_TOKENS": f"[{reader.model_dump_json()}]"},
        logs,
    )
    satellite = start_service(
        "satellite",
        [
            "satellite",
            "serve",
            "--port",
            str(sat_port),
            "--ground-url",
            ground.url,
            "--data-dir",
            str(data_dir / "satellite"),
            "--link-rate",
            str(link_rate),
            "--pass-period",
            str(pass_period),
            "--pass-duration",
            str(pass_duration),
        ],
        sat_port,
        {"SAT_LINK_KEY": key, "SAT_API_TOKENS": f"[{uploader.model_dump_json()}]"},
        logs,
    )
    try:
        wait_ready(ground)
        wait_ready(satellite)
        typer.echo(f"ground {ground.url}, satellite {satellite.url}; logs in {logs}")
        uploads = upload_scenes(satellite.url, uploader_token, scenes, seed)
        typer.echo(
            f"uploaded {len(uploads)} scenes; downlinking through {link_rate / 1e6:g} "
            f"Mbit/s passes of {pass_duration:g} s every {pass_period:g} s ..."
        )
        records = wait_for_transfers(ground.url, reader_token, len(uploads), timeout)
        rows = records + clean_rows(scenes, seed)
        typer.echo(format_table(rows))
        typer.echo(
            "\nper task and codec (processed transfers; uncompressed: the same U-Net on the "
            "original scenes):"
        )
        typer.echo(format_table(summarise(rows)))
        typer.echo(f"\n{len(records)} transfers in {time.monotonic() - started:.0f} s")
        if exit_after:
            return
        typer.echo(f"dashboard: {ground.url}/   (Ctrl-C stops both services)")
        typer.echo(f"sign in with this run's reader token: {reader_token}")
        while ground.process.poll() is None and satellite.process.poll() is None:
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        satellite.stop()
        ground.stop()


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the ``eodl`` command line."""
    app.command("demo")(demo)
