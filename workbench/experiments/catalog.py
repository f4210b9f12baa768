"""The experiments by name: what each runs and which section it writes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from shared.errors import ConfigurationError
from workbench.experiments.report import mark_mode
from workbench.experiments.runner import timed
from workbench.experiments.settings import RunSettings

EXPERIMENTS: tuple[str, ...] = ("baseline", "rd", "seg-vs-rate", "joint", "roi", "budget")


def _steps(name: str) -> tuple[Callable[..., object], Callable[[Path], Path]]:
    from workbench.experiments import sections
    from workbench.experiments.baseline import run_baseline
    from workbench.experiments.budget import run_budget
    from workbench.experiments.joint import run_joint
    from workbench.experiments.rd import run_rd
    from workbench.experiments.roi import run_roi
    from workbench.experiments.seg_vs_rate import run_seg_vs_rate

    return {
        "baseline": (run_baseline, sections.baseline_section),
        "rd": (run_rd, sections.rd_section),
        "seg-vs-rate": (run_seg_vs_rate, sections.seg_vs_rate_section),
        "joint": (run_joint, sections.joint_section),
        "roi": (run_roi, sections.roi_section),
        "budget": (run_budget, sections.budget_section),
    }[name]


def expand_experiments(name: str) -> tuple[str, ...]:
    """``all`` or one experiment name as a tuple; an unknown name lists the valid ones."""
    if name == "all":
        return EXPERIMENTS
    if name not in EXPERIMENTS:
        raise ConfigurationError(
            f"unknown experiment {name!r}; valid: {', '.join(EXPERIMENTS)} or all"
        )
    return (name,)


def run_experiment(name: str, out: Path, tasks: tuple[str, ...], settings: RunSettings) -> Path:
    """Run one experiment (resuming from its CSV), time it, write its section; return it."""
    run, section = _steps(name)
    out.mkdir(parents=True, exist_ok=True)
    with timed(out, name, tasks):
        run(out, tasks, settings)
    return mark_mode(section(out), settings.mode)
