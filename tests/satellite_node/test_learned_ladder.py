"""The planner lowers a learned scene's rate the way it lowers JPEG 2000's: real re-encodes of
the raw raster at fractions of the stored rate, through a variable-rate cheng2020-gmm."""

from __future__ import annotations

from pathlib import Path

import torch
from sat_harness import npy, raster_for

from satellite_node.planner.candidates import CandidateLadder
from satellite_node.planner.curves import CurveBook
from satellite_node.store import NewScene, SceneStore
from satellite_node.worker import CompressionWorker, QueuePolicy
from shared.codecs.learned.architectures import build_model
from shared.codecs.learned.checkpoint import CheckpointStore, save_checkpoint

LMBDAS = [800.0, 200.0, 50.0, 12.5]


def _variable_rate_store(root: Path) -> CheckpointStore:
    torch.manual_seed(0)
    model = build_model("cheng2020-gmm", 10, 6, N=16, rate_levels=len(LMBDAS))
    model.rate_gains.spread(tuple(LMBDAS))
    fields = {"architecture": "cheng2020-gmm", "quality": 6, "rate_lmbdas": LMBDAS}
    save_checkpoint(model.eval(), root / "cheng2020-gmm-vr", {**fields, "task": "building"})
    return CheckpointStore([root])


def test_a_learned_scene_asked_at_a_quality_gets_lower_real_rungs(tmp_path: Path) -> None:
    checkpoints = _variable_rate_store(tmp_path / "weights")
    store = SceneStore(tmp_path / "store", capacity_bytes=10**8)
    policy = QueuePolicy(hold=True, raw_keep_bytes=10**8)
    worker = CompressionWorker(store, checkpoints=checkpoints, policy=policy)
    record = store.admit(
        NewScene(
            task="building",
            codec="cheng2020-gmm",
            rate={"quality": 6},
            priority=2,
            raster_name="x.npy",
            raster=npy(raster_for("building", 3)),
            mask=None,
        )
    )
    worker.process(store.next_to_compress())  # type: ignore[arg-type]
    record = store.get(record.scene_id)
    ladder = CandidateLadder(store, CurveBook.seeded(), "off", checkpoints=checkpoints)
    stored, *rungs = ladder.options(record, 4096)
    assert stored.info is None and rungs  # the stored container, then re-encodes below it
    header = record.header or {}
    payload_bpp = 8 * header["payload_bytes"] / (header["height"] * header["width"])
    for rung in rungs:
        assert rung.target_bpp is not None and rung.target_bpp < payload_bpp
        assert rung.info is not None and rung.container_bytes < stored.container_bytes
        assert rung.info.header["codec"] == "cheng2020-gmm"
    sizes = [r.container_bytes for r in rungs]
    assert sizes == sorted(sizes, reverse=True)  # lower targets, fewer bytes
