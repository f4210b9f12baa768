"""Book-keeping of one pass under an acting plan: its budget and what has been committed to it.

The budget is fixed when the pass is first planned (the link's rate times the pass's up time
from then on). Transfers started in an earlier pass are carried at what that pass promised and
did not carry (at most their whole link bytes). Every later re-plan in the same pass (a new
scene, an alert) shares only what is left: the budget minus the link bytes of scenes already
started in it (carried over, or released by this pass's plan and taken by the sender) and the
plan report's reserve. So however often the pass is re-planned, the scenes it sends never hold
more bytes than its budget. The one exception is an alert that arrives when the pass's bytes
are promised to scenes already started: it goes anyway (the sender pre-empts them within a
chunk; they resume later), and the ledger records the promise it broke as
``alert_overcommit_bytes``. The link itself never carries more than the pass's up time allows.
A scene larger than a whole pass can carry is sent when nothing else is planned
(``oversize_scene``): it resumes across passes rather than waiting for ever.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from satellite_node.link.profile import LinkProfile
from satellite_node.planner.budget import next_pass


@dataclass(frozen=True)
class ReleasedScene:
    """A scene a pass's plan released to the sender."""

    scene_id: str
    task: str
    priority: int
    alert: bool
    codec: str
    bpp: float
    container_bytes: int
    link_bytes: int
    f1_expected: float
    reencoded: bool


@dataclass
class PassLedger:
    """One pass: its budget, the bytes committed to it, and what it released and deferred."""

    key: str
    planned_at_s: float
    pass_start_s: float | None
    pass_end_s: float | None
    budget_bytes: int
    report_reserve_bytes: int
    carried: dict[str, int]
    link_bits_at_start: int
    released: dict[str, ReleasedScene] = field(default_factory=dict)
    deferred: list[str] = field(default_factory=list)
    revisions: int = 0
    alert_overcommit_bytes: int = 0
    oversize_scene: str | None = None
    reported: bool = False
    link_bits_at_end: int | None = None

    def committed_bytes(self, open_ids: set[str]) -> int:
        """Link bytes already spoken for: carried scenes, released scenes the sender took."""
        taken = sum(r.link_bytes for sid, r in self.released.items() if sid not in open_ids)
        return sum(self.carried.values()) + taken

    def available_bytes(self, open_ids: set[str]) -> int:
        """What a re-plan of the open scenes may still use."""
        spent = self.committed_bytes(open_ids) + self.report_reserve_bytes
        return max(0, self.budget_bytes - spent)

    def view(self) -> dict[str, Any]:
        """A JSON-able summary (``GET /v1/plan/applied`` and the plan report)."""
        sent = None
        if self.link_bits_at_end is not None:
            sent = (self.link_bits_at_end - self.link_bits_at_start) // 8
        return {
            "pass_key": self.key,
            "planned_at_s": self.planned_at_s,
            "pass_start_s": self.pass_start_s,
            "pass_end_s": self.pass_end_s,
            "budget_bytes": self.budget_bytes,
            "carried_bytes": sum(self.carried.values()),
            "released_bytes": sum(r.link_bytes for r in self.released.values()),
            "report_reserve_bytes": self.report_reserve_bytes,
            "link_bytes_sent": sent,
            "revisions": self.revisions,
            "alert_overcommit_bytes": self.alert_overcommit_bytes,
            "oversize_scene": self.oversize_scene,
            "scenes": [vars(r) for r in self.released.values()],
            "deferred": list(self.deferred),
        }


def pass_key(profile: LinkProfile, now_s: float, horizon_s: float) -> tuple[str, Any]:
    """An id of the pass that ``now_s`` plans for, and its (start, end) window or None.

    With passes or windows, a pass is its up interval (named by its end); an always-up link
    is cut into ``horizon_s`` slices, each planned as a pass.
    """
    window = next_pass(profile, now_s, horizon_s)
    if window is None:
        return "none", None
    has_passes = profile.pass_period_s is not None or bool(profile.windows)
    if not has_passes and not profile.outages:
        return f"slice-{math.floor(now_s / horizon_s)}", window
    return f"pass-{window[1]:.3f}", window
