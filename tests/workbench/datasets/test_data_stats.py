"""`data stats`: per-band figures, mask distribution, profile match, mismatching files flagged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.errors import DatasetError
from workbench.datasets.generate import write_dataset
from workbench.datasets.stats import dataset_stats, format_stats


def test_stats_of_a_generated_folder(tmp_path: Path) -> None:
    write_dataset("building", 4, 9, tmp_path)
    stats = dataset_stats(tmp_path)
    assert stats.profile is not None and stats.profile.task == "building"
    assert stats.scenes == 4 and not stats.problems
    images = [np.load(p) for p in sorted(tmp_path.glob("building-*[0-9].npy"))]
    cube = np.stack(images).astype(np.float64)
    np.testing.assert_allclose(stats.band_mean, cube.mean(axis=(0, 2, 3)))
    assert stats.band_max == cube.max(axis=(0, 2, 3)).tolist()
    text = format_stats(stats)
    assert "profile: building" in text and "B8A" in text and "mask fraction" in text


def test_stats_flags_files_that_do_not_fit(tmp_path: Path) -> None:
    write_dataset("fire", 5, 1, tmp_path)
    np.save(tmp_path / "fire-s1-00001.npy", np.zeros((2, 32, 32), np.uint16))
    (tmp_path / "fire-s1-00002.mask.npy").unlink()
    np.save(tmp_path / "stray.npy", np.zeros((1, 32, 32), np.uint16))
    path = tmp_path / "fire-s1-00003.npy"
    path.write_bytes(path.read_bytes()[:300])
    stats = dataset_stats(tmp_path)
    text = format_stats(stats)
    assert stats.scenes == 2  # scenes 0 and 4
    assert "MISMATCH fire-s1-00001.npy" in text and "2 bands" in text
    assert "fire-s1-00002.npy: its mask" in text
    assert "stray.npy: not listed" in text
    assert "fire-s1-00003.npy" in text and "truncated" in text


def test_stats_guesses_profile_without_index(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.zeros((1, 256, 256), np.uint16))
    np.save(tmp_path / "a.mask.npy", np.zeros((256, 256), np.uint8))
    stats = dataset_stats(tmp_path)
    assert stats.profile is not None and stats.profile.task == "cloud"
    assert stats.scenes == 1 and any("index.json" in p for p in stats.problems)


def test_stats_refuses_empty_or_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no .npy scenes"):
        dataset_stats(tmp_path)
    with pytest.raises(DatasetError, match="not a folder"):
        dataset_stats(tmp_path / "absent")
