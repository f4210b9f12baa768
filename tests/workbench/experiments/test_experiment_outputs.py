"""Every experiment run for real on tiny data: right columns, monotone rate points per codec,
sane ranges, plots and report written, and a rerun resumes instead of recomputing."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pytest

from workbench.experiments.catalog import EXPERIMENTS, run_experiment
from workbench.experiments.references import REFERENCES
from workbench.experiments.report import write_report
from workbench.experiments.settings import PAPER_CODEC, QUICK, RunSettings

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
COLUMNS = {
    "baseline.csv": "task,backbone,f1_positive,f1_macro,paper_f1_positive,paper_f1_macro",
    "rd.csv": "task,codec,quality,bpp,bits_per_sample,psnr_db",
    "seg-vs-rate.csv": "task,codec,bpp,f1_positive,f1_macro",
    "joint.csv": "scenario,bpp_prior,psnr_prior,f1_prior,bpp,psnr_db,f1",
}
#: Smaller than --quick still, so that this runs in the default (non-slow) suite.
TINY = replace(
    QUICK,
    train_counts={**QUICK.train_counts, "fire": 24},
    test_counts={**QUICK.test_counts, "fire": 4},
    codecs=("factorized-prior", PAPER_CODEC),
    rate_points=((1, 0.01), (3, 1e5)),
    jpeg2000_bpps={**QUICK.jpeg2000_bpps, "fire": (1.0, 4.0)},
    codec_epochs=3,
    seg_epochs=2,
    seg_steps=4,
    joint_epochs=1,
    joint_steps=2,
)


def _rows(path: Path) -> list[dict[str, str]]:
    assert path.read_text().splitlines()[0] == COLUMNS[path.name], f"columns of {path.name}"
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _strictly_increasing(values: list[float]) -> bool:
    return all(a < b for a, b in zip(values, values[1:], strict=False))


def _check_rd(out: Path, tasks: tuple[str, ...], settings: RunSettings) -> None:
    rows = _rows(out / "rd.csv")
    curves: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for row in rows:
        assert float(row["bpp"]) > 0 and float(row["bits_per_sample"]) > 0
        assert 5 <= float(row["psnr_db"]) <= 120, row
        if row["codec"] in REFERENCES:  # single points, no quality
            continue
        curves[(row["task"], row["codec"])].append((float(row["quality"]), float(row["bpp"])))
    for task in tasks:
        for codec in ("jpeg2000", *settings.codecs):
            points = sorted(curves[(task, codec)])
            assert len(points) >= 2, f"{task} {codec}: {points}"
            assert _strictly_increasing([bpp for _, bpp in points]), f"{task} {codec}: {points}"
    if "building" in tasks:
        assert (("building", f"{PAPER_CODEC}+cloud-finetuned")) in curves


def _check_seg_vs_rate(out: Path, tasks: tuple[str, ...]) -> None:
    curves: dict[tuple[str, str], list[float]] = defaultdict(list)
    for row in _rows(out / "seg-vs-rate.csv"):
        assert float(row["bpp"]) > 0
        assert 0 <= float(row["f1_positive"]) <= 1 and 0 <= float(row["f1_macro"]) <= 1
        curves[(row["task"], row["codec"])].append(float(row["bpp"]))
    for task in tasks:
        for codec in ("jpeg2000", PAPER_CODEC):  # rows are written lowest rate point first
            assert len(curves[(task, codec)]) >= 2
            assert _strictly_increasing(curves[(task, codec)]), f"{task} {codec}"
        assert len(curves[(task, "uncompressed")]) == 1


def _check_baseline_and_joint(out: Path, tasks: tuple[str, ...]) -> None:
    baseline = _rows(out / "baseline.csv")
    assert {(r["task"], r["backbone"]) for r in baseline} == {
        (t, b) for t in tasks for b in ("mobilenet_v2", "resnet34")
    }
    for row in baseline:
        assert 0 <= float(row["f1_positive"]) <= 1 and 0 <= float(row["f1_macro"]) <= 1
    joint = _rows(out / "joint.csv")
    assert len(joint) == 2 * len(tasks)
    for row in joint:
        assert float(row["bpp_prior"]) > 0 and float(row["bpp"]) > 0
        assert 5 <= float(row["psnr_prior"]) <= 120 and 5 <= float(row["psnr_db"]) <= 120
        assert 0 <= float(row["f1_prior"]) <= 1 and 0 <= float(row["f1"]) <= 1


def check_outputs(out: Path, tasks: tuple[str, ...], settings: RunSettings) -> None:
    """What a user checks in an output folder of ``experiment all``."""
    _check_baseline_and_joint(out, tasks)
    _check_rd(out, tasks, settings)
    _check_seg_vs_rate(out, tasks)
    pngs = ["baseline.png"] + [f"{k}-{t}.png" for k in ("rd", "seg-vs-rate") for t in tasks]
    for name in pngs:
        assert (out / name).read_bytes()[:8] == PNG_MAGIC, name
    report = (out / "report.md").read_text()
    assert "mode: **quick**" in report and "BD-rate" in report
    for name in EXPERIMENTS:
        assert f"`{name}`" in report, f"wall time of {name} missing"
        section = (out / f"{name}.md").read_text().splitlines()
        assert section[2].startswith("> **Quick mode**"), f"{name}.md does not say quick mode"


@pytest.fixture(scope="module")
def fire_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("experiments")
    for name in EXPERIMENTS:
        run_experiment(name, out, ("fire",), TINY)
    write_report(out, TINY.mode, "test: every experiment, fire, tiny quick settings")
    return out


def test_every_experiment_writes_sane_monotone_results(fire_run: Path) -> None:
    check_outputs(fire_run, ("fire",), TINY)
    codecs = {row["codec"] for row in _rows(fire_run / "rd.csv")}
    assert {"band-mean", "block-mean-16"} <= codecs  # reference points in every R-D plot


def test_a_rerun_resumes_without_recomputing(fire_run: Path) -> None:
    before = {p.name: p.read_text() for p in fire_run.glob("*.csv")}
    weights = sorted((fire_run / "work" / "checkpoints").rglob("*.safetensors"))
    stamps = [p.stat().st_mtime_ns for p in weights]
    for name in EXPERIMENTS:
        run_experiment(name, fire_run, ("fire",), TINY)
    assert {p.name: p.read_text() for p in fire_run.glob("*.csv")} == before
    assert (fire_run / "roi.md").read_text().count("**Quick mode**") == 1  # said once
    assert [p.stat().st_mtime_ns for p in weights] == stamps


def test_an_interrupted_table_is_completed(fire_run: Path, tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(fire_run, out)
    lines = (out / "rd.csv").read_text().splitlines()
    (out / "rd.csv").write_text("\n".join(lines[:-2]) + "\n")  # killed before two rows
    run_experiment("rd", out, ("fire",), TINY)
    assert (out / "rd.csv").read_text() == (fire_run / "rd.csv").read_text()


@pytest.mark.slow
def test_quick_mode_of_the_cli_on_every_task(tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from workbench.cli.experiment_cmds import register

    app = typer.Typer()
    register(app)
    app.callback()(lambda: None)
    result = CliRunner().invoke(
        app, ["experiment", "all", "--quick", "--out", str(tmp_path)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    check_outputs(tmp_path, ("fire", "cloud", "building"), QUICK)


def test_seg_vs_rate_scores_the_shipped_codec_and_drops_another_checkpoints_rows(
    tmp_path: Path,
) -> None:
    from shared.codecs.learned.manifest import read_manifest
    from workbench.experiments.seg_vs_rate import SHIPPED_STAMP, run_seg_vs_rate
    from workbench.training.evaluate import shipped_codec_root

    tag = read_manifest(shipped_codec_root("fire") / f"{PAPER_CODEC}.json").sha256[:12]
    # a workspace measured with an earlier shipped checkpoint: its row and folders are stale
    decoded = tmp_path / "work" / "decoded" / "fire"
    (decoded / f"{PAPER_CODEC}-shipped-0123456789ab-q1" / "test").mkdir(parents=True)
    (decoded / SHIPPED_STAMP).write_text("0123456789ab\n")
    (tmp_path / "seg-vs-rate.csv").write_text(
        f"task,codec,bpp,f1_positive,f1_macro\nfire,{PAPER_CODEC},0.5,0.99,0.99\n"
    )
    settings = replace(
        TINY, shipped_codec=True, jpeg2000_bpps={**TINY.jpeg2000_bpps, "fire": (4.0,)}
    )
    rows = run_seg_vs_rate(tmp_path, ("fire",), settings).rows
    learned = sorted(
        (float(r["bpp"]), float(r["f1_positive"])) for r in rows if r["codec"] == PAPER_CODEC
    )
    assert len(learned) == 2 and learned[0][0] < learned[1][0]  # qualities 1 and 6
    assert (0.5, 0.99) not in learned
    on_disk = list(csv.DictReader((tmp_path / "seg-vs-rate.csv").open()))
    assert sorted(float(r["bpp"]) for r in on_disk if r["codec"] == PAPER_CODEC) == [
        bpp for bpp, _ in learned
    ]
    assert not (tmp_path / "work" / "checkpoints" / "codec").exists()  # nothing trained
    assert {d.name for d in decoded.iterdir()} == {
        SHIPPED_STAMP,
        "jpeg2000-4bpp",
        f"{PAPER_CODEC}-shipped-{tag}-q1",
        f"{PAPER_CODEC}-shipped-{tag}-q6",
    }
    assert (decoded / SHIPPED_STAMP).read_text().strip() == tag
