"""The paper's fixed-rate regime as a plan, and per-task figures of a plan (for the budget study).

Fixed rate: every scene at the same rung of its candidate ladder, sent in rank order while the
pass has room (what a satellite without the allocator does). A scene that does not fit waits;
later, smaller scenes may still go.
"""

from __future__ import annotations

from dataclasses import dataclass

from satellite_node.planner.allocator import PassPlan, PlanEntry, QueuedScene
from shared.errors import ConfigurationError


def fixed_rate_plan(scenes: list[QueuedScene], budget_bytes: int, rung: int) -> PassPlan:
    """Send every scene at candidate ``rung`` (0 = cheapest), in rank order, while it fits.

    Raises:
        ConfigurationError: a scene has no candidate at ``rung``.
    """
    entries, deferred, left = [], [], budget_bytes
    order = {s.scene_id: i for i, s in enumerate(scenes)}
    for scene in sorted(scenes, key=lambda s: (s.priority, order[s.scene_id])):
        ladder = sorted(scene.candidates, key=lambda c: c.bytes)
        if rung >= len(ladder):
            raise ConfigurationError(
                f"scene {scene.scene_id} has {len(ladder)} candidates; rung {rung} is missing"
            )
        pick = ladder[rung]
        if pick.bytes <= left:
            entries.append(PlanEntry(scene.scene_id, scene.task, scene.priority, scene.alert, pick))
            left -= pick.bytes
        else:
            deferred.append(scene.scene_id)
    return PassPlan(budget_bytes, tuple(entries), tuple(deferred))


@dataclass(frozen=True)
class TaskFigures:
    """Per task: scenes delivered in the pass, and their mean expected F1+ (0 when none)."""

    task: str
    queued: int
    delivered: int
    mean_f1_expected: float
    bytes: int


def task_figures(scenes: list[QueuedScene], plan: PassPlan) -> list[TaskFigures]:
    """Scenes delivered and mean expected F1+ per task (undelivered scenes count as F1 0)."""
    out = []
    for task in sorted({s.task for s in scenes}):
        queued = sum(s.task == task for s in scenes)
        sent = [e for e in plan.entries if e.task == task]
        f1 = sum(e.candidate.f1_expected for e in sent) / queued
        out.append(TaskFigures(task, queued, len(sent), f1, sum(e.candidate.bytes for e in sent)))
    return out
