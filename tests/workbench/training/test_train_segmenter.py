"""Segmenter training: the loss falls, a seed repeats a run bit for bit, a run resumes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from shared.errors import DatasetError
from shared.models.segmentation import load_segmenter_checkpoint
from workbench.training.decoded import DecodedScenes, DecodedShare, decode_at
from workbench.training.loops import state_path
from workbench.training.segmenter import SegmenterTrainConfig, train_segmenter
from workbench.training.thresholds import ProbabilityHistogram


def _config(data: Path, out: Path, **overrides: object) -> SegmenterTrainConfig:
    fields: dict = dict(
        task="fire",
        data=data,
        out=out,
        encoder="mobilenet_v2",
        encoder_depth=3,
        decoder_channels=(16, 8, 8),
        epochs=4,
        batch_size=8,
        lr=3e-3,
        seed=3,
        device="cpu",
    )
    fields.update(overrides)
    return SegmenterTrainConfig(**fields)


def test_training_lowers_loss_and_writes_a_loadable_checkpoint(
    fire_dir: Path, tmp_path: Path
) -> None:
    manifest = train_segmenter(_config(fire_dir, tmp_path / "fire", patience=10))
    losses = torch.load(state_path(tmp_path / "fire"), weights_only=True)["losses"]
    assert len(losses) == 4 and losses[-1] < 0.8 * losses[0]
    assert 0.05 <= manifest["threshold"] <= 0.95
    assert set(manifest["metrics"]) >= {"f1_positive", "f1_macro"}
    segmenter = load_segmenter_checkpoint(tmp_path / "fire", device="cpu")
    mask = segmenter.predict(np.zeros((1, 32, 32), np.float32))
    assert mask.shape == (32, 32)


def test_same_seed_same_weights(fire_dir: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    first = train_segmenter(_config(fire_dir, tmp_path / "a", epochs=1, max_steps=2))
    second = train_segmenter(_config(fire_dir, tmp_path / "b", epochs=1, max_steps=2))
    other = train_segmenter(_config(fire_dir, tmp_path / "c", epochs=1, max_steps=2, seed=4))
    assert first["sha256"] == second["sha256"]
    assert other["sha256"] != first["sha256"]


def test_resume_continues_from_the_saved_epoch(fire_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "fire"
    train_segmenter(_config(fire_dir, out, epochs=1, max_steps=1))
    assert state_path(out).is_file()
    resumed = train_segmenter(
        _config(fire_dir, out, epochs=2, max_steps=1, resume=True, patience=10)
    )
    saved = torch.load(state_path(out), weights_only=True)
    assert saved["epoch"] == 1 and len(saved["losses"]) == 2
    assert json.loads(out.with_suffix(".json").read_text())["sha256"] == resumed["sha256"]


def _parameters(path: Path) -> dict[str, torch.Tensor]:
    model = load_segmenter_checkpoint(path, device="cpu").model
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def test_init_starts_from_a_checkpoint_and_records_it(fire_dir: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    start = train_segmenter(_config(fire_dir, tmp_path / "start", epochs=1, max_steps=2))
    # at learning rate 0 the parameters stay where they start (batch-norm statistics move)
    frozen = dict(epochs=1, max_steps=1, lr=0.0)
    tuned = train_segmenter(
        _config(fire_dir, tmp_path / "tuned", init=tmp_path / "start", **frozen)
    )
    fresh = train_segmenter(_config(fire_dir, tmp_path / "fresh", **frozen))
    before, after = _parameters(tmp_path / "start"), _parameters(tmp_path / "tuned")
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not torch.equal(
        before["segmentation_head.0.weight"],
        _parameters(tmp_path / "fresh")["segmentation_head.0.weight"],
    )
    assert tuned["init"] == {"checkpoint": str(tmp_path / "start"), "sha256": start["sha256"]}
    assert fresh["init"] is None


def test_init_from_another_unet_is_refused(fire_dir: Path, tmp_path: Path) -> None:
    from shared.errors import ConfigurationError

    train_segmenter(_config(fire_dir, tmp_path / "start", epochs=1, max_steps=1))
    other = _config(fire_dir, tmp_path / "x", init=tmp_path / "start", decoder_channels=(8, 8, 8))
    with pytest.raises(ConfigurationError, match="--decoder-channels"):
        train_segmenter(other)
    assert not (tmp_path / "x.json").exists()


def test_wrong_task_folder_is_refused(fire_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="--task fire"):
        train_segmenter(_config(fire_dir, tmp_path / "x", task="cloud"))


def test_threshold_sweep_matches_direct_f1() -> None:
    from shared.metrics.segmentation import f1_macro, f1_positive

    rng = np.random.default_rng(0)
    truth = rng.random((4, 16, 16)) < 0.2
    probs = np.clip(truth * 0.6 + rng.random((4, 16, 16)) * 0.5, 0, 1).astype(np.float32)
    histogram = ProbabilityHistogram()
    histogram.add(torch.from_numpy(probs), torch.from_numpy(truth))
    choice = histogram.best()
    pred = probs >= choice.threshold
    assert choice.f1_positive == pytest.approx(f1_positive(truth, pred), abs=1e-9)
    assert choice.f1_macro == pytest.approx(f1_macro(truth, pred), abs=1e-9)
    assert choice.f1_positive >= max(histogram.scores(t)[0] for t in (0.1, 0.5, 0.9))


FIRE_CODEC = (
    Path(__file__).resolve().parents[3] / "shared/assets/checkpoints/codec/fire/cheng2020-gmm"
)


def _share(fraction: float) -> DecodedShare:
    return DecodedShare(FIRE_CODEC, fraction, 16383.0)


def test_decoded_items_are_what_the_ground_gets_from_a_real_bitstream(fire_dir: Path) -> None:
    from shared.codecs.base import RasterSpec, RateTarget
    from shared.codecs.learned.checkpoint import CheckpointStore
    from shared.codecs.registry import get_codec
    from workbench.datasets.dataset import SceneDataset

    source = SceneDataset(fire_dir, "val", augment=False)
    clean = DecodedScenes(source, _share(0.0), fixed=True)
    decoded = DecodedScenes(source, _share(1.0), fixed=True)
    x, mask = clean[0]
    assert torch.equal(x, source[0][0]) and torch.equal(mask, source[0][1])
    x_hat, _ = decoded[0]
    assert torch.equal(x_hat, decoded[0][0])  # validation: the same item every epoch
    assert torch.equal(torch.round(x_hat * 16383) / 16383, x_hat)  # on the sensor's grid
    store = CheckpointStore(FIRE_CODEC.parents[2]).for_task("fire")
    codec = get_codec("cheng2020-gmm", checkpoints=store)
    raster = np.rint(x.numpy() * 16383).astype(np.uint16)
    spec = RasterSpec(1, 32, 32, "uint16", 14, 16383.0)
    top_level = decode_at(decoded.model, x, 0.0, 16383.0)  # level 0: quality 6
    top = codec.encode(raster, spec, RateTarget(quality=6)).reconstruction
    ground_top = torch.from_numpy(top.astype(np.float32) / 16383)
    assert (ground_top - top_level).abs().max() <= 2 / 16383  # the inference pass = decoding
    assert float(((top_level - x) ** 2).mean()) < float(((x - x.mean()) ** 2).mean())


def test_a_share_of_the_training_scenes_comes_back_decoded(fire_dir: Path) -> None:
    from workbench.datasets.dataset import SceneDataset

    source = SceneDataset(fire_dir, "val", augment=False)
    half = DecodedScenes(source, _share(0.5), fixed=True)
    changed = [not torch.equal(half[i][0], source[i][0]) for i in range(len(source))]
    assert 0 < sum(changed) < len(changed)


def test_decoded_items_stay_within_the_qualities_asked_for(fire_dir: Path) -> None:
    from shared.codecs.learned.rate_gain import LEVEL_STEPS, level_code
    from shared.errors import ConfigurationError
    from workbench.datasets.dataset import SceneDataset

    source = SceneDataset(fire_dir, "val", augment=False)
    top = DecodedScenes(source, DecodedShare(FIRE_CODEC, 1.0, 16383.0, (4, 6)), fixed=False)
    levels = [top._level(i) for i in range(200)]
    q4 = level_code(4, top.model.rate_gains.levels) / LEVEL_STEPS
    assert all(level is not None and 0.0 <= level <= q4 for level in levels)
    assert max(levels) > 0.8 * q4 and min(levels) < 0.2 * q4  # the whole span, not one end
    one = DecodedScenes(source, DecodedShare(FIRE_CODEC, 1.0, 16383.0, (6, 6)), fixed=True)
    assert {one._level(i) for i in range(20)} == {0.0}
    with pytest.raises(ConfigurationError, match="LOW,HIGH"):
        DecodedScenes(source, DecodedShare(FIRE_CODEC, 1.0, 16383.0, (6, 4)), fixed=True)


def test_decoding_needs_a_variable_rate_checkpoint_and_records_it(
    fire_dir: Path, fire_codec: tuple[Path, dict], tmp_path: Path
) -> None:
    from shared.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="variable-rate"):
        train_segmenter(_config(fire_dir, tmp_path / "x", decoded_with=fire_codec[0]))
    with pytest.raises(ConfigurationError, match=r"\[0, 1\]"):
        train_segmenter(
            _config(fire_dir, tmp_path / "y", decoded_with=FIRE_CODEC, decoded_fraction=2.0)
        )
    manifest = train_segmenter(
        _config(fire_dir, tmp_path / "z", epochs=1, max_steps=1, decoded_with=FIRE_CODEC)
    )
    share = manifest["decoded_share"]
    assert share["fraction"] == 0.5 and len(share["sha256"]) == 64
    assert share["qualities"] == [1, 6]
