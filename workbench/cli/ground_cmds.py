"""``eodl ground serve``: run the ground station, or one of its roles, under uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (the satellite's default ground_url)")] = 8001,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="database, containers, quicklooks")
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    role: Annotated[
        str,
        typer.Option(
            help="all: the single process (SQLite is fine); receiver: verify, store and "
            "acknowledge transfers; worker: decode, segment and record (health and metrics "
            "on the port); api: the query API and dashboard. receiver and worker share "
            "PostgreSQL (GS_DATABASE_URL) and the container store (GS_DATA_DIR)",
        ),
    ] = "all",
) -> None:
    """Serve the ground station, or one role of it; GS_LINK_KEY holds the satellite's HMAC
    key (required)."""
    import logging

    import uvicorn

    from ground_station.app import create_app
    from ground_station.settings import GroundSettings

    overrides = {"data_dir": data_dir} if data_dir is not None else {}
    settings = GroundSettings(**overrides)
    app = create_app(settings, role)  # raises ConfigurationError, printed as one line, if no key
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(app, host=host, port=port, log_level=log_level)


def stac(
    out: Annotated[Path, typer.Option(help="folder of the catalog (catalog.json)")],
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="the ground's data folder")
    ] = None,
) -> None:
    """Write a static STAC catalog of every processed transfer (items and COGs stay where the
    ground wrote them, linked by relative paths); GS_DATABASE_URL as the ground's."""
    from sqlalchemy import select

    from ground_station.db import TransferRecord, make_engine, make_session_factory
    from ground_station.geo.stac import write_catalog
    from ground_station.settings import GroundSettings

    settings = GroundSettings(**({"data_dir": data_dir} if data_dir is not None else {}))
    engine = make_engine(settings.resolved_database_url())
    with make_session_factory(engine)() as session:
        ids = session.scalars(
            select(TransferRecord.transfer_id)
            .where(TransferRecord.state == "processed")
            .order_by(TransferRecord.processed_at)
        ).all()
    engine.dispose()
    path = write_catalog(settings.data_dir / "transfers", list(ids), out)
    typer.echo(f"wrote {path}: {len(ids)} processed transfers")


def register(app: typer.Typer) -> None:
    """Add the ``ground`` sub-app to the ``eodl`` command line."""
    ground = typer.Typer(help="The ground station service.", no_args_is_help=True)
    ground.command("serve")(serve)
    ground.command("stac")(stac)
    app.add_typer(ground, name="ground")
