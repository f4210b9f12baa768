"""The scene state machine: the store makes only the moves its table allows."""

from __future__ import annotations

from pathlib import Path

import pytest

from satellite_node.store import NewScene, SceneState, SceneStore
from satellite_node.store.states import TRANSITIONS, sources
from shared.errors import ConfigurationError, ConflictError

S = SceneState


def _store_with_a_scene(tmp_path: Path) -> tuple[SceneStore, str]:
    store = SceneStore(tmp_path, capacity_bytes=10**6)
    scene = NewScene("fire", "jpeg2000", {"bpp": 2.0}, 0, "x.npy", b"r" * 10)
    return store, store.admit(scene).scene_id


def test_a_new_scene_is_received_and_its_state_is_typed(tmp_path: Path) -> None:
    store, scene_id = _store_with_a_scene(tmp_path)
    record = store.get(scene_id)
    assert record.state is S.RECEIVED and record.state == "received"


def test_the_table_is_the_lifecycle_and_ends_in_delivered_or_failed() -> None:
    assert sources(S.COMPRESSED) == (S.RECEIVED,)
    assert set(sources(S.FAILED)) == {S.RECEIVED, S.COMPRESSED, S.HELD, S.QUEUED, S.DOWNLINKING}
    assert TRANSITIONS[S.DELIVERED] == TRANSITIONS[S.FAILED] == frozenset()
    assert all(S.RECEIVED not in targets for targets in TRANSITIONS.values())  # no way back


@pytest.mark.parametrize("target", [S.DELIVERED, S.DOWNLINKING, S.QUEUED, S.HELD])
def test_a_move_the_table_does_not_allow_is_refused(tmp_path: Path, target: SceneState) -> None:
    store, scene_id = _store_with_a_scene(tmp_path)
    with pytest.raises(ConflictError, match="is not in state"):
        store.db.move(scene_id, target)  # received goes only to compressed or failed
    assert store.get(scene_id).state is S.RECEIVED


def test_a_narrowed_move_outside_the_table_is_a_bug_not_a_conflict(tmp_path: Path) -> None:
    store, scene_id = _store_with_a_scene(tmp_path)
    with pytest.raises(ConfigurationError, match="never moves"):
        store.db.move(scene_id, S.DELIVERED, only_from=(S.RECEIVED,))


def test_a_finished_scene_moves_no_more(tmp_path: Path) -> None:
    store, scene_id = _store_with_a_scene(tmp_path)
    store.mark_failed(scene_id, "test")
    for target in SceneState:
        with pytest.raises(ConflictError):
            store.db.move(scene_id, target)
    assert store.get(scene_id).state is S.FAILED
