"""A Typer app with only the `bench` commands, as `eodl` registers them."""

from __future__ import annotations

import pytest
import typer

from workbench.cli import bench_cmds


@pytest.fixture
def bench_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """eodl."""

    bench_cmds.register(app)
    return app
