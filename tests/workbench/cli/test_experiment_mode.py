"""`eodl experiment --quick | --standard`: each flag picks its settings; both together are refused
before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from shared.errors import ConfigurationError
from workbench.cli.experiment_cmds import register
from workbench.experiments.settings import FULL, QUICK, STANDARD, get_settings


@pytest.fixture()
def app() -> typer.Typer:
    application = typer.Typer()
    register(application)
    application.callback()(lambda: None)
    return application


@pytest.mark.parametrize("order", [["--standard", "--quick"], ["--quick", "--standard"]])
def test_standard_and_quick_together_are_refused(
    app: typer.Typer, tmp_path: Path, order: list[str]
) -> None:
    out = tmp_path / "results"
    result = CliRunner().invoke(app, ["experiment", "baseline", *order, "--out", str(out)])
    assert isinstance(result.exception, ConfigurationError)
    assert "--quick and --standard are exclusive" in str(result.exception)
    assert not out.exists()  # refused before any data, checkpoint or CSV was written


def test_standard_flag_is_an_accepted_option(app: typer.Typer, tmp_path: Path) -> None:
    # an unknown experiment name is refused after the flags are parsed and before the mode is
    # used, so this proves --standard is an accepted option without starting an hour-long run
    result = CliRunner().invoke(
        app, ["experiment", "rate", "--standard", "--out", str(tmp_path / "results")]
    )
    assert isinstance(result.exception, ConfigurationError)
    assert "unknown experiment 'rate'" in str(result.exception)


def test_each_flag_selects_its_mode() -> None:
    assert get_settings(quick=True) is QUICK
    assert get_settings(quick=False, standard=True) is STANDARD
    assert get_settings(quick=False) is FULL
    assert STANDARD.mode == "standard"


def test_standard_sits_between_quick_and_full() -> None:
    for task in ("fire", "cloud", "building"):
        assert QUICK.counts(task)[0] < STANDARD.counts(task)[0] < FULL.counts(task)[0]
    assert len(STANDARD.rate_points) >= 3
    lambdas = [lmbda for _, lmbda in STANDARD.rate_points]
    assert lambdas == sorted(lambdas)  # lowest rate first, as rd and seg-vs-rate expect
    assert STANDARD.codec_widths is not None
    assert set(STANDARD.codec_widths) == {quality for quality, _ in STANDARD.rate_points}
    for bpps in STANDARD.jpeg2000_bpps.values():
        assert list(bpps) == sorted(bpps)
    assert all(c % 64 == 0 for c in STANDARD.crops.values() if c is not None)
