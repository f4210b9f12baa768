"""The pass planner: never over budget, alerts first, and better than sending at a fixed rate."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from satellite_node.planner.allocator import Candidate, QueuedScene, plan_pass
from satellite_node.planner.curves import CurveBook
from shared.errors import ConfigurationError

CURVES = CurveBook.seeded()
TASK_PIXELS = {"fire": 32 * 32, "cloud": 256 * 256, "building": 128 * 128}
TASK_BPPS = {"fire": (0.5, 1.0, 2.0), "cloud": (0.1, 0.25, 0.5), "building": (1.25, 2.5, 5.0)}


def _scene(rng: np.random.Generator, k: int) -> QueuedScene:
    task = str(rng.choice(list(TASK_PIXELS)))
    candidates = []
    for bpp in TASK_BPPS[task]:
        size = int(bpp * TASK_PIXELS[task] / 8 * rng.uniform(0.9, 1.1)) + 60  # header + metadata
        candidates.append(Candidate("jpeg2000", bpp, size, CURVES.f1_at(task, "jpeg2000", bpp)))
    priority = int(rng.choice([0, 1, 2, 3], p=[0.25, 0.25, 0.25, 0.25]))
    return QueuedScene(f"s{k}", task, priority, tuple(candidates))


def _queues(count: int = 200) -> list[tuple[list[QueuedScene], int]]:
    rng = np.random.default_rng(12)
    out = []
    for _ in range(count):
        scenes = [_scene(rng, k) for k in range(int(rng.integers(0, 25)))]
        total = sum(max(c.bytes for c in s.candidates) for s in scenes)
        out.append((scenes, int(rng.uniform(0, 1.2) * total)))
    return out


@pytest.mark.parametrize("case", range(4))
def test_never_more_bytes_than_the_budget_and_alerts_go_first(case: int) -> None:
    for scenes, budget in _queues()[case * 50 : (case + 1) * 50]:
        plan = plan_pass(scenes, budget)
        assert plan.planned_bytes <= budget
        flags = [e.alert for e in plan.entries]
        assert flags == sorted(flags, reverse=True)  # every alert before every other scene
        by_id = {s.scene_id: s for s in scenes}
        alert_bytes = sum(e.candidate.bytes for e in plan.entries if e.alert)
        for sid in plan.deferred:  # an alert waits only when even its cheapest cannot fit
            scene = by_id[sid]
            if scene.alert:
                assert min(c.bytes for c in scene.candidates) > budget - alert_bytes
        assert len(plan.entries) + len(plan.deferred) == len(scenes)
        for entry in plan.entries:
            assert entry.candidate in by_id[entry.scene_id].candidates


def test_alerts_take_the_pass_before_anything_else() -> None:
    cheap = (Candidate("jpeg2000", 0.5, 100, 0.5), Candidate("jpeg2000", 2.0, 300, 0.66))
    scenes = [QueuedScene(f"cloud{k}", "cloud", 2, cheap) for k in range(5)]
    scenes.append(QueuedScene("fire", "fire", 0, cheap))
    plan = plan_pass(scenes, 320)
    assert plan.entries[0].scene_id == "fire" and plan.entries[0].candidate.bytes == 300
    assert plan.planned_bytes <= 320


def _no_alerts(scenes: list[QueuedScene]) -> list[QueuedScene]:
    return [QueuedScene(s.scene_id, s.task, 2, s.candidates) for s in scenes]


def test_allocation_beats_a_fixed_rate_on_expected_f1() -> None:
    wins = 0
    for scenes, budget in _queues(60):
        scenes = _no_alerts(scenes)  # one weight: the plan's objective is the plain F1 sum
        plan = plan_pass(scenes, budget)
        for k in range(3):  # the paper's regime: every scene at the same rate point, in rank order
            fixed, left = 0.0, budget
            for s in sorted(scenes, key=lambda s: s.priority):
                c = s.candidates[k]
                if c.bytes <= left:
                    fixed, left = fixed + c.f1_expected, left - c.bytes
            # the hull greedy is within one scene's F1 of the optimum, which is >= fixed
            assert plan.f1_expected_sum >= fixed - 0.7
            wins += plan.f1_expected_sum > fixed + 1e-9
    assert wins >= 60  # strictly better than some fixed rate in most queues


def test_exhaustive_small_queues_are_near_optimal() -> None:
    rng = np.random.default_rng(5)
    for _ in range(30):
        scenes = _no_alerts([_scene(rng, k) for k in range(4)])
        budget = int(sum(s.candidates[1].bytes for s in scenes) * rng.uniform(0.3, 1.0))
        best = 0.0
        for pick in itertools.product(range(4), repeat=len(scenes)):  # 3 = not sent
            chosen = [s.candidates[p] for s, p in zip(scenes, pick, strict=True) if p < 3]
            if sum(c.bytes for c in chosen) <= budget:
                best = max(best, sum(c.f1_expected for c in chosen))
        assert plan_pass(scenes, budget).f1_expected_sum >= best - 0.7


def test_bad_inputs_are_refused() -> None:
    one = QueuedScene("a", "fire", 0, (Candidate("jpeg2000", 1.0, 10, 0.6),))
    with pytest.raises(ConfigurationError):
        plan_pass([one], -1)
    with pytest.raises(ConfigurationError):
        plan_pass([one, one], 100)


def test_a_worthless_cheapest_candidate_does_not_block_the_upgrades() -> None:
    # measured by the budget experiment: planned at 465 B with F1 0 before the hull was anchored
    offers = (
        Candidate("cheng2020-gmm", 0.1, 465, 0.0),
        Candidate("cheng2020-gmm", 0.2, 675, 0.098),
        Candidate("jpeg2000", 0.5, 2283, 0.476),
    )
    plan = plan_pass([QueuedScene("b1", "building", 2, offers)], 7200)
    assert [e.candidate.bytes for e in plan.entries] == [2283]


def test_room_left_carries_scenes_with_no_expected_gain_at_their_cheapest() -> None:
    useful = QueuedScene("c1", "cloud", 2, (Candidate("jpeg2000", 0.5, 1000, 0.6),))
    empty = QueuedScene(
        "c2", "cloud", 2, (Candidate("jpeg2000", 0.1, 300, 0.0), Candidate("jpeg2000", 1, 900, 0.0))
    )
    plan = plan_pass([useful, empty], 1400)
    assert {e.scene_id: e.candidate.bytes for e in plan.entries} == {"c1": 1000, "c2": 300}
    assert plan.planned_bytes <= 1400
