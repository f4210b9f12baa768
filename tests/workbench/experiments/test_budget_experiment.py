"""`eodl experiment budget` for real on tiny data: every pass within its byte budget, alerts
first, delivered F1 measured on decoded containers, and a rerun that recomputes nothing."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pytest

from workbench.experiments.budget import ALLOCATOR, pass_budgets
from workbench.experiments.catalog import EXPERIMENTS, run_experiment
from workbench.experiments.settings import QUICK

HEADER = (
    "regime,pass_index,task,budget_bytes,bytes_used,scenes_queued,scenes_delivered,"
    "alerts_queued,alerts_delivered,f1_positive_mean,f1_expected_mean,f1_positive_sum,"
    "f1_positive_pooled"
)
PLAN_HEADER = "regime,pass_index,order,scene_id,task,alert,codec,bpp,bytes,f1_expected,f1_positive"
#: Passes of 1, 2 and 3 s at 9600 bit/s (1200, 2400, 3600 bytes): two fire alerts and a cloud
#: scene (about 0.7 to 8.4 kB) join before each, so the budget binds.
TINY = replace(
    QUICK,
    budget_pass_s=(1.0, 2.0, 3.0),
    budget_arrivals={"fire": 2, "cloud": 1},
    budget_calibration=2,
    budget_qualities=(1,),
    budget_fixed=(("jpeg2000", 1), ("cheng2020-gmm", 0)),
)
TASKS = ("fire", "cloud")
REGIMES = {ALLOCATOR, "fixed-jpeg2000-r1", "fixed-cheng2020-gmm-r0"}


def _read(path: Path, header: str) -> list[dict[str, str]]:
    assert path.read_text().splitlines()[0] == header
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def budget_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("budget")
    run_experiment("budget", out, TASKS, TINY)
    return out


def test_budget_is_in_the_catalog() -> None:
    assert "budget" in EXPERIMENTS


def test_pass_budgets_are_link_rate_times_pass_length() -> None:
    assert pass_budgets(TINY) == [1200, 2400, 3600]


def test_every_regime_pass_and_task_has_a_row(budget_run: Path) -> None:
    rows = _read(budget_run / "budget.csv", HEADER)
    keys = {(r["regime"], r["pass_index"], r["task"]) for r in rows}
    assert keys == {
        (regime, index, task)
        for regime in REGIMES
        for index in ("0", "1", "2", "total")
        for task in (*TASKS, "all")
    }
    for r in rows:
        assert 0 <= int(r["scenes_delivered"]) <= int(r["scenes_queued"])
        assert 0 <= int(r["alerts_delivered"]) <= int(r["alerts_queued"])
        if int(r["scenes_delivered"]):
            assert 0.0 <= float(r["f1_positive_mean"]) <= 1.0


def test_no_pass_carries_more_than_its_budget(budget_run: Path) -> None:
    rows = _read(budget_run / "budget.csv", HEADER)
    plan = _read(budget_run / "budget-plan.csv", PLAN_HEADER)
    sent: dict[tuple[str, str], int] = defaultdict(int)
    for p in plan:
        sent[(p["regime"], p["pass_index"])] += int(p["bytes"])
    for r in rows:
        assert int(r["bytes_used"]) <= int(r["budget_bytes"]), r
        if r["task"] == "all" and r["pass_index"] != "total":
            assert sent[(r["regime"], r["pass_index"])] == int(r["bytes_used"])
    assert any(  # the budget binds: some pass leaves a scene behind
        int(r["scenes_delivered"]) < int(r["scenes_queued"]) for r in rows if r["task"] == "all"
    )


def test_alerts_go_first(budget_run: Path) -> None:
    rows = _read(budget_run / "budget.csv", HEADER)
    plan = _read(budget_run / "budget-plan.csv", PLAN_HEADER)
    for r in rows:
        if r["regime"] == ALLOCATOR and r["task"] == "all" and r["pass_index"] != "total":
            sent = sorted(
                (p for p in plan if (p["regime"], p["pass_index"]) == (ALLOCATOR, r["pass_index"])),
                key=lambda p: int(p["order"]),
            )
            flags = [p["alert"] == "1" for p in sent]
            assert flags == sorted(flags, reverse=True), sent  # alerts lead the pass
            if not all(flags):  # a routine scene went: every queued alert went before it
                assert r["alerts_delivered"] == r["alerts_queued"], r
    total = next(
        r for r in rows if (r["regime"], r["pass_index"], r["task"]) == (ALLOCATOR, "total", "all")
    )
    assert int(total["alerts_delivered"]) == int(total["alerts_queued"]) == 6


def test_delivered_f1_is_measured_on_decoded_scenes(budget_run: Path) -> None:
    plan = _read(budget_run / "budget-plan.csv", PLAN_HEADER)
    assert {p["regime"] for p in plan} == REGIMES
    for p in plan:
        assert 0.0 <= float(p["f1_positive"]) <= 1.0 and 0.0 <= float(p["f1_expected"]) <= 1.0
        assert float(p["bpp"]) > 0 and int(p["bytes"]) > 0
    fixed = [p for p in plan if p["regime"] == "fixed-cheng2020-gmm-r0"]
    assert fixed and {p["codec"] for p in fixed} == {"cheng2020-gmm"}
    assert len({p["f1_positive"] for p in plan}) > 1  # figures per scene, not one constant


def test_section_and_plot(budget_run: Path) -> None:
    section = (budget_run / "budget.md").read_text()
    assert "### Totals over all passes" in section and "- `allocator` (" in section
    assert (budget_run / "budget.png").read_bytes()[:4] == b"\x89PNG"


def test_a_rerun_recomputes_nothing(budget_run: Path) -> None:
    before = {p.name: p.read_text() for p in budget_run.glob("budget*.csv")}
    cached = sorted((budget_run / "work" / "budget").glob("*.json"))
    stamps = [p.stat().st_mtime_ns for p in cached]
    run_experiment("budget", budget_run, TASKS, TINY)
    assert {p.name: p.read_text() for p in budget_run.glob("budget*.csv")} == before
    assert [p.stat().st_mtime_ns for p in cached] == stamps


def test_an_interrupted_table_is_completed(budget_run: Path, tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(budget_run, out)
    lines = (out / "budget.csv").read_text().splitlines()
    (out / "budget.csv").write_text("\n".join(lines[:-3]) + "\n")  # killed before three rows
    run_experiment("budget", out, TASKS, TINY)
    assert (out / "budget.csv").read_text() == (budget_run / "budget.csv").read_text()


def test_an_interrupted_plan_is_completed(budget_run: Path, tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(budget_run, out)
    lines = (out / "budget-plan.csv").read_text().splitlines()
    (out / "budget-plan.csv").write_text("\n".join(lines[:-2]) + "\n")
    run_experiment("budget", out, TASKS, TINY)
    assert (out / "budget-plan.csv").read_text() == (budget_run / "budget-plan.csv").read_text()
