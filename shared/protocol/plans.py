"""The plan report a satellite sends once per pass (``POST /v1/plans``) and the ground's answer.

Both sides use these models: the satellite builds a :class:`PlanReport`
(``satellite_node.planner.report``), the ground validates the same model and answers a
:class:`PlanReceipt`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.protocol.messages import ID_PATTERN

MAX_PLANNED_SCENES = 2000


class PlannedSceneReport(BaseModel):
    """One scene a pass's plan sends, in send order."""

    model_config = ConfigDict(extra="ignore")

    scene_id: str = Field(pattern=ID_PATTERN)
    task: str = Field(max_length=64)
    priority: int = Field(ge=0, le=1000)
    alert: bool
    codec: str = Field(max_length=64)
    bpp: float = Field(ge=0)
    container_bytes: int = Field(ge=0)
    link_bytes: int = Field(ge=0)
    f1_expected: float = Field(ge=0, le=1)
    reencoded: bool = False


class PlanReport(BaseModel):
    """A pass's plan: its byte budget, what it sends at which codec and rate, what waits."""

    model_config = ConfigDict(extra="ignore")

    plan_id: str = Field(min_length=1, max_length=160)
    satellite: str = Field(min_length=1, max_length=64)
    sent_at: float
    pass_key: str = Field(max_length=64)
    pass_start_s: float | None = None
    pass_end_s: float | None = None
    budget_bytes: int = Field(ge=0)
    carried_bytes: int = Field(default=0, ge=0)
    released_bytes: int = Field(ge=0)
    report_reserve_bytes: int = Field(default=0, ge=0)
    revisions: int = Field(default=0, ge=0)
    scenes: list[PlannedSceneReport] = Field(max_length=MAX_PLANNED_SCENES)
    deferred: list[str] = Field(default_factory=list, max_length=100_000)
    f1_expected_sum: float = Field(ge=0)
    scene_count: int = Field(ge=0)


class PlanReceipt(BaseModel):
    """The ground's answer to a plan report (the same for a repeated one)."""

    plan_id: str
    received_at: str | None
