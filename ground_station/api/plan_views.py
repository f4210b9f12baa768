"""The ground's view of a stored plan report (``GET /v1/plans``)."""

from __future__ import annotations

from shared.protocol.plans import PlanReport


class PlanView(PlanReport):
    """A stored plan report and when the ground received it."""

    received_at: str | None = None
    budget_used: float | None = None
