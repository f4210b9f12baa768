"""``GET /v1/plan``: what the next pass will carry, chosen by the pass-budget allocator.

With ``SAT_PLAN=advise`` the plan is computed on request: each queued scene is one real
container (its size is the bytes that will cross the link), and the plan chooses which fit
the next pass, alerts first, and what waits; expected F1+ comes from the F1-vs-bpp curves
(:mod:`satellite_node.planner.curves`). With ``SAT_PLAN=apply`` it is the plan the node is acting on
(:mod:`satellite_node.planner.applier`: rates chosen, re-encodes made, sizes in link bytes);
``GET /v1/plan/applied`` lists the recent passes' ledgers.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from satellite_node.api.deps import ContextDep
from satellite_node.planner.allocator import Candidate, PassPlan, QueuedScene, plan_pass
from satellite_node.planner.budget import DEFAULT_HORIZON_S, next_pass, pass_budget_bytes
from satellite_node.planner.curves import CurveBook
from satellite_node.priority import priority_name
from satellite_node.store import SceneRecord
from satellite_node.store.states import WAITING
from shared.errors import UnknownNameError
from shared.protocol.routes import PLAN

router = APIRouter(prefix=PLAN, tags=["plan"])


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
    link_bytes: int | None = None
    reencoded: bool = False


class PlanView(BaseModel):
    """The next pass's plan."""

    pass_start_s: float | None
    pass_end_s: float | None
    budget_bytes: int
    planned_bytes: int
    f1_expected_sum: float
    scenes: list[PlannedScene]
    deferred: list[str]
    mode: str = "advise"
    #: "task/codec" -> where its F1-vs-bpp curve comes from: measured, or the paper's prior
    curve_sources: dict[str, str] = {}


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
    context: ContextDep,
    horizon_s: float = Query(DEFAULT_HORIZON_S, gt=0, le=86_400),
) -> PlanView:
    """The next pass (or the one under way): its byte budget and the scenes it will carry."""
    applied = context.planner.views() if context.planner is not None else []
    curves = CurveBook.shipped()
    if applied:
        return _applied_view(applied[-1]).model_copy(update={"curve_sources": curves.sources()})
    profile, now = context.link.profile, context.link.elapsed()
    records = [r for state in WAITING for r in context.store.list(state=state, limit=10_000)]
    records.sort(key=lambda r: (r.priority, r.seq))
    queue = [_queued(r, curves) for r in records if r.container_bytes]
    budget = pass_budget_bytes(profile, now, horizon_s)
    view = _view(plan_pass(queue, budget), next_pass(profile, now, horizon_s))
    return view.model_copy(update={"curve_sources": curves.sources()})


def _applied_view(ledger: dict[str, Any]) -> PlanView:
    scenes = [
        PlannedScene(
            scene_id=r["scene_id"],
            task=r["task"],
            priority=priority_name(r["priority"]),
            alert=r["alert"],
            codec=r["codec"],
            bpp=r["bpp"],
            container_bytes=r["container_bytes"],
            f1_expected=r["f1_expected"],
            measured_bytes=True,
            link_bytes=r["link_bytes"],
            reencoded=r["reencoded"],
        )
        for r in ledger["scenes"]
    ]
    return PlanView(
        pass_start_s=ledger["pass_start_s"],
        pass_end_s=ledger["pass_end_s"],
        budget_bytes=ledger["budget_bytes"],
        planned_bytes=ledger["released_bytes"] + ledger["carried_bytes"],
        f1_expected_sum=round(sum(s.f1_expected for s in scenes), 4),
        scenes=scenes,
        deferred=ledger["deferred"],
        mode="apply",
    )


@router.get("/applied")
def get_applied(context: ContextDep) -> list[dict[str, Any]]:
    """The ledgers of the recent passes under ``SAT_PLAN=apply`` (oldest first): budget, link
    bytes carried over, released and actually sent, scenes released and deferred."""
    return context.planner.views() if context.planner is not None else []
