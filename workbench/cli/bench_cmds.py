"""Benchmark commands of ``eodl``: ``bench codecs`` (throughput beside the references),
``bench container`` (what the wire format costs beyond the coded data), ``bench patches``
(a small scene alone against sent with its pass),
``bench wavefront`` (cheng2020-gmm decoders), ``bench link`` (downlink goodput per chunk size)
and ``bench ground`` (decode plus segmentation scenes per second).

Benchmarks print figures; nothing here asserts a timing.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from shared.errors import ConfigurationError

bench_app = typer.Typer(
    help="Benchmarks: codecs beside the references, the downlink, the ground's processing.",
    no_args_is_help=True,
)


def parse_int_list(text: str, option: str) -> list[int]:
    """``"16,64,256"`` -> ``[16, 64, 256]``.

    Raises:
        ConfigurationError: an item is not an integer.
    """
    try:
        return [int(item) for item in text.replace(" ", "").split(",") if item]
    except ValueError as exc:
        raise ConfigurationError(
            f"{option} takes integers separated by commas, e.g. {option} 1,4,16; got {text!r}"
        ) from exc


def emit_rows(rows: list[Any], as_json: bool, table: str, note: str) -> None:
    """Print ``rows`` as JSON (each row's ``as_dict()``), or ``table`` and then ``note``."""
    if as_json:
        typer.echo(json.dumps([row.as_dict() for row in rows], indent=2))
        return
    typer.echo(table)
    typer.echo("note: " + note)


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
    shipped: Annotated[
        bool,
        typer.Option(
            "--shipped",
            help="Time the trained learned checkpoints shipped per task (onboard figures), "
            "not untrained ones at --width.",
        ),
    ] = False,
) -> None:
    """Encode/decode megapixels and megasamples per second, peak RSS, and the references."""
    from workbench.bench.codecs import UNTRAINED_NOTE, default_cases, run_cases
    from workbench.bench.report import codec_table

    if threads < 1:
        raise ConfigurationError(f"--threads must be >= 1, got {threads}")
    cases = default_cases(quick, threads, width, codec, profile, shipped)
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


@bench_app.command("container")
def container(
    scenes: Annotated[int, typer.Option("--scenes", help="Scenes per task and codec.")] = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of rows.")] = False,
) -> None:
    """Container bytes beyond the entropy-coded data, format version 1 against version 2."""
    from workbench.bench.container import CASES, measure, overhead_table

    if scenes < 1:
        raise ConfigurationError(f"--scenes must be >= 1, got {scenes}")
    rows = [measure(*case, count=scenes) for case in CASES]
    emit_rows(
        rows,
        as_json,
        overhead_table(rows),
        "mean bytes per scene; 'coded' is the entropy-coded data (JPEG 2000 packets "
        "between SOD and EOC, learned rANS strings); 'over' = container - coded. v1 as the "
        "satellite wrote it (its metadata, learned payload v4), v2 as it writes now (the "
        "onboard PSNR and scene facts travel in the transfer announcement). Sidecar excluded.",
    )


@bench_app.command("patches")
def patches(
    count: Annotated[int, typer.Option("--count", help="Fire patches in one pass.")] = 64,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of rows.")] = False,
) -> None:
    """Link bytes per 32x32 fire patch sent alone and sent together with its pass."""
    from workbench.bench.patches import CASES, measure, patch_table

    if not 2 <= count <= 1024:
        raise ConfigurationError(f"--count must be in 2..1024, got {count}")
    rows = [row for codec, target in CASES for row in measure(codec, target, count)]
    emit_rows(
        rows,
        as_json,
        patch_table(rows),
        "mean bytes per patch; 'container' counts what bpp counts (no sidecar); 'link' adds "
        "the transfer's announcement and commit bodies and 512 bytes of HTTP headers for each "
        "of its 3 requests (create, chunk, commit), shared by the patches sent together",
    )


@bench_app.command("wavefront")
def wavefront(
    width: Annotated[int, typer.Option("--width", help="cheng2020-gmm width N.")] = 128,
    repeats: Annotated[int, typer.Option("--repeats", help="Timed decodes per decoder.")] = 3,
) -> None:
    """cheng2020-gmm decode: raster loop vs wavefront (1x256x256 and 10x128x128)."""
    from workbench.bench.wavefront import SHAPES, format_timing, time_decoders

    if repeats < 1 or width < 4:
        raise ConfigurationError(f"need --repeats >= 1 and --width >= 4, got {repeats}, {width}")
    for shape in SHAPES:
        typer.echo(format_timing(time_decoders(shape, width, repeats)))


@bench_app.command("link")
def link(
    rate_bps: Annotated[float, typer.Option("--rate-bps", help="Link rate, bit/s.")] = 2e6,
    chunk_kib: Annotated[
        str, typer.Option("--chunk-kib", help="Chunk sizes in KiB, comma-separated.")
    ] = "16,64,256,1024",
    seconds: Annotated[
        float, typer.Option("--seconds", help="Link time per chunk size, seconds.")
    ] = 10.0,
    rtt_ms: Annotated[
        str, typer.Option("--rtt-ms", help="Round-trip times in ms, comma-separated.")
    ] = "0",
    grid: Annotated[
        bool,
        typer.Option(
            "--grid",
            help="2, 50 and 150 Mbit/s against 0, 30 and 600 ms at the satellite's own chunk "
            "size (ignores --rate-bps, --chunk-kib and --rtt-ms).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of rows.")] = False,
) -> None:
    """Downlink goodput against the link rate per chunk size and round trip (ground on
    loopback, real sender, in-process link emulation)."""
    from workbench.bench.link import link_table, run_link_bench, run_link_grid

    if grid:
        rows = run_link_grid([2e6, 50e6, 150e6], [0.0, 30.0, 600.0], seconds)
    else:
        rtts = [float(v) for v in parse_int_list(rtt_ms, "--rtt-ms")]
        rows = run_link_bench(
            rate_bps, parse_int_list(chunk_kib, "--chunk-kib"), seconds, rtts_ms=rtts
        )
    emit_rows(
        rows,
        as_json,
        link_table(rows),
        "always-up link; goodput counts the chunk bytes the ground acknowledged over about "
        "--seconds after a warm-up (the link's saved burst and two round trips after the first "
        "acknowledgement; 'first ack s': the start-up before it, a create and a chunk, each a "
        "round trip); each request is "
        "charged 512 bytes of headers, the 'ceiling' that 'of ceiling' divides by; the round "
        "trip is emulated in process (half each way); 'window' is the chunk PUTs the sender "
        "allowed in flight; 'resent' and 'retries' count chunks sent twice and failed requests",
    )


@bench_app.command("ground")
def ground(
    task: Annotated[
        list[str] | None, typer.Option("--task", help="Only this task (repeatable).")
    ] = None,
    batch: Annotated[
        str, typer.Option("--batch", help="Segmentation batch sizes, comma-separated.")
    ] = "1,4,16",
    device: Annotated[
        str | None, typer.Option("--device", help="cpu or cuda (default: cpu, and cuda if any).")
    ] = None,
    scenes: Annotated[
        int | None,
        typer.Option("--scenes", help="Scenes per task (default: largest batch, at least 4)."),
    ] = None,
    worker: Annotated[
        bool, typer.Option("--worker", help="Decode in the ground's per-transfer worker process.")
    ] = False,
    path: Annotated[
        bool,
        typer.Option(
            "--path",
            help="Sustained scenes/s from receipt to record through the ground as processes: "
            "the single process on SQLite, then one receiver and --workers workers on "
            "PostgreSQL.",
        ),
    ] = False,
    workers: Annotated[
        str, typer.Option("--workers", help="With --path: worker counts, comma-separated.")
    ] = "1,2",
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of rows.")] = False,
) -> None:
    """Ground decode plus segmentation throughput, scenes per second, batched; with --path,
    through the whole ground (receipt to record)."""
    from shared.sensors.profiles import TASKS
    from workbench.bench.ground import ground_table, run_ground_bench

    tasks = list(task or TASKS)
    if path:
        _ground_path(tasks, parse_int_list(workers, "--workers"), scenes, device, as_json)
        return
    rows = run_ground_bench(tasks, parse_int_list(batch, "--batch"), device, worker, scenes)
    emit_rows(
        rows,
        as_json,
        ground_table(rows),
        "decoding runs on the CPU (bit-exact with the satellite) and per container, so a "
        "task's decode figure is the same in each row; --device and --batch apply to the U-Net",
    )


def _ground_path(
    tasks: list[str], workers: list[int], scenes: int | None, device: str | None, as_json: bool
) -> None:
    from workbench.bench.ground_path import path_table, run_path_bench

    rows = run_path_bench(tasks, workers, scenes, device or "cpu")
    emit_rows(
        rows,
        as_json,
        path_table(rows),
        "scenes/s = scenes / (last processed_at - first committed_at), the database's "
        "timestamps; uploads go as fast as the receiver takes them, so processing always has a "
        "queue; 'claims' counts processing starts (scenes + retries)",
    )


def register(app: typer.Typer) -> None:
    """Add the ``bench`` command group to the ``eodl`` app."""
    app.add_typer(bench_app, name="bench")
