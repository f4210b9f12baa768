"""``eodl satellite serve`` (the onboard service) and ``eodl upload`` (its REST client)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shared.errors import ConfigurationError, LinkError

DEFAULT_SATELLITE_URL = "http://127.0.0.1:8000"


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    ground_url: Annotated[str | None, typer.Option(help="the ground station's base URL")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="the onboard store's folder")] = None,
    link_rate: Annotated[float | None, typer.Option(help="link rate in bit/s")] = None,
    pass_period: Annotated[float | None, typer.Option(help="seconds between pass starts")] = None,
    pass_duration: Annotated[float | None, typer.Option(help="seconds each pass lasts")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Run the satellite node. The signing key comes from SAT_LINK_KEY (required)."""
    import logging

    import uvicorn

    from satellite_node.app import create_app
    from satellite_node.settings import SatelliteSettings

    overrides: dict[str, Any] = {
        "ground_url": ground_url,
        "data_dir": data_dir,
        "link_rate_bps": link_rate,
        "pass_period_s": pass_period,
        "pass_duration_s": pass_duration,
    }
    settings = SatelliteSettings(**{k: v for k, v in overrides.items() if v is not None})
    if (settings.pass_period_s is None) != (settings.pass_duration_s is None):
        raise ConfigurationError("give --pass-period and --pass-duration together, or neither")
    app = create_app(settings)  # fails fast without SAT_LINK_KEY
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    uvicorn.run(app, host=host, port=port, log_level=log_level)


def _upload_band_set(
    files: list[Path],
    request: Any,
    masks: list[Path],
    satellite: str,
    token: str | None,
    wait: float,
) -> None:
    from satellite_node.client import SatelliteClient

    if len(masks) > 1:
        raise ConfigurationError("a band set is one scene: give at most one --mask")
    with SatelliteClient.connect(satellite, token=token) as client:
        accepted = client.upload(
            files[0], request, mask=masks[0] if masks else None, band_files=files[1:]
        )
        typer.echo(f"{' '.join(p.name for p in files)}\t{accepted.scene_id}")
        if wait > 0:
            for scene_id, view in client.wait_final([accepted.scene_id], wait).items():
                typer.echo(f"{scene_id}\t{view.state}\t{view.reason or ''}".rstrip())


def upload(
    files: Annotated[
        list[Path], typer.Argument(help="rasters (.npy or GeoTIFF)", exists=True, dir_okay=False)
    ],
    task: Annotated[str, typer.Option(help="fire, cloud or building")],
    mask: Annotated[
        list[Path] | None,
        typer.Option(help="truth mask; once per file, in order", exists=True, dir_okay=False),
    ] = None,
    codec: Annotated[str, typer.Option(help="a codec name, or auto")] = "auto",
    bpp: Annotated[float | None, typer.Option(help="target bits per pixel")] = None,
    quality: Annotated[int | None, typer.Option(help="quality level 1..6")] = None,
    lossless: Annotated[bool, typer.Option(help="lossless coding")] = False,
    priority: Annotated[str | None, typer.Option(help="alert, high, normal, low or 0..9")] = None,
    patches: Annotated[
        bool,
        typer.Option(help="each file is a .npy of many small scenes (N, C, h, w): one container"),
    ] = False,
    band_set: Annotated[
        bool,
        typer.Option(
            help="the files are one scene: single-band GeoTIFFs named by band (e.g. *_B04.tif), "
            "matched to the profile's bands and resampled onto the finest band's grid"
        ),
    ] = False,
    bands: Annotated[
        str | None,
        typer.Option(help="GeoTIFF: the bands to take, comma-separated, in the profile's order"),
    ] = None,
    scale: Annotated[
        float | None, typer.Option(help="GeoTIFF: counts per file unit (e.g. 0.81915)")
    ] = None,
    acquired: Annotated[
        str | None, typer.Option(help="acquisition time, ISO 8601 (default: the file's tags)")
    ] = None,
    satellite: Annotated[
        str, typer.Option(help="the satellite node's URL", envvar="EODL_SATELLITE_URL")
    ] = DEFAULT_SATELLITE_URL,
    wait: Annotated[float, typer.Option(help="seconds to wait for delivery (0: don't)")] = 0.0,
    token: Annotated[
        str | None,
        typer.Option(help="an uploader's API token", envvar="EODL_SATELLITE_TOKEN"),
    ] = None,
) -> None:
    """Upload scenes to a satellite node; prints one scene id per file."""
    from tqdm import tqdm

    from satellite_node.client import SatelliteClient
    from shared.protocol.scenes import SceneRequest

    masks = list(mask or [])
    if masks and len(masks) != len(files):
        raise ConfigurationError(f"{len(masks)} masks for {len(files)} files; give one per file")
    request = SceneRequest(
        task=task,
        codec=codec,
        bpp=bpp,
        quality=quality,
        lossless=lossless,
        priority=priority,
        patches=patches,
        bands=bands,
        scale=scale,
        acquired=acquired,
    )
    if band_set:
        _upload_band_set(files, request, masks, satellite, token, wait)
        return
    scene_ids, failures = [], 0
    with SatelliteClient.connect(satellite, token=token) as client:
        bar = tqdm(files, unit="scene", disable=len(files) < 2)
        for i, path in enumerate(bar):
            try:
                accepted = client.upload(path, request, mask=masks[i] if masks else None)
            except LinkError as exc:
                failures += 1
                tqdm.write(f"error: {path.name}: {exc}")
                continue
            scene_ids.append(accepted.scene_id)
            tqdm.write(f"{path}\t{accepted.scene_id}")
        if wait > 0 and scene_ids:
            for scene_id, view in client.wait_final(scene_ids, wait).items():
                typer.echo(f"{scene_id}\t{view.state}\t{view.reason or ''}".rstrip())
    if failures:
        raise typer.Exit(1)


def make_token(
    name: Annotated[str, typer.Option(help="who holds the token ([A-Za-z0-9._-])")],
    role: Annotated[str, typer.Option(help="reader, uploader or operator")] = "uploader",
    alerts: Annotated[bool, typer.Option(help="may upload at alert priority")] = False,
    store_share: Annotated[
        float, typer.Option(help="fraction of the onboard store its scenes may hold")
    ] = 1.0,
    uploads_per_minute: Annotated[int | None, typer.Option(help="upload rate limit")] = None,
    upload_bytes_per_minute: Annotated[
        int | None, typer.Option(help="upload byte rate limit")
    ] = None,
) -> None:
    """Make an API token: prints the token (give it to its holder; it is shown only now) and
    the entry to add to SAT_API_TOKENS (the node keeps only its SHA-256)."""
    from shared.protocol.tokens import new_token

    secret, entry = new_token(
        name,
        role,
        alerts=alerts,
        store_share=store_share,
        uploads_per_minute=uploads_per_minute,
        upload_bytes_per_minute=upload_bytes_per_minute,
    )
    typer.echo(f"token: {secret}")
    typer.echo(f"SAT_API_TOKENS entry: {entry.model_dump_json()}")


def register(app: typer.Typer) -> None:
    """Add ``satellite serve``, ``satellite token`` and the top-level ``upload`` command."""
    satellite_app = typer.Typer(name="satellite", help="The onboard service.", no_args_is_help=True)
    satellite_app.command("serve")(serve)
    satellite_app.command("token")(make_token)
    app.add_typer(satellite_app, name="satellite")
    app.command("upload")(upload)
