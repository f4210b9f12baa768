"""Codec commands of ``eodl``: ``codecs``, ``encode``, ``decode`` and ``inspect``.

Scripts rely on these names and options. Exit codes: 0 success, 2 a domain error (one line on
stderr, from ``workbench.cli.main``), 3 ``decode`` wrote a raster whose digest does not match the
encoder's, 1 ``inspect`` found a container that is not intact.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from shared.codecs.base import RateTarget
from shared.codecs.registry import all_codecs, codec_info
from shared.durable import atomic_write
from shared.errors import ConfigurationError, ContainerError
from shared.wire.container import (
    DEFAULT_MAX_CONTAINER_BYTES,
    check_lengths,
    compute_checksum,
    read_header,
)
from shared.wire.format_v2 import patch_count, rebuild_payload
from shared.wire.header import ContainerHeader
from shared.wire.patches import split_patches

# SystemExit, not typer.Exit: under ``standalone_mode=False`` click returns typer.Exit's code
# instead of raising it, and ``workbench.cli.main`` does not pass that return value on. Bad
# arguments raise ConfigurationError (printed as one ``error:`` line by ``workbench.cli.main``).
EXIT_DIGEST_MISMATCH = 3
EXIT_NOT_INTACT = 1

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]
CheckpointsOption = Annotated[
    Path | None,
    typer.Option("--checkpoints", help="Folder of learned-codec checkpoints (safetensors)."),
]


def _check_output(path: Path) -> None:
    if not path.parent.is_dir():
        raise ConfigurationError(f"output folder {path.parent} does not exist; create it first")


def _write_atomically(path: Path, data: bytes) -> None:
    _check_output(path)
    atomic_write(path, data)


def _read_container_file(path: Path) -> bytes:
    if not path.is_file():
        raise ConfigurationError(f"container file {path} does not exist; check the path")
    size = path.stat().st_size
    if size > DEFAULT_MAX_CONTAINER_BYTES:
        raise ContainerError(
            f"{path.name} is {size} bytes, over the {DEFAULT_MAX_CONTAINER_BYTES}-byte cap; "
            "this is not a single-scene container"
        )
    return path.read_bytes()


def _checkpoint_store(folder: Path | None) -> Any:
    """A CheckpointStore searching ``folder`` first, or ``None`` for the codec's default."""
    if folder is None:
        return None
    if not folder.is_dir():
        raise ConfigurationError(f"checkpoint folder {folder} does not exist; check --checkpoints")
    from shared.codecs.learned.checkpoint import CheckpointStore

    return CheckpointStore([folder])


def _emit(values: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(values, sort_keys=True))
        return
    for key, value in values.items():
        if isinstance(value, dict):
            typer.echo(f"{key}:")
            for sub_key, sub_value in value.items():
                typer.echo(f"  {sub_key}: {sub_value}")
        else:
            typer.echo(f"{key}: {value}")


def list_codecs(as_json: JsonFlag = False) -> None:
    """List the registered codecs: name, wire id, kind and supported band counts."""
    rows = [
        {
            "name": i.name,
            "wire_id": i.wire_id,
            "kind": i.kind,
            "min_bands": 1,
            "max_bands": i.max_bands,
            "summary": i.summary,
        }
        for i in all_codecs()
    ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    typer.echo(f"{'name':<24}{'id':>4}  {'kind':<10}{'bands':<7}summary")
    for r in rows:
        bands = f"1-{r['max_bands']}"
        typer.echo(f"{r['name']:<24}{r['wire_id']:>4}  {r['kind']:<10}{bands:<7}{r['summary']}")


def _psnr_text(psnr_db: float | None) -> str | float | None:
    if psnr_db is None:
        return None
    return "inf" if math.isinf(psnr_db) else round(psnr_db, 4)


def _task_store(folder: Path | None, task: str | None, codec: str) -> Any:
    """The checkpoint store, with the task's shipped models first when the task is known (fire
    and cloud share a band count) and the codec has weights."""
    store = _checkpoint_store(folder)
    if task is None or not codec_info(codec).capabilities.weights:
        return store
    if store is None:
        from shared.codecs.learned.checkpoint import CheckpointStore

        store = CheckpointStore()
    return store.for_task(task)


def encode(
    in_path: Annotated[Path, typer.Argument(metavar="IN", help=".npy (C,H,W)/(H,W) or GeoTIFF.")],
    out_path: Annotated[Path, typer.Argument(metavar="OUT", help="Container file to write.")],
    codec: Annotated[str, typer.Option("--codec", help="Codec name (see `eodl codecs`).")],
    bpp: Annotated[float | None, typer.Option("--bpp", help="Target bits per pixel.")] = None,
    quality: Annotated[int | None, typer.Option("--quality", help="Quality 1..6.")] = None,
    lossless: Annotated[bool, typer.Option("--lossless", help="Exact reconstruction.")] = False,
    bit_depth: Annotated[int | None, typer.Option("--bit-depth", help="Significant bits.")] = None,
    scale: Annotated[float | None, typer.Option("--scale", help="Normalisation max.")] = None,
    checkpoints: CheckpointsOption = None,
    mask: Annotated[
        Path | None, typer.Option("--mask", help="Truth mask to carry in the sidecar.")
    ] = None,
    scene_id: Annotated[str | None, typer.Option("--scene-id", help="Scene id.")] = None,
    task: Annotated[
        str | None,
        typer.Option(
            "--task",
            help="fire, cloud, building: apply that sensor profile (bands, dtype, bit depth, "
            "scale; --bit-depth and --scale still override) and refuse a raster that breaks it.",
        ),
    ] = None,
    sensor: Annotated[str | None, typer.Option("--sensor", help="Sensor name.")] = None,
    check: Annotated[
        bool | None,
        typer.Option(
            "--check/--no-check",
            help="Carry 8 bytes of the reconstruction's SHA-256 so that decode can prove it "
            "got the encoder's pixels (default: learned codecs yes, JPEG 2000 no).",
        ),
    ] = None,
    container_version: Annotated[
        int, typer.Option("--container-version", help="2 (compact, default) or 1.")
    ] = 2,
    patches: Annotated[
        bool,
        typer.Option(
            "--patches",
            help="IN is a .npy of many small scenes (N,C,h,w)/(N,h,w), --mask (N,h,w): one "
            "container, each patch coded alone (decode one with `eodl decode --patch`).",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Compress a raster into a container; prints bpp, size and PSNR."""
    from shared.codecs.patches import stack_patches
    from shared.compression import compress_raster
    from shared.sensors.profiles import get_profile, validate_raster
    from shared.sensors.readers import read_mask, read_patches, read_raster

    codec_info(codec)  # an unknown name fails before the raster is read
    _check_output(out_path)
    target = RateTarget(bpp=bpp, quality=quality, lossless=lossless)
    patch_shape = None
    if patches:
        raster, patch_shape = stack_patches(read_patches(in_path))
    else:
        raster = read_raster(in_path)
    if task is not None:
        profile = get_profile(task)
        validate_raster(raster, profile)
        scale = profile.global_max if scale is None else scale
        bit_depth = profile.bit_depth if bit_depth is None else bit_depth
    truth = None
    if mask is not None:
        truth = stack_patches(read_patches(mask, mask=True))[0][0] if patches else read_mask(mask)
    extra = {"scene_id": scene_id, "task": task, "sensor": sensor}
    georef, georef_note = _georef(in_path, patches, container_version)
    scene = compress_raster(
        raster,
        codec=codec,
        target=target,
        scale=scale,
        bit_depth=bit_depth,
        metadata={k: v for k, v in extra.items() if v is not None},
        truth_mask=truth,
        checkpoints=_task_store(checkpoints, task, codec),
        container_version=container_version,
        reconstruction_check=check,
        patch_shape=patch_shape,
        georef=georef,
    )
    _write_atomically(out_path, scene.container)
    _emit(
        {
            "wrote": str(out_path),
            "codec": codec,
            "shape": list(scene.reconstruction.shape),
            "size_bytes": len(scene.container),
            "payload_bytes": scene.header.payload_bytes,
            "bpp": round(scene.bpp, 6),
            "payload_bpp": round(scene.payload_bpp, 6),
            "bits_per_sample": round(scene.bits_per_sample, 6),
            "psnr_db": _psnr_text(scene.psnr_db),
            "scale": scene.header.spec.scale,
            "bit_depth": scene.header.spec.bit_depth,
            "georef": georef_note,
        },
        as_json,
    )


def _georef(in_path: Path, patches: bool, version: int | None) -> tuple[Any, str]:
    """A GeoTIFF's georeference for the container (version 2 only), and what to say of it."""
    from shared.sensors.geotiff import GEO_SUFFIXES, read_georef

    if patches or in_path.suffix.lower() not in GEO_SUFFIXES:
        return None, "none (not a GeoTIFF)"
    georef, note = read_georef(in_path)
    if georef is not None and version == 1:
        return None, f"dropped: container version 1 has no georeference field ({note})"
    return georef, note


def decode(
    in_path: Annotated[Path, typer.Argument(metavar="IN", help="Container file.")],
    out_path: Annotated[Path, typer.Argument(metavar="OUT", help=".npy file to write.")],
    checkpoints: CheckpointsOption = None,
    mask: Annotated[
        Path | None, typer.Option("--mask", help="Also write the sidecar's truth mask (.npy).")
    ] = None,
    patch: Annotated[
        int | None,
        typer.Option(
            "--patch", help="A patch container: decode patch INDEX alone (from 0), nothing else."
        ),
    ] = None,
) -> None:
    """Decode a container to .npy (C,H,W) in the original dtype; exit 3 if the digest differs."""
    from shared.compression import decompress_container, decompress_patch

    for path in (out_path, mask):
        if path is not None and path.suffix != ".npy":
            raise ConfigurationError(f"{path} must end in .npy; the decoder writes NumPy files")
        if path is not None:
            _check_output(path)
    if patch is not None:
        if mask is not None:
            raise ConfigurationError("--patch decodes one patch's pixels only; drop --mask")
        raster = decompress_patch(
            _read_container_file(in_path), patch, checkpoints=_checkpoint_store(checkpoints)
        )
        _save_npy(out_path, raster)
        shape = "x".join(str(n) for n in raster.shape)
        typer.echo(f"wrote {out_path}: patch {patch}, {shape} {raster.dtype}")
        return
    scene = decompress_container(
        _read_container_file(in_path), checkpoints=_checkpoint_store(checkpoints)
    )
    _save_npy(out_path, scene.raster)
    if mask is not None:
        if scene.truth_mask is None:
            raise ContainerError(f"{in_path.name} carries no truth-mask sidecar; drop --mask")
        _save_npy(mask, scene.truth_mask)
    shape = "x".join(str(n) for n in scene.raster.shape)
    typer.echo(f"wrote {out_path}: {shape} {scene.raster.dtype}")
    if scene.digest_matches is None:
        typer.echo("digest matched: not checked (the container carries no reconstruction check)")
        return
    if not scene.digest_matches:
        typer.echo(
            "digest matched: no - the decoded raster differs from the onboard reconstruction "
            "(decoder desynchronised or wrong weights)",
            err=True,
        )
        raise SystemExit(EXIT_DIGEST_MISMATCH)
    typer.echo("digest matched: yes")


def _save_npy(path: Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    _write_atomically(path, buffer.getvalue())


def _metadata_view(data: bytes, header: ContainerHeader) -> Any:
    start = header.header_bytes + header.payload_bytes
    blob = data[start : start + header.metadata_bytes]
    if not blob:
        return {}
    try:
        return json.loads(blob.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return f"unreadable ({exc})"


def _payload(data: bytes, header: ContainerHeader) -> bytes:
    """The codec's payload: a JPEG 2000 codestream whose framing version 2 left out is rebuilt,
    so that what ``--payload`` writes is a standard codestream any decoder reads."""
    carried = data[header.header_bytes : header.header_bytes + header.payload_bytes]
    return rebuild_payload(header, carried)


def _inspection(data: bytes, header: ContainerHeader) -> dict[str, Any]:
    from shared.metrics.rate import bits_per_sample, bpp

    try:
        check_lengths(header, len(data))
        lengths = "ok"
    except ContainerError as exc:
        lengths = str(exc)
    checksum_ok = compute_checksum(data) == header.crc32c
    return {
        "header": header.to_dict(),
        "size_bytes": len(data),
        "declared_bytes": header.total_bytes,
        "lengths": lengths,
        "checksum_ok": checksum_ok,
        "intact": checksum_ok and lengths == "ok",
        "bpp": round(bpp(header.rate_bytes, header.height, header.width), 6),
        "payload_bpp": round(bpp(len(_payload(data, header)), header.height, header.width), 6),
        "carried_payload_bytes": header.payload_bytes,
        "bits_per_sample": round(bits_per_sample(header.rate_bytes, *header.spec.shape), 6),
        "metadata": _metadata_view(data, header) if lengths == "ok" else None,
    }


def inspect(
    in_path: Annotated[Path, typer.Argument(metavar="IN", help="Container file.")],
    as_json: JsonFlag = False,
    payload: Annotated[
        Path | None,
        typer.Option(
            "--payload",
            help="Write the codec payload here (JPEG 2000: the standard codestream, rebuilt).",
        ),
    ] = None,
    patch: Annotated[
        int | None,
        typer.Option(
            "--patch", help="With --payload, a patch container: write patch INDEX's payload only."
        ),
    ] = None,
) -> None:
    """Print a container's header, sizes, bpp and whether its checksum holds; exit 1 if not."""
    data = _read_container_file(in_path)
    header = read_header(data)
    report = _inspection(data, header)
    if header.patch_shape is not None:
        report["patches"] = patch_count(header.height, header.width, header.patch_shape)
    if payload is not None:
        if len(data) < header.header_bytes + header.payload_bytes:
            raise ContainerError(f"{in_path.name} is truncated inside the payload; cannot extract")
        _write_atomically(payload, _patch_payload(_payload(data, header), header, patch))
        report["payload_written"] = str(payload)
    _emit(report, as_json)
    if not report["intact"]:
        raise SystemExit(EXIT_NOT_INTACT)


def _patch_payload(whole: bytes, header: ContainerHeader, patch: int | None) -> bytes:
    """``whole``, or patch ``patch``'s own payload (a standard codestream for JPEG 2000).

    Raises:
        ConfigurationError: ``--patch`` on a one-scene container, or an index out of range.
    """
    if patch is None:
        return whole
    if header.patch_shape is None:
        raise ConfigurationError("--patch needs a patch container; this one holds one scene")
    parts = split_patches(whole, patch_count(header.height, header.width, header.patch_shape))
    if not 0 <= patch < len(parts):
        last = len(parts) - 1
        raise ConfigurationError(f"--patch {patch}: the container holds patches 0..{last}")
    return parts[patch]


def register(app: typer.Typer) -> None:
    """Add ``codecs``, ``encode``, ``decode`` and ``inspect`` to the ``eodl`` app."""
    app.command("codecs")(list_codecs)
    app.command("encode")(encode)
    app.command("decode")(decode)
    app.command("inspect")(inspect)
