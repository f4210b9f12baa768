"""Plan reports: ``POST /v1/plans`` (signed, from the satellite, once per pass) and the reads
the dashboard shows (``GET /v1/plans``, ``GET /v1/plans/latest``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from ground_station.api.deps import ContextDep, ReadAccess, SignedJson
from ground_station.api.plan_views import PlanView
from ground_station.api.transfers import parse_body
from ground_station.db import PlanRecord, iso
from shared.errors import NotFoundError
from shared.protocol.plans import PlanReceipt, PlanReport
from shared.protocol.routes import PLANS

router = APIRouter(tags=["plans"])


def _view(record: PlanRecord) -> PlanView:
    view = PlanView.model_validate({**record.body, "received_at": iso(record.received_at)})
    if view.budget_bytes > 0:
        used = (view.released_bytes + view.carried_bytes) / view.budget_bytes
        view.budget_used = round(used, 4)
    return view


@router.post(PLANS, response_model=PlanReceipt)
def post_plan(body: SignedJson, context: ContextDep) -> PlanReceipt:
    """Keep a satellite's pass plan; a repeated ``plan_id`` returns the first receipt."""
    report = parse_body(PlanReport, body)
    with context.sessions() as session:
        record = session.get(PlanRecord, report.plan_id)
        if record is None:
            record = PlanRecord(
                plan_id=report.plan_id,
                satellite=report.satellite,
                budget_bytes=report.budget_bytes,
                body=report.model_dump(mode="json"),
            )
            session.add(record)
            session.commit()
        return PlanReceipt(plan_id=record.plan_id, received_at=iso(record.received_at))


@router.get(PLANS, response_model=list[PlanView], dependencies=[ReadAccess])
def list_plans(
    context: ContextDep, limit: Annotated[int, Query(ge=1, le=500)] = 20
) -> list[PlanView]:
    """The most recently received plans, newest first."""
    query = select(PlanRecord).order_by(PlanRecord.received_at.desc()).limit(limit)
    with context.sessions() as session:
        return [_view(r) for r in session.scalars(query)]


@router.get(PLANS + "/latest", response_model=PlanView, dependencies=[ReadAccess])
def latest_plan(context: ContextDep) -> PlanView:
    """The plan received last (what the satellite is sending in this or the last pass)."""
    plans = list_plans(context, limit=1)
    if not plans:
        raise NotFoundError("no plan received yet: the satellite reports one per pass")
    return plans[0]
