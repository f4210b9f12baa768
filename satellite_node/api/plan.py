"""``GET /v1/plan``: what the next pass will carry, chosen by the pass-budget allocator.

Onboard, each queued scene is already one real container (its size is the bytes that will
cross the link), so the plan chooses which scenes fit the next pass, alerts first, and what
waits; expected F1+ comes from the F1-vs-bpp curves (:mod:`shared.planning.curves`).
"""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel

from satellite_node.api.deps import ServicesDep
from satellite_node.priority import priority_name
from satellite_node.store import SceneRecord
from shared.errors import UnknownNameError
from shared.planning.allocator import Candidate, PassPlan, QueuedScene, plan_pass
from shared.planning.budget import DEFAULT_HORIZON_S, next_pass, pass_budget_bytes
from shared.planning.curves import CurveBook

router = APIRouter(prefix="/v1/plan", tags=["plan"])
WAITING = ("queued", "downlinking")


class PlannedScene(BaseModel):
    """One scene of the plan, in send order."""

    scene_id: str
    task: str
    priority: str
    alert: bool
    codec: str
    bpp: float
    container_bytes: int
    f1_expected: float
    measured_bytes: bool


class PlanView(BaseModel):
    """The next pass's plan."""

    pass_start_s: float | None
    pass_end_s: float | None
    budget_bytes: int
    planned_bytes: int
    f1_expected_sum: float
    scenes: list[PlannedScene]
    deferred: list[str]


def _queued(record: SceneRecord, curves: CurveBook) -> QueuedScene:
    codec = record.codec_used or record.codec
    bpp = record.bpp or 0.0
    try:
        f1 = curves.f1_at(record.task, codec, bpp)
    except UnknownNameError:
        f1 = 0.0  # no curve for this codec yet: it still goes, on rank and size alone
    size = record.container_bytes or 0
    return QueuedScene(
        record.scene_id, record.task, record.priority, (Candidate(codec, bpp, size, f1),)
    )


def _view(plan: PassPlan, window: tuple[float, float] | None) -> PlanView:
    scenes = [
        PlannedScene(
            scene_id=e.scene_id,
            task=e.task,
            priority=priority_name(e.priority),
            alert=e.alert,
            codec=e.candidate.codec,
            bpp=e.candidate.bpp,
            container_bytes=e.candidate.bytes,
            f1_expected=round(e.candidate.f1_expected, 4),
            measured_bytes=e.candidate.measured,
        )
        for e in plan.entries
    ]
    return PlanView(
        pass_start_s=None if window is None else window[0],
        pass_end_s=None if window is None else window[1],
        budget_bytes=plan.budget_bytes,
        planned_bytes=plan.planned_bytes,
        f1_expected_sum=round(plan.f1_expected_sum, 4),
        scenes=scenes,
        deferred=list(plan.deferred),
    )


@router.get("")
def get_plan(
    services: ServicesDep,
    horizon_s: float = Query(DEFAULT_HORIZON_S, gt=0, le=86_400),
) -> PlanView:
    """The next pass (or the one under way): its byte budget and the scenes it will carry."""
    profile, now = services.link.profile, services.link.elapsed()
    curves = CurveBook.seeded()
    records = [r for state in WAITING for r in services.store.list(state=state, limit=10_000)]
    records.sort(key=lambda r: (r.priority, r.seq))
    queue = [_queued(r, curves) for r in records if r.container_bytes]
    budget = pass_budget_bytes(profile, now, horizon_s)
    return _view(plan_pass(queue, budget), next_pass(profile, now, horizon_s))
