"""`eodl experiment`: a real quick run writes its CSV, plot and report; bad names are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from shared.errors import ConfigurationError
from workbench.cli.experiment_cmds import register


@pytest.fixture()
def app() -> typer.Typer:
    application = typer.Typer()
    register(application)
    application.callback()(lambda: None)
    return application


def test_quick_baseline_writes_csv_plot_and_report(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["experiment", "baseline", "--task", "fire", "--quick", "--out", str(tmp_path)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "baseline.csv").read_text().splitlines()
    assert lines[0] == "task,backbone,f1_positive,f1_macro,paper_f1_positive,paper_f1_macro"
    assert [line.split(",")[:2] for line in lines[1:]] == [
        ["fire", "mobilenet_v2"],
        ["fire", "resnet34"],
    ]
    assert lines[1].endswith(",0.665,0.83")  # the paper's Table 1 beside ours
    assert (tmp_path / "baseline.png").read_bytes()[:4] == b"\x89PNG"
    report = (tmp_path / "report.md").read_text()
    assert "mode: **quick**" in report and "eodl experiment baseline --task fire --quick" in report


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["experiment", "rate"], "valid: baseline, rd, seg-vs-rate, joint, roi, budget or all"),
        (["experiment", "rd", "--task", "forest"], "valid: fire, cloud, building or all"),
        (["experiment", "rd", "--codecs", "jpeg3000"], "unknown learned codec"),
        (["experiment", "rd", "--threads", "0"], "--threads must be at least 1"),
    ],
)
def test_bad_options_are_refused_with_the_valid_choices(
    app: typer.Typer, tmp_path: Path, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path)])
    assert isinstance(result.exception, ConfigurationError)
    assert message in str(result.exception)
    assert not (tmp_path / "rd.csv").exists()
