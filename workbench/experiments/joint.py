"""Joint end-to-end optimisation (paper, Appendix B and Table 2), both start scenarios.

High-quality start: the paper's codec at its highest rate point (from ``rd``) with the clean
baseline U-Net. Low-quality start: the same codec trained at a very small lambda (very lossy)
with the same U-Net. Each is fine-tuned by :func:`workbench.training.joint.train_joint` with the
paper's weights (lambda 10; gamma 1e-3 and 1e-2) and measured before and after on real
bitstreams of the validation scenes. ``f1`` is the macro F1, as the paper's Table 2 reports
(its F1 figures match Table 1's macro column).
"""

from __future__ import annotations

import json
from pathlib import Path

from tqdm.auto import tqdm

from workbench.experiments.baseline import clean_segmenter
from workbench.experiments.data import ensure_task_data
from workbench.experiments.rd import codec_checkpoint
from workbench.experiments.runner import ResultsTable, Workspace
from workbench.experiments.settings import PAPER_CODEC, RunSettings
from workbench.experiments.training import device, ensure_codec

COLUMNS = ("scenario", "bpp_prior", "psnr_prior", "f1_prior", "bpp", "psnr_db", "f1")
KEY = ("scenario",)
SCENARIOS = ("high-quality", "low-quality")


def table(out: Path) -> ResultsTable:
    """``joint.csv`` of an output folder."""
    return ResultsTable(out / "joint.csv", COLUMNS, KEY)


def scenario_label(task: str, scenario: str) -> str:
    """The ``scenario`` cell: the paper's scenario name and the task it ran on."""
    return f"{task}: {scenario} start"


def _start_codec(ws: Workspace, task: str, scenario: str, settings: RunSettings) -> Path:
    train, _ = ensure_task_data(ws, task, settings)
    if scenario == "high-quality":
        quality, lmbda = settings.rate_points[-1]
        path = codec_checkpoint(ws, task, PAPER_CODEC, quality)
    else:
        quality, lmbda = settings.rate_points[0][0], settings.low_quality_lmbda
        path = ws.checkpoint("codec", task, f"{PAPER_CODEC}-low-quality-start")
    return ensure_codec(task, train, path, PAPER_CODEC, quality, lmbda, settings)


def _run_one(ws: Workspace, task: str, scenario: str, settings: RunSettings) -> dict:
    from workbench.training.joint import JointTrainConfig, scenario_weights, train_joint

    out = ws.work / "joint" / task / scenario
    report_path = out / "report.json"
    if report_path.is_file():
        return dict(json.loads(report_path.read_text()))
    train, _ = ensure_task_data(ws, task, settings)
    lmbda, gamma = scenario_weights(scenario)
    config = JointTrainConfig(
        task=task,
        data=train,
        codec=_start_codec(ws, task, scenario, settings),
        segmenter=clean_segmenter(ws, task, settings),
        out=out,
        lmbda=lmbda,
        gamma=gamma,
        scenario=scenario,
        epochs=settings.joint_epochs,
        batch_size=settings.batch_size,
        max_steps=settings.joint_steps,
        seed=settings.seed,
        device=device(),
        command=f"eodl experiment joint ({settings.mode} mode) --task {task}",
    )
    return train_joint(config)


def run_joint(out: Path, tasks: tuple[str, ...], settings: RunSettings) -> ResultsTable:
    """Both scenarios per task; resumes from ``joint.csv`` and each run's ``report.json``."""
    ws, results = Workspace(out), table(out)
    work = [(t, s) for t in tasks for s in SCENARIOS]
    for task, scenario in tqdm(work, desc="joint", unit="scenario"):
        label = scenario_label(task, scenario)
        if results.has(scenario=label):
            continue
        report = _run_one(ws, task, scenario, settings)
        before, after = report["before"], report["after"]
        results.append(
            {
                "scenario": label,
                "bpp_prior": before["bpp"],
                "psnr_prior": before["psnr_db"],
                "f1_prior": before["f1_macro"],
                "bpp": after["bpp"],
                "psnr_db": after["psnr_db"],
                "f1": after["f1_macro"],
            }
        )
    return results
