"""The plan applier on a real store with real containers and a link on a controlled clock:
what it holds, releases and re-encodes, pass by pass (no sender: the test plays it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sat_harness import npy, raster_for
from test_plan_apply import fire_patch

from satellite_node.link.emulator import LinkEmulator
from satellite_node.link.profile import LinkProfile
from satellite_node.planner.applier import PlanApplier
from satellite_node.planner.candidates import CandidateLadder
from satellite_node.planner.curves import CurveBook
from satellite_node.store import NewScene, SceneStore
from satellite_node.worker import CompressionWorker, QueuePolicy

CHUNK = 4096


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def admit(store: SceneStore, task: str, raster_bytes: bytes, bpp: float) -> str:
    priority = 0 if task == "fire" else 2
    record = store.admit(
        NewScene(
            task=task,
            codec="jpeg2000",
            rate={"bpp": bpp},
            priority=priority,
            raster_name="x.npy",
            raster=raster_bytes,
            mask=None,
        )
    )
    return record.scene_id


@pytest.fixture
def setup(tmp_path: Path) -> tuple[SceneStore, PlanApplier, Clock, list[str], str]:
    store = SceneStore(tmp_path, capacity_bytes=10**8)
    worker = CompressionWorker(store, policy=QueuePolicy(hold=True, raw_keep_bytes=10**8))
    clouds = [admit(store, "cloud", npy(raster_for("cloud", 40 + i)), 1.0) for i in range(4)]
    alert = admit(store, "fire", npy(fire_patch()[0]), 2.0)
    while (record := store.next_to_compress()) is not None:
        worker.process(record)
    clock = Clock()
    profile = LinkProfile(rate_bps=64_000, pass_period_s=10.0, pass_duration_s=2.0)
    link = LinkEmulator(profile, clock=clock)
    ladder = CandidateLadder(store, CurveBook.seeded(), "auto")
    applier = PlanApplier(store, link, ladder, chunk_bytes_for=lambda _: CHUNK)
    return store, applier, clock, clouds, alert


def released_bytes(applier: PlanApplier) -> int:
    ledger = applier.current
    assert ledger is not None
    return sum(r.link_bytes for r in ledger.released.values())


def test_a_contended_pass_holds_what_does_not_fit_and_re_encodes_alerts_first(setup) -> None:  # type: ignore[no-untyped-def]
    store, applier, clock, clouds, alert = setup
    assert {store.get(s).state for s in [*clouds, alert]} == {"held"}
    for _ in range(len(clouds) + 2):  # one scene's re-encodes per round
        ledger = applier.apply_once()
    assert ledger is not None and ledger.budget_bytes == 16_000
    assert released_bytes(applier) <= ledger.budget_bytes
    order = list(ledger.released)
    assert order[0] == alert and store.get(alert).state == "queued"
    queued = [s for s in clouds if store.get(s).state == "queued"]
    held = [s for s in clouds if store.get(s).state == "held"]
    assert held and queued and set(ledger.deferred) == set(held)
    reencoded = [s for s in queued if ledger.released[s].reencoded]
    assert reencoded  # the plan lowered a rate to fit more: the store holds the re-encode
    for sid in reencoded:
        record = store.get(sid)
        assert record.container_version > 1 and record.bpp == pytest.approx(
            ledger.released[sid].bpp, abs=1e-3
        )
        assert len(store.read_container(sid)) == record.container_bytes


def test_the_next_pass_sends_what_waited_and_an_idle_link_is_not_planned(setup) -> None:  # type: ignore[no-untyped-def]
    store, applier, clock, clouds, alert = setup
    for _ in range(len(clouds) + 2):
        first = applier.apply_once()
    assert first is not None
    for sid in list(first.released):  # the test plays the sender: deliver what was released
        store.mark_downlinking(sid, CHUNK)
        store.mark_delivered(sid, {"receipt_id": sid})
    clock.now = 5.0  # between passes: the plan is for the next one
    for _ in range(len(clouds) + 2):
        second = applier.apply_once()
    assert second is not None and second is not first and second.pass_start_s == 10.0
    assert set(second.released) == set(first.deferred) and not second.deferred
    assert {store.get(s).state for s in second.released} == {"queued"}
    assert released_bytes(applier) <= second.budget_bytes


def test_an_uncontended_pass_keeps_the_asked_rates(tmp_path: Path) -> None:
    store = SceneStore(tmp_path, capacity_bytes=10**8)
    worker = CompressionWorker(store, policy=QueuePolicy(hold=True, raw_keep_bytes=10**8))
    ids = [admit(store, "cloud", npy(raster_for("cloud", i)), 1.0) for i in range(2)]
    while (record := store.next_to_compress()) is not None:
        worker.process(record)
    link = LinkEmulator(LinkProfile(rate_bps=10e6), clock=Clock())
    ladder = CandidateLadder(store, CurveBook.seeded(), "auto")
    ledger = PlanApplier(store, link, ladder, chunk_bytes_for=lambda _: CHUNK).apply_once()
    assert ledger is not None and set(ledger.released) == set(ids)
    assert not any(r.reencoded for r in ledger.released.values())
    assert {store.get(s).container_version for s in ids} == {1}


def test_a_scene_no_pass_can_carry_is_sent_to_resume_across_passes(tmp_path: Path) -> None:
    store = SceneStore(tmp_path, capacity_bytes=10**8)
    worker = CompressionWorker(store, policy=QueuePolicy(hold=True))
    big = admit(store, "cloud", npy(raster_for("cloud", 1)), 4.0)
    while (record := store.next_to_compress()) is not None:
        worker.process(record)
    tiny_pass = LinkProfile(rate_bps=8_000, pass_period_s=10.0, pass_duration_s=1.0)
    link = LinkEmulator(tiny_pass, clock=Clock())  # 1,000 B per pass, a ~33 kB container
    ladder = CandidateLadder(store, CurveBook.seeded(), "auto")
    ledger = PlanApplier(store, link, ladder, chunk_bytes_for=lambda _: CHUNK).apply_once()
    assert ledger is not None and ledger.oversize_scene == big
    assert store.get(big).state == "queued"
