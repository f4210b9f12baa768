"""Each task is coded onboard with its own shipped model: fire and cloud share a band count,
and a store searched in folder order once coded fire patches with cloud's 1-band model (the
demo's learned fire rows then sat at 23-27 dB; the fire model gives 31-34 dB at q2-q3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sat_harness import raster_for

from satellite_node.codec_choice import open_checkpoints
from satellite_node.encoding import RawScene, encode_scene
from satellite_node.store import NewScene, SceneStore
from shared.codecs.base import RateTarget
from shared.codecs.learned.checkpoint import packaged_checkpoints_dir
from shared.codecs.learned.manifest import read_manifest
from shared.wire import read_header


def _shipped_prefix(task: str) -> bytes:
    manifest = packaged_checkpoints_dir() / "codec" / task / "cheng2020-gmm.json"
    return read_manifest(manifest).weights_prefix


@pytest.mark.parametrize("task", ["fire", "cloud"])
def test_a_scene_is_coded_with_its_tasks_model(task: str, tmp_path: Path) -> None:
    assert _shipped_prefix("fire") != _shipped_prefix("cloud")
    store = SceneStore(tmp_path, capacity_bytes=10**8)
    record = store.admit(
        NewScene(
            task=task,
            codec="cheng2020-gmm",
            rate={"quality": 3},
            priority=0,
            raster_name="x.npy",
            raster=b"x",
            mask=None,
        )
    )
    image = raster_for(task, 3, side=64 if task == "cloud" else None)
    info = encode_scene(
        record,
        RawScene(image, None),
        codec="cheng2020-gmm",
        target=RateTarget(quality=3),
        roi_mode="off",
        checkpoints=open_checkpoints(None),
    )
    assert read_header(info.container).weights_prefix == _shipped_prefix(task)


def test_a_task_store_searches_the_tasks_folder_first_and_shares_loaded_models() -> None:
    store = open_checkpoints(None)
    fire = store.for_task("fire")
    assert fire is store.for_task("fire")
    assert fire.find("cheng2020-gmm", 1).manifest.weights_prefix == _shipped_prefix("fire")
    assert store.for_task("cloud").find("cheng2020-gmm", 1).manifest.task == "cloud"
    entry = fire.find("cheng2020-gmm", 1)
    assert fire.load(entry)[0] is store.load(entry)[0]
