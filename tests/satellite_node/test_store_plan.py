"""The store under an acting plan: held scenes, raw rasters kept until delivery, re-encodes that
replace a container durably (a crash at any step leaves the row naming a complete file)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from test_store import admit, info

from satellite_node.store import SceneStore
from shared.durable import atomic_write
from shared.errors import ConflictError


def held_scene(store: SceneStore, container: bytes = b"c" * 40) -> str:
    scene_id = admit(store, mask=b"m" * 10)
    store.mark_compressed(scene_id, info(container))
    store.mark_queued(scene_id, keep_raw=True, hold=True)
    return scene_id


def test_held_scenes_wait_for_release_and_keep_their_raw_raster_until_delivery(
    tmp_path: Path,
) -> None:
    store = SceneStore(tmp_path, capacity_bytes=10_000)
    scene_id = held_scene(store)
    assert store.get(scene_id).state == "held" and store.next_to_send() is None
    assert store.raster_path(scene_id).exists() and store.plan.kept_raw_bytes() == 110
    assert store.used_bytes() == 150 and store.bytes_pending() == 40
    store.plan.release(scene_id)
    assert store.next_to_send().scene_id == scene_id  # type: ignore[union-attr]
    store.plan.hold(scene_id)
    assert store.next_to_send() is None
    store.plan.release(scene_id)
    store.mark_downlinking(scene_id, 16)
    with pytest.raises(ConflictError):
        store.plan.hold(scene_id)  # started: the sender keeps it
    store.mark_delivered(scene_id, {"receipt_id": "r"})
    assert not store.raster_path(scene_id).exists() and not store.mask_path(scene_id).exists()
    assert store.used_bytes() == 0 and store.plan.kept_raw_bytes() == 0


def test_a_re_encode_is_a_new_version_with_a_new_transfer_id(tmp_path: Path) -> None:
    store = SceneStore(tmp_path, capacity_bytes=10_000)
    scene_id = held_scene(store)
    record = store.plan.replace_container(scene_id, info(b"n" * 20))
    assert record.container_version == 2 and record.transfer_id == f"{scene_id}.2"
    assert store.read_container(scene_id) == b"n" * 20 and record.container_bytes == 20
    assert not store.container_path(scene_id, 1).exists()
    assert store.used_bytes() == 20 + 110
    store.plan.release(scene_id)
    with pytest.raises(ConflictError):  # only a held scene (never seen by the ground)
        store.plan.replace_container(scene_id, info(b"x" * 10))
    assert store.read_container(scene_id) == b"n" * 20
    assert sorted(p.name for p in store.containers_dir.iterdir()) == [f"{scene_id}.v2.eodl"]


def test_a_crash_in_the_middle_of_a_re_encode_loses_nothing(tmp_path: Path) -> None:
    store = SceneStore(tmp_path, capacity_bytes=10_000)
    before = held_scene(store)  # crash after the new file, before its row committed
    atomic_write(store.container_path(before, 2), b"half-way")
    after = held_scene(store)  # crash after the row committed, before the old file went
    store.plan.replace_container(after, info(b"n" * 20))
    atomic_write(store.container_path(after, 1), b"c" * 40)
    store.close()
    reopened = SceneStore(tmp_path, capacity_bytes=10_000)
    report = reopened.recover()
    assert report.orphans_removed == 2 and report.lost == ()
    assert reopened.read_container(before) == b"c" * 40
    assert reopened.read_container(after) == b"n" * 20
    assert reopened.get(before).state == "held" and reopened.raster_path(before).exists()


def test_a_kept_raw_raster_missing_at_restart_only_stops_re_encoding(tmp_path: Path) -> None:
    store = SceneStore(tmp_path, capacity_bytes=10_000)
    scene_id = held_scene(store)
    store.raster_path(scene_id).unlink()
    store.close()
    reopened = SceneStore(tmp_path, capacity_bytes=10_000)
    assert reopened.recover().lost == ()
    record = reopened.get(scene_id)
    assert record.state == "held" and not record.raw_kept and reopened.used_bytes() == 40


def test_release_all_held_queues_every_held_scene(tmp_path: Path) -> None:
    store = SceneStore(tmp_path, capacity_bytes=10_000)
    ids = [held_scene(store) for _ in range(3)]
    assert store.plan.release_all_held() == 3
    assert {store.get(i).state for i in ids} == {"queued"}


def test_a_store_from_before_the_plan_upgrades_in_place(tmp_path: Path) -> None:
    store = SceneStore(tmp_path, capacity_bytes=10_000)
    scene_id = admit(store)
    store.close()
    with sqlite3.connect(tmp_path / "scenes.sqlite3") as db:  # drop the columns added since
        db.execute("ALTER TABLE scenes DROP COLUMN raw_kept")
        db.execute("ALTER TABLE scenes DROP COLUMN container_version")
    reopened = SceneStore(tmp_path, capacity_bytes=10_000)
    record = reopened.get(scene_id)
    assert record.container_version == 1 and not record.raw_kept


def test_a_new_scene_outranks_kept_raw_rasters_when_the_store_is_full(tmp_path: Path) -> None:
    store = SceneStore(tmp_path, capacity_bytes=400)
    kept = [held_scene(store) for _ in range(2)]  # 2 x (40 container + 110 raw kept)
    assert store.used_bytes() == 300
    newcomer = admit(store, raster=b"r" * 150)  # fits only once one raw raster is released
    assert store.get(newcomer).state == "received" and store.used_bytes() == 340
    assert [store.get(k).raw_kept for k in kept].count(False) == 1
    assert store.read_container(kept[0]) == b"c" * 40  # the containers still fly
