"""The onboard store: transitions, capacity, atomic files and recovery after a crash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from satellite_node.store import ContainerInfo, NewScene, SceneStore
from shared.durable import atomic_write
from shared.errors import ConflictError, NotFoundError, StorageFullError


def admit(
    store: SceneStore, raster: bytes = b"r" * 100, priority: int = 2, mask: bytes | None = None
) -> str:
    record = store.admit(
        NewScene(
            task="cloud",
            codec="jpeg2000",
            rate={"bpp": 1.0},
            priority=priority,
            raster_name="x.npy",
            raster=raster,
            mask=mask,
        )
    )
    return record.scene_id


def info(data: bytes) -> ContainerInfo:
    return ContainerInfo(
        container=data,
        sha256=hashlib.sha256(data).hexdigest(),
        codec_used="jpeg2000",
        bpp=1.0,
        payload_bpp=0.9,
        bits_per_sample=1.0,
        psnr_db=40.0,
        header={"bands": 1},
    )


def test_a_scene_walks_every_state_and_frees_its_files(tmp_path: Path) -> None:
    store = SceneStore(tmp_path, capacity_bytes=10_000)
    scene_id = admit(store, mask=b"m" * 10)
    assert store.get(scene_id).state == "received" and store.used_bytes() == 110
    store.mark_compressed(scene_id, info(b"c" * 40))
    assert store.get(scene_id).state == "compressed" and store.used_bytes() == 150
    store.mark_queued(scene_id)
    assert not store.raster_path(scene_id).exists() and not store.mask_path(scene_id).exists()
    assert store.used_bytes() == 40 and store.bytes_pending() == 40
    record = store.mark_downlinking(scene_id, 16)
    assert record.chunk_bytes == 16 and store.mark_downlinking(scene_id, 99).chunk_bytes == 16
    store.mark_delivered(scene_id, {"receipt_id": "r1"})
    record = store.get(scene_id)
    assert record.state == "delivered" and record.receipt == {"receipt_id": "r1"}
    assert not store.container_path(scene_id).exists() and store.used_bytes() == 0


def test_capacity_refuses_new_scenes_and_keeps_old_ones(tmp_path: Path) -> None:
    store = SceneStore(tmp_path, capacity_bytes=250)
    first = admit(store)
    admit(store)
    with pytest.raises(StorageFullError, match="store is full"):
        admit(store)
    assert store.get(first).state == "received" and len(store.list()) == 2


def test_priority_orders_the_send_queue_and_flags_more_urgent_work(tmp_path: Path) -> None:
    store = SceneStore(tmp_path, capacity_bytes=10_000)
    ids = {p: admit(store, priority=p) for p in (3, 0, 2)}
    for scene_id in ids.values():
        store.mark_compressed(scene_id, info(b"c"))
        store.mark_queued(scene_id)
    assert store.next_to_send().scene_id == ids[0]
    assert store.more_urgent_waiting(2) and not store.more_urgent_waiting(0)
    assert store.queue_depths() == {0: 1, 2: 1, 3: 1}


def test_transitions_refuse_out_of_order_steps(tmp_path: Path) -> None:
    store = SceneStore(tmp_path, capacity_bytes=10_000)
    scene_id = admit(store)
    with pytest.raises(ConflictError):
        store.mark_delivered(scene_id, {})
    with pytest.raises(NotFoundError):
        store.get("no-such-scene")


def test_failure_before_queueing_frees_files_but_after_keeps_the_container(tmp_path: Path) -> None:
    store = SceneStore(tmp_path, capacity_bytes=10_000)
    early, late = admit(store), admit(store)
    store.mark_failed(early, "bad raster")
    assert not store.raster_path(early).exists() and store.get(early).reason == "bad raster"
    store.mark_compressed(late, info(b"c" * 30))
    store.mark_queued(late)
    store.mark_failed(late, "ground refused")
    assert store.container_path(late).exists() and store.used_bytes() == 30


def test_recovery_after_a_crash_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    store = SceneStore(tmp_path, capacity_bytes=10_000)
    compressed, sending, delivered = admit(store), admit(store), admit(store)
    for scene_id in (compressed, sending, delivered):
        store.mark_compressed(scene_id, info(scene_id.encode()))
    for scene_id in (sending, delivered):
        store.mark_queued(scene_id)
        store.mark_downlinking(scene_id, 8)
    store.mark_delivered(delivered, {})
    # What a kill -9 can leave: a half-written temporary, a delivered scene's container not
    # yet unlinked, a raster written before its row committed.
    (store.containers_dir / ".x.eodl.1234.tmp").write_bytes(b"half")
    atomic_write(store.container_path(delivered), b"left over")
    atomic_write(store.raster_path("deadbeef"), b"orphan")
    store.close()

    reopened = SceneStore(tmp_path, capacity_bytes=10_000)
    report = reopened.recover()
    assert report.requeued == 1 and report.resuming == 1 and report.lost == ()
    assert report.orphans_removed == 3
    assert reopened.get(compressed).state == "queued"
    assert not reopened.raster_path(compressed).exists()
    assert reopened.next_to_send().scene_id == sending  # a started transfer resumes first
    assert reopened.read_container(sending) == sending.encode()
    assert sorted(p.name for p in reopened.containers_dir.iterdir()) == sorted(
        f"{s}.eodl" for s in (compressed, sending)
    )
    assert len(reopened.list()) == 3


def test_database_is_wal_with_full_sync(tmp_path: Path) -> None:
    store = SceneStore(tmp_path, capacity_bytes=1)
    assert store.db.query("PRAGMA journal_mode")[0][0] == "wal"
    assert store.db.query("PRAGMA synchronous")[0][0] == 2  # FULL
