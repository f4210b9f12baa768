"""The acting pass plan (``SAT_PLAN=apply``): a background thread that decides what flies.

Compressed scenes wait ``held``. Whenever the queue changes, and at least every ``tick_s``, the
applier plans the open scenes (held, or released but not yet taken by the sender) of the pass
under way or the next one (:func:`satellite_node.planner.allocator.plan_pass`: alerts first,
then the most expected F1+ per byte) within what the pass has left (:class:`PassLedger`). Lower
rates than the stored ones (real re-encodes, :mod:`satellite_node.planner.candidates`) are offered
only when the pass cannot carry every open scene as stored: an uncontended pass sends what the
uploads asked for. Deferred scenes
are held; planned ones are re-encoded when the plan chose another rate (a held scene only, from
its kept raw raster) and released to the sender, which delivers them exactly as before: custody,
resume and the ground's deduplication are untouched. Once per pass the plan is reported to the
ground, from a thread of its own. The sender may take a released scene at any moment; a hold
or re-encode that loses that race leaves the scene to the sender, and the next re-plan counts
it as started.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from satellite_node.link.emulator import LinkEmulator
from satellite_node.planner.allocator import ALERT_RANK, PassPlan, PlanEntry, QueuedScene, plan_pass
from satellite_node.planner.budget import DEFAULT_HORIZON_S, pass_budget_bytes
from satellite_node.planner.candidates import CandidateLadder, Option
from satellite_node.planner.passes import PassLedger, ReleasedScene, pass_key
from satellite_node.store import SceneRecord, SceneStore
from satellite_node.store.states import SceneState
from shared.errors import ConflictError, EODownlinkError

LOG = logging.getLogger(__name__)
HISTORY_PASSES = 50
#: Link bytes reserved for the plan report (request and body; the body is cut to fit). A pass
#: too short to spare 1/8 of its budget for it sends no report (the ground keeps the last).
REPORT_RESERVE_BYTES = 2048
REPORT_MAX_SHARE = 8
NEW_LADDERS_PER_ROUND = 1


class PlanApplier:
    """Apply the pass plan to the store.

    Args:
        store: the onboard store.
        link: the emulated link (its profile and clock).
        ladder: each scene's options.
        chunk_bytes_for: the sender's chunk size for a link rate.
        report: sends a pass's plan to the ground (returns True once delivered), or None.
        on_release: called after scenes are released (wakes the sender).
        horizon_s: how far an always-up link is planned ahead.
        tick_s: the longest wait between two re-plans.
    """

    def __init__(
        self,
        store: SceneStore,
        link: LinkEmulator,
        ladder: CandidateLadder,
        *,
        chunk_bytes_for: Callable[[float], int],
        report: Callable[[dict[str, Any], threading.Event], bool] | None = None,
        on_release: Callable[[], None] | None = None,
        horizon_s: float = DEFAULT_HORIZON_S,
        tick_s: float = 0.5,
    ) -> None:
        self.store = store
        self.link = link
        self.ladder = ladder
        self.chunk_bytes_for = chunk_bytes_for
        self.report = report
        self.on_release = on_release
        self.horizon_s = horizon_s
        self.tick_s = tick_s
        self.wake = threading.Event()
        self.report_wake = threading.Event()
        self.history: deque[PassLedger] = deque(maxlen=HISTORY_PASSES)
        self._lock = threading.Lock()

    @property
    def current(self) -> PassLedger | None:
        """The ledger of the pass being planned, or None before the first plan."""
        return self.history[-1] if self.history else None

    def views(self) -> list[dict[str, Any]]:
        """The recent passes' ledgers as JSON-able dicts, oldest first (a consistent copy)."""
        with self._lock:
            return [ledger.view() for ledger in self.history]

    def run(self, stop: threading.Event) -> None:
        """Re-plan until ``stop`` is set; an error costs one round, never the thread."""
        while not stop.is_set():
            try:
                self.apply_once()
            except Exception:  # e.g. the disk filled during a re-encode: retry next round
                LOG.exception("applying the pass plan failed; retrying")
            self.wake.wait(self.tick_s)
            self.wake.clear()

    def apply_once(self) -> PassLedger | None:
        """Plan the open scenes now, hold or release them, report the plan once per pass."""
        with self._lock:
            ledger = self._ledger()
            if ledger is None:
                return None
            self._replan(ledger)
        if self.report is not None and not ledger.reported:
            self.report_wake.set()
        return ledger

    def run_reports(self, stop: threading.Event) -> None:
        """Send each pass's plan to the ground once, while the pass is on (its own thread, so
        a slow ground never delays planning)."""
        while not stop.is_set():
            ledger = self.current
            if self.report is not None and ledger is not None and not ledger.reported:
                if self.link.in_pass():
                    with self._lock:
                        view = ledger.view()
                    ledger.reported = self.report(view, stop)
            self.report_wake.wait(self.tick_s)
            self.report_wake.clear()

    def _ledger(self) -> PassLedger | None:
        profile, now = self.link.profile, self.link.elapsed()
        key, window = pass_key(profile, now, self.horizon_s)
        current = self.current
        if current is not None and current.key == key:
            return current
        if current is not None:
            current.link_bits_at_end = self.link.bits_sent
        if window is None:
            return None
        waiting = list(self.store.waiting())
        chunk = self.chunk_bytes_for(profile.rate_bps)
        carried = {
            r.scene_id: self.ladder.stored(r, r.chunk_bytes or chunk).candidate.bytes
            for r in waiting
            if r.state == SceneState.DOWNLINKING
        }
        carried = _outstanding(carried, current)
        budget = pass_budget_bytes(profile, now, self.horizon_s)
        reports = self.report is not None and budget >= REPORT_MAX_SHARE * REPORT_RESERVE_BYTES
        reserve = REPORT_RESERVE_BYTES if reports else 0
        ledger = PassLedger(
            key=key,
            planned_at_s=now,
            pass_start_s=window[0],
            pass_end_s=window[1],
            budget_bytes=budget,
            report_reserve_bytes=reserve,
            reported=not reports,
            carried=carried,
            link_bits_at_start=self.link.bits_sent,
        )
        self.history.append(ledger)
        LOG.info("pass %s: budget %d bytes", key, ledger.budget_bytes)
        return ledger

    def _replan(self, ledger: PassLedger) -> None:
        records = [
            r for r in self.store.waiting() if r.state in (SceneState.HELD, SceneState.QUEUED)
        ]
        records.sort(key=lambda r: (r.priority, r.seq))
        self.ladder.forget({r.scene_id for r in self.store.waiting()})
        chunk = self.chunk_bytes_for(self.link.profile.rate_bps)
        open_ids = {r.scene_id for r in records}
        available = ledger.available_bytes(open_ids)
        options = {r.scene_id: [self.ladder.stored(r, chunk)] for r in records}
        if sum(o[0].candidate.bytes for o in options.values()) > available:
            # contended: only now may rates drop below what the uploads asked. One scene's
            # re-encodes are made per round (most urgent first), so a round stays short.
            new_ladders = NEW_LADDERS_PER_ROUND
            for record in records:
                encode = new_ladders > 0 and not self.ladder.has_ladder(record.scene_id)
                new_ladders -= int(encode)
                options[record.scene_id] = self.ladder.options(record, chunk, encode=encode)
            if new_ladders <= 0:
                self.wake.set()  # more ladders to make: the next round comes at once
        queue = [
            QueuedScene(
                r.scene_id, r.task, r.priority, tuple(o.candidate for o in options[r.scene_id])
            )
            for r in records
        ]
        plan = self._alerts_first(ledger, queue, available)
        if not plan.entries and queue and ledger.committed_bytes(open_ids) == 0:
            plan = _oversize(ledger, queue)
        self._act(ledger, plan, {r.scene_id: r for r in records}, options)

    def _alerts_first(
        self, ledger: PassLedger, queue: list[QueuedScene], available: int
    ) -> PassPlan:
        """Plan alerts, then the rest in what the alerts leave.

        An alert may use what the link can still carry in this pass even when started scenes
        have been promised those bytes: the sender pre-empts them within a chunk and they
        resume in a later pass (the ledger notes the bytes as ``alert_overcommit_bytes``).
        """
        sent = (self.link.bits_sent - ledger.link_bits_at_start) // 8
        room = max(available, ledger.budget_bytes - ledger.report_reserve_bytes - sent)
        alerts = plan_pass([q for q in queue if q.alert], room)
        left = max(0, available - alerts.planned_bytes)
        rest = plan_pass([q for q in queue if not q.alert], left)
        ledger.alert_overcommit_bytes = max(
            ledger.alert_overcommit_bytes, alerts.planned_bytes - available
        )
        return PassPlan(
            ledger.budget_bytes, alerts.entries + rest.entries, alerts.deferred + rest.deferred
        )

    def _act(
        self,
        ledger: PassLedger,
        plan: PassPlan,
        records: dict[str, SceneRecord],
        options: dict[str, list[Option]],
    ) -> None:
        """Hold what the plan defers, then re-encode and release what it sends, in order.

        The sender may take a released scene at any moment. When it took one the plan meant
        to hold back or re-encode, that scene flies as stored: it is booked to this pass, the
        rest of the revision is dropped (nothing more is released on a stale plan) and the
        next round re-plans at once.
        """
        ledger.revisions += 1
        stale = False
        for scene_id in plan.deferred:
            if records[scene_id].state == SceneState.HELD or _quietly(
                self.store.plan.hold, scene_id
            ):
                ledger.released.pop(scene_id, None)
                continue
            stale = True  # the sender took it just now: it flies in this pass
            ledger.released.setdefault(scene_id, _booked(records[scene_id], options[scene_id][0]))
        released = 0
        for entry in [] if stale else plan.entries:
            scene_options = options[entry.scene_id]
            chosen = next(o for o in scene_options if o.candidate is entry.candidate)
            taken = self._take(records[entry.scene_id], chosen, scene_options[0])
            if taken is None:
                ledger.released.pop(entry.scene_id, None)
                continue
            ledger.released[entry.scene_id] = _booked(records[entry.scene_id], taken)
            released += 1
            if taken is not chosen:
                stale = True
                break
        ledger.deferred = list(plan.deferred)
        if stale:
            self.wake.set()
        if released and self.on_release is not None:
            self.on_release()

    def _take(self, record: SceneRecord, option: Option, stored: Option) -> Option | None:
        """Re-encode (when the option is a new container) and release the scene.

        Returns:
            The option that flies (``stored`` when the sender took the scene first), or None
            when the re-encode could not be applied: the scene then stays held.
        """
        if option.info is not None:
            if record.state == SceneState.QUEUED and not _quietly(
                self.store.plan.hold, record.scene_id
            ):
                return stored  # the sender took it at its stored rate
            try:
                self.store.plan.replace_container(record.scene_id, option.info)
            except (ConflictError, EODownlinkError, OSError) as exc:
                LOG.warning("re-encode of %s not applied: %s", record.scene_id, exc)
                return None
            self.ladder.stored_target[record.scene_id] = float(option.target_bpp or 0.0)
            LOG.info(
                "scene %s re-encoded for the pass at %.3f bpp (%d bytes)",
                record.scene_id,
                option.candidate.bpp,
                option.container_bytes,
            )
        if record.state == SceneState.HELD or option.info is not None:
            _quietly(self.store.plan.release, record.scene_id)
        return option


def _outstanding(carried: dict[str, int], previous: PassLedger | None) -> dict[str, int]:
    """What started transfers still need: their link bytes, scaled down to what the previous
    pass promised and did not carry (their progress is the sender's; this is its upper bound
    when the previous pass carried only its own promises)."""
    total = sum(carried.values())
    if previous is None or previous.link_bits_at_end is None or total == 0:
        return carried
    sent = (previous.link_bits_at_end - previous.link_bits_at_start) // 8
    promised = sum(previous.carried.values()) + sum(
        r.link_bytes for r in previous.released.values()
    )
    left = min(total, max(0, promised - sent))
    return {sid: math.ceil(size * left / total) for sid, size in carried.items()}


def _booked(record: SceneRecord, option: Option) -> ReleasedScene:
    """The ledger's line for a scene flying in this pass as ``option``."""
    return ReleasedScene(
        record.scene_id,
        record.task,
        record.priority,
        record.priority <= ALERT_RANK,
        option.candidate.codec,
        round(option.candidate.bpp, 4),
        option.container_bytes,
        option.candidate.bytes,
        round(option.candidate.f1_expected, 4),
        option.info is not None or record.container_version > 1,
    )


def _oversize(ledger: PassLedger, queue: list[QueuedScene]) -> PassPlan:
    """Send the most urgent scene although no pass can carry it whole: it resumes across passes
    (the protocol's resume) instead of waiting for ever. Recorded as ``oversize_scene``."""
    first = min(queue, key=lambda q: (not q.alert, q.priority))
    cheapest = min(first.candidates, key=lambda c: c.bytes)
    ledger.oversize_scene = first.scene_id
    entry = PlanEntry(first.scene_id, first.task, first.priority, first.alert, cheapest)
    rest = tuple(q.scene_id for q in queue if q.scene_id != first.scene_id)
    return PassPlan(ledger.budget_bytes, (entry,), rest)


def _quietly(transition: Callable[[str], None], scene_id: str) -> bool:
    """Run a store transition; False when the scene moved on meanwhile (the sender took it)."""
    try:
        transition(scene_id)
    except ConflictError:
        return False
    return True
