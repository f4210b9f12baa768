"""The fixed-rate baseline and per-task figures the budget study reports."""

from __future__ import annotations

import pytest

from satellite_node.planner.allocator import Candidate, QueuedScene, plan_pass
from satellite_node.planner.compare import fixed_rate_plan, task_figures
from shared.errors import ConfigurationError

LADDER = (Candidate("jpeg2000", 0.25, 100, 0.5), Candidate("jpeg2000", 1.0, 400, 0.7))


def test_fixed_rate_sends_in_rank_order_while_it_fits_and_the_allocator_does_better() -> None:
    scenes = [QueuedScene(f"c{k}", "cloud", 2, LADDER) for k in range(3)]
    scenes.append(QueuedScene("f", "fire", 0, LADDER))
    fixed = fixed_rate_plan(scenes, 900, 1)
    assert [e.scene_id for e in fixed.entries] == ["f", "c0"] and fixed.planned_bytes == 800
    allocated = plan_pass(scenes, 900)
    assert allocated.planned_bytes <= 900
    assert allocated.f1_expected_sum > fixed.f1_expected_sum
    figures = {f.task: f for f in task_figures(scenes, fixed)}
    assert figures["cloud"].delivered == 1 and figures["cloud"].queued == 3
    assert figures["cloud"].mean_f1_expected == pytest.approx(0.7 / 3)
    with pytest.raises(ConfigurationError):
        fixed_rate_plan(scenes, 900, 2)
