"""The segmentation baseline (paper, Table 1): a U-Net per task and backbone, trained on clean
data, F1 of the positive class and macro F1 on the held-out scenes, beside the paper's figures."""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from workbench.experiments.data import ensure_task_data
from workbench.experiments.runner import ResultsTable, Workspace
from workbench.experiments.settings import PAPER_BASELINE, RunSettings
from workbench.experiments.training import device, ensure_segmenter

COLUMNS = ("task", "backbone", "f1_positive", "f1_macro", "paper_f1_positive", "paper_f1_macro")
KEY = ("task", "backbone")
BACKBONES: tuple[str, ...] = ("mobilenet_v2", "resnet34")
#: The backbone the paper reports per task; later experiments use its U-Net.
PAPER_BACKBONE = {task: backbone for task, backbone in PAPER_BASELINE}


def table(out: Path) -> ResultsTable:
    """``baseline.csv`` of an output folder."""
    return ResultsTable(out / "baseline.csv", COLUMNS, KEY)


def segmenter_checkpoint(ws: Workspace, task: str, backbone: str) -> Path:
    """Where the clean-data U-Net of a task and backbone is trained."""
    return ws.checkpoint("segmenter", task, backbone)


def clean_segmenter(
    ws: Workspace, task: str, settings: RunSettings, backbone: str | None = None
) -> Path:
    """The clean-data U-Net of a task (the paper's backbone by default), trained if needed."""
    backbone = backbone or PAPER_BACKBONE[task]
    train, _ = ensure_task_data(ws, task, settings)
    return ensure_segmenter(
        task, train, segmenter_checkpoint(ws, task, backbone), backbone, settings
    )


def run_baseline(out: Path, tasks: tuple[str, ...], settings: RunSettings) -> ResultsTable:
    """Train and score every (task, backbone); resumes from ``baseline.csv``."""
    from shared.models.segmentation import load_segmenter_checkpoint
    from workbench.training.evaluate import segment_scenes

    ws, results = Workspace(out), table(out)
    work = [(t, b) for t in tasks for b in BACKBONES]
    for task, backbone in tqdm(work, desc="baseline", unit="model"):
        if results.has(task=task, backbone=backbone):
            continue
        _, test = ensure_task_data(ws, task, settings)
        ckpt = clean_segmenter(ws, task, settings, backbone)
        scores = segment_scenes(load_segmenter_checkpoint(ckpt, device=device()), test)
        paper = PAPER_BASELINE.get((task, backbone), (None, None))
        results.append(
            {
                "task": task,
                "backbone": backbone,
                "f1_positive": scores["f1_positive"],
                "f1_macro": scores["f1_macro"],
                "paper_f1_positive": paper[0],
                "paper_f1_macro": paper[1],
            }
        )
    return results
