"""Pass-budget rate allocation: choose each queued scene's codec and rate for the next pass.

The problem is a multiple-choice knapsack: every scene offers a few candidates (codec, bpp,
bytes, expected F1+) or is deferred; the pass carries at most ``budget_bytes``. Alerts come
first, unconditionally: they are admitted in rank order at their cheapest candidate, then
upgraded in rank order to the best candidate that fits, before any other scene is considered.
The rest share what is left by the greedy on the upper convex hull of each scene's (bytes, F1)
candidates: upgrades are taken in order of expected F1 gained per byte (weighted by rank), each
only when it fits. The plan never holds more bytes than the budget: every step checks it.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import ConfigurationError

ALERT_RANK = 0  # satellite_node.priority: 0 = alert (fire by default)


@dataclass(frozen=True)
class Candidate:
    """One way to send a scene.

    Attributes:
        codec: registry name.
        bpp: container bits per pixel.
        bytes: container size; real when ``measured`` (the bytes of an encoded container).
        f1_expected: expected F1+ from the task's F1-vs-bpp curve.
        measured: ``bytes`` is the length of a real container, not an estimate.
    """

    codec: str
    bpp: float
    bytes: int
    f1_expected: float
    measured: bool = True


@dataclass(frozen=True)
class QueuedScene:
    """A scene waiting onboard, with its candidates (rank 0 most urgent, 0 = alert)."""

    scene_id: str
    task: str
    priority: int
    candidates: tuple[Candidate, ...]

    @property
    def alert(self) -> bool:
        """True for a fire alert (or any priority ranked as one)."""
        return self.priority <= ALERT_RANK


@dataclass(frozen=True)
class PlanEntry:
    """A scene the plan sends, in send order."""

    scene_id: str
    task: str
    priority: int
    alert: bool
    candidate: Candidate


@dataclass(frozen=True)
class PassPlan:
    """What the next pass carries, in order, and what waits."""

    budget_bytes: int
    entries: tuple[PlanEntry, ...]
    deferred: tuple[str, ...]

    @property
    def planned_bytes(self) -> int:
        """Bytes of every scene the plan sends."""
        return sum(e.candidate.bytes for e in self.entries)

    @property
    def f1_expected_sum(self) -> float:
        """Sum of the F1 the plan expects of its scenes."""
        return sum(e.candidate.f1_expected for e in self.entries)


def _weight(priority: int) -> float:
    """More urgent ranks count more: rank 1 twice rank 3, rank 2 1.5 times."""
    return 1.0 + max(0, 4 - priority) / 2.0


def _hull(candidates: tuple[Candidate, ...]) -> list[Candidate]:
    """The upper convex hull of (bytes, F1) seen from (0 bytes, 0 F1): the efficient upgrade path.

    Anchoring at the origin matters: a cheapest candidate with little or no expected F1 would
    otherwise be the first step, rank last by gain per byte and block every upgrade behind it.
    """
    origin = Candidate(codec="", bpp=0.0, bytes=0, f1_expected=0.0)
    pts = sorted((c for c in candidates if c.bytes > 0), key=lambda c: (c.bytes, -c.f1_expected))
    hull: list[Candidate] = [origin]
    for c in pts:
        if c.f1_expected <= hull[-1].f1_expected:
            continue  # costs more for no gain
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            slope_ab = (b.f1_expected - a.f1_expected) / (b.bytes - a.bytes)
            slope_bc = (c.f1_expected - b.f1_expected) / (c.bytes - b.bytes)
            if slope_bc < slope_ab:
                break
            hull.pop()
        hull.append(c)
    return hull[1:]


def _place_alerts(alerts: list[QueuedScene], budget: int) -> tuple[dict[str, Candidate], int]:
    """Admit alerts at their cheapest candidate in rank order, then upgrade them in rank order."""
    chosen: dict[str, Candidate] = {}
    left = budget
    for scene in alerts:
        cheapest = min(scene.candidates, key=lambda c: c.bytes, default=None)
        if cheapest is not None and cheapest.bytes <= left:
            chosen[scene.scene_id] = cheapest
            left -= cheapest.bytes
    for scene in alerts:
        current = chosen.get(scene.scene_id)
        if current is None:
            continue
        fits = [c for c in scene.candidates if c.bytes - current.bytes <= left]
        best = max(fits, key=lambda c: (c.f1_expected, -c.bytes))
        left -= best.bytes - current.bytes
        chosen[scene.scene_id] = best
    return chosen, left


def _place_others(others: list[QueuedScene], budget: int) -> dict[str, Candidate]:
    """Greedy upgrades by weighted F1 per byte along each scene's hull, each only if it fits."""
    steps: list[tuple[float, int, str, int]] = []  # (-gain per byte, order, scene_id, hull index)
    hulls = {s.scene_id: _hull(s.candidates) for s in others}
    weights = {s.scene_id: _weight(s.priority) for s in others}
    for order, scene in enumerate(others):
        prev_bytes, prev_f1 = 0, 0.0
        for k, c in enumerate(hulls[scene.scene_id]):
            gain = weights[scene.scene_id] * (c.f1_expected - prev_f1) / (c.bytes - prev_bytes)
            steps.append((-gain, order, scene.scene_id, k))
            prev_bytes, prev_f1 = c.bytes, c.f1_expected
    steps.sort()
    level: dict[str, int] = {}
    left = budget
    for _, _, scene_id, k in steps:
        if level.get(scene_id, -1) != k - 1:
            continue  # an earlier step of this scene did not fit: its path stops here
        hull = hulls[scene_id]
        extra = hull[k].bytes - (hull[k - 1].bytes if k else 0)
        if extra <= left:
            level[scene_id] = k
            left -= extra
    chosen = {sid: hulls[sid][k] for sid, k in level.items()}
    for scene in others:  # what is left carries scenes no upgrade reached, at their cheapest
        cheapest = min(scene.candidates, key=lambda c: c.bytes, default=None)
        if scene.scene_id not in chosen and cheapest is not None and cheapest.bytes <= left:
            chosen[scene.scene_id] = cheapest
            left -= cheapest.bytes
    return chosen


def plan_pass(scenes: list[QueuedScene], budget_bytes: int) -> PassPlan:
    """Choose what the next pass sends: alerts first, then the most expected F1 per byte.

    Args:
        scenes: the queue (order breaks ties: earlier first).
        budget_bytes: what the next pass can carry (see :func:`pass_budget_bytes`).

    Returns:
        The plan: entries in send order (alerts by rank, then the rest by rank), never more
        bytes than ``budget_bytes``, and the deferred scene ids.

    Raises:
        ConfigurationError: a negative budget, or a scene id that appears twice.
    """
    if budget_bytes < 0:
        raise ConfigurationError(f"the pass budget must be >= 0 bytes, got {budget_bytes}")
    ids = [s.scene_id for s in scenes]
    if len(set(ids)) != len(ids):
        raise ConfigurationError("each queued scene must appear once; scene ids repeat")
    order = {sid: i for i, sid in enumerate(ids)}
    alerts = sorted((s for s in scenes if s.alert), key=lambda s: (s.priority, order[s.scene_id]))
    others = [s for s in scenes if not s.alert]
    chosen, left = _place_alerts(alerts, budget_bytes)
    chosen.update(_place_others(others, left))
    ranked = sorted(scenes, key=lambda s: (not s.alert, s.priority, order[s.scene_id]))
    entries = tuple(
        PlanEntry(s.scene_id, s.task, s.priority, s.alert, chosen[s.scene_id])
        for s in ranked
        if s.scene_id in chosen
    )
    deferred = tuple(s.scene_id for s in ranked if s.scene_id not in chosen)
    return PassPlan(budget_bytes, entries, deferred)
