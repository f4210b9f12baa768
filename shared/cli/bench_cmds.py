"""Benchmark commands of ``eodl``: ``bench codecs`` (throughput beside the references).

Benchmarks print figures; nothing here asserts a timing.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from shared.errors import ConfigurationError

bench_app = typer.Typer(
    help="Benchmarks: codec throughput beside reference implementations.", no_args_is_help=True
)


@bench_app.command("codecs")
def codecs(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of rows.")] = False,
    threads: Annotated[int, typer.Option("--threads", help="CPU threads (references, J2K).")] = 1,
    quick: Annotated[
        bool, typer.Option("--quick", help="jpeg2000 and cheng2020-gmm on the fire profile.")
    ] = False,
    codec: Annotated[
        list[str] | None, typer.Option("--codec", help="Only this codec (repeatable).")
    ] = None,
    profile: Annotated[
        list[str] | None, typer.Option("--profile", help="Only this sensor profile (repeatable).")
    ] = None,
    width: Annotated[int, typer.Option("--width", help="Learned models' width N.")] = 16,
) -> None:
    """Encode/decode megapixels and megasamples per second, peak RSS, and the references."""
    from shared.bench.codecs import UNTRAINED_NOTE, default_cases, run_cases
    from shared.bench.report import codec_table

    if threads < 1:
        raise ConfigurationError(f"--threads must be >= 1, got {threads}")
    cases = default_cases(quick, threads, width, codec, profile)
    rows = run_cases(cases)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(codec_table(rows))
    if any(row["untrained"] for row in rows):
        typer.echo("note: " + UNTRAINED_NOTE.format(n=width))
    typer.echo(
        "note: device cpu only; the learned codecs refuse cuda (their coding must reproduce "
        "the CPU's bits). Learned encode includes decoding its own payload."
    )


@bench_app.command("wavefront")
def wavefront(
    width: Annotated[int, typer.Option("--width", help="cheng2020-gmm width N.")] = 128,
    repeats: Annotated[int, typer.Option("--repeats", help="Timed decodes per decoder.")] = 3,
) -> None:
    """cheng2020-gmm decode: raster loop vs wavefront (1x256x256 and 10x128x128)."""
    from shared.bench.wavefront import SHAPES, format_timing, time_decoders

    if repeats < 1 or width < 4:
        raise ConfigurationError(f"need --repeats >= 1 and --width >= 4, got {repeats}, {width}")
    for shape in SHAPES:
        typer.echo(format_timing(time_decoders(shape, width, repeats)))


def register(app: typer.Typer) -> None:
    """Add the ``bench`` command group to the ``eodl`` app."""
    app.add_typer(bench_app, name="bench")
