"""The training Dataset: normalisation to [0, 1], deterministic splits, paired augmentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from shared.errors import ConfigurationError, DatasetError
from shared.sensors.profiles import get_profile
from workbench.datasets.dataset import (
    SceneDataset,
    augment_pair,
    denormalise,
    list_scenes,
    normalise,
    split_of,
)
from workbench.datasets.generate import write_dataset


@pytest.fixture(scope="module")
def fire_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fire")
    write_dataset("fire", 60, 2, out)
    return out


def test_items_are_normalised_by_global_max(fire_dir: Path) -> None:
    data = SceneDataset(fire_dir)
    image, mask = data[0]
    raw, raw_mask = data.load(0)
    assert image.dtype == torch.float32 and image.shape == (1, 32, 32)
    assert mask.shape == (1, 32, 32) and set(mask.unique().tolist()) <= {0.0, 1.0}
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    np.testing.assert_allclose(image.numpy(), raw / 16383.0, rtol=1e-6)
    np.testing.assert_array_equal(mask[0].numpy(), raw_mask)


def test_normalise_round_trip() -> None:
    profile = get_profile("building")
    raw = np.random.default_rng(0).integers(0, 10001, profile.shape).astype(np.uint16)
    np.testing.assert_array_equal(denormalise(normalise(raw, profile), profile), raw)


def test_splits_are_disjoint_deterministic_and_cover_everything(fire_dir: Path) -> None:
    parts = {s: SceneDataset(fire_dir, s).scene_ids for s in ("train", "val", "test")}
    everything = SceneDataset(fire_dir).scene_ids
    assert sorted(sum(parts.values(), [])) == sorted(everything)
    assert not set(parts["train"]) & set(parts["val"])
    assert 30 < len(parts["train"]) < 60 and parts["val"] and parts["test"]
    assert parts["val"] == SceneDataset(fire_dir, "val").scene_ids
    assert split_of("fire-s2-00003") == split_of("fire-s2-00003")


def test_bad_split_arguments() -> None:
    with pytest.raises(ConfigurationError, match="summing to 1"):
        split_of("x", (0.5, 0.2, 0.2))
    with pytest.raises(ConfigurationError, match="unknown split"):
        SceneDataset(Path("."), "holdout")  # type: ignore[arg-type]


def test_augmentation_moves_image_and_mask_together() -> None:
    image = np.random.default_rng(1).random((3, 8, 8)).astype(np.float32)
    mask = (image[0] > 0.5).astype(np.uint8)
    seen = set()
    for turns in range(4):
        for flip in (False, True):
            aug_image, aug_mask = augment_pair(image, mask, turns, flip)
            np.testing.assert_array_equal(aug_mask, (aug_image[0] > 0.5).astype(np.uint8))
            seen.add(aug_image.tobytes())
    assert len(seen) == 8  # the eight symmetries of the square


def test_augmented_items_repeat_under_a_torch_seed(fire_dir: Path) -> None:
    data = SceneDataset(fire_dir, augment=True)
    torch.manual_seed(0)
    first = [data[i][0] for i in range(6)]
    torch.manual_seed(0)
    again = [data[i][0] for i in range(6)]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    plain = SceneDataset(fire_dir)
    assert any(not torch.equal(a, plain[i][0]) for i, a in enumerate(first))


def test_folder_without_index_or_with_missing_files(tmp_path: Path, fire_dir: Path) -> None:
    with pytest.raises(DatasetError, match="eodl data generate"):
        list_scenes(tmp_path)
    out = tmp_path / "few"
    write_dataset("cloud", 2, 0, out)
    (out / "cloud-s0-00001.mask.npy").unlink()
    with pytest.raises(DatasetError, match="no image or mask"):
        SceneDataset(out)


def test_corrupted_scene_is_refused_on_load(tmp_path: Path) -> None:
    out = tmp_path / "bad"
    write_dataset("fire", 1, 0, out)
    np.save(out / "fire-s0-00000.npy", np.zeros((1, 32, 32), np.float32))
    with pytest.raises(Exception, match="dtype is float32"):
        SceneDataset(out)[0]
