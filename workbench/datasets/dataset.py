"""Training data: a torch Dataset over a generated folder, splits, normalisation, augmentation.

Normalisation follows the paper (Appendix A): divide by the profile's global maximum, giving
[0, 1]. Splits are decided per scene by a hash of its id, so a scene keeps its split when scenes
are added or removed and no seed has to be remembered. Augmentation draws from torch's RNG (so
``torch.manual_seed`` and DataLoader worker seeding govern it) and applies the same flip and
rot90 to image and mask.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from shared.errors import ConfigurationError, DatasetError
from shared.sensors.profiles import SensorProfile, get_profile, validate_raster
from shared.sensors.readers import read_mask, read_raster
from workbench.datasets.generate import INDEX_NAME

Split = Literal["train", "val", "test", "all"]
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


@dataclass(frozen=True)
class SceneRecord:
    """Where one scene of a dataset folder lives."""

    scene_id: str
    image_path: Path
    mask_path: Path


def normalise(raster: np.ndarray, profile: SensorProfile) -> np.ndarray:
    """Divide by the profile's global max and clip to [0, 1] (float32).

    Shape:
        raster: (C, H, W); returns the same shape.
    """
    return np.clip(raster.astype(np.float32) / np.float32(profile.global_max), 0.0, 1.0)


def denormalise(unit: np.ndarray, profile: SensorProfile) -> np.ndarray:
    """Undo :func:`normalise` into the profile's dtype, rounding and clipping counts."""
    values = np.rint(unit.astype(np.float64) * profile.global_max)
    return np.clip(values, 0, profile.global_max).astype(profile.dtype)


def split_of(scene_id: str, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS) -> str:
    """Which split (``train``, ``val`` or ``test``) a scene belongs to, from its id's SHA-256."""
    _check_fractions(fractions)
    digest = hashlib.sha256(scene_id.encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2.0**64
    if position < fractions[0]:
        return "train"
    return "val" if position < fractions[0] + fractions[1] else "test"


def augment_pair(
    image: np.ndarray, mask: np.ndarray, rot90: int, flip: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Rotate by ``rot90`` quarter turns then optionally flip left-right, both arrays alike.

    Shape:
        image: (C, H, W); mask: (H, W). Returns contiguous arrays (H and W swap on odd turns).
    """
    image = np.rot90(image, rot90, axes=(1, 2))
    mask = np.rot90(mask, rot90, axes=(0, 1))
    if flip:
        image, mask = image[:, :, ::-1], mask[:, ::-1]
    return np.ascontiguousarray(image), np.ascontiguousarray(mask)


def list_scenes(root: Path) -> tuple[str, list[SceneRecord]]:
    """The task and scenes of a folder written by ``eodl data generate``.

    Raises:
        DatasetError: no folder, no or malformed ``index.json``, or listed files missing.
    """
    root = Path(root)
    index_path = root / INDEX_NAME
    if not index_path.is_file():
        raise DatasetError(
            f"{root} has no {INDEX_NAME}; create the dataset with "
            f"`eodl data generate --task TASK --count N --seed S --out {root}`"
        )
    try:
        document = json.loads(index_path.read_text())
        task = str(document["task"])
        ids = [str(entry["id"]) for entry in document["scenes"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{index_path} is malformed ({exc}); regenerate the dataset") from exc
    records = [SceneRecord(i, root / f"{i}.npy", root / f"{i}.mask.npy") for i in ids]
    missing = [
        r.scene_id for r in records if not (r.image_path.is_file() and r.mask_path.is_file())
    ]
    if missing:
        raise DatasetError(
            f"{root}: {len(missing)} scenes listed in {INDEX_NAME} have no image or mask file "
            f"(first: {missing[0]}); regenerate the dataset"
        )
    return task, records


class SceneDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Scenes of one split of a generated folder, normalised to [0, 1].

    Items are ``(image, mask)``.

    Shape:
        image: (C, H, W) float32 in [0, 1]; mask: (1, H, W) float32 0/1.
    """

    def __init__(
        self,
        root: Path,
        split: Split = "all",
        *,
        augment: bool = False,
        fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    ) -> None:
        if split not in ("train", "val", "test", "all"):
            raise ConfigurationError(f"unknown split {split!r}; use train, val, test or all")
        task, records = list_scenes(Path(root))
        self.profile = get_profile(task)
        self.split = split
        self.augment = augment
        self.records = [
            r for r in records if split == "all" or split_of(r.scene_id, fractions) == split
        ]

    @property
    def scene_ids(self) -> list[str]:
        """Ids of the scenes in this split, in index order."""
        return [r.scene_id for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    def load(self, position: int) -> tuple[np.ndarray, np.ndarray]:
        """The stored (unnormalised, unaugmented) image and mask of one scene, validated."""
        record = self.records[position]
        image = read_raster(record.image_path)
        validate_raster(image, self.profile)
        mask = read_mask(record.mask_path)
        if mask.shape != image.shape[1:]:
            raise DatasetError(
                f"{record.mask_path.name}: mask {mask.shape} does not match image "
                f"{image.shape[1:]}; regenerate the scene"
            )
        return image, mask

    def __getitem__(self, position: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = self.load(position)
        unit = normalise(image, self.profile)
        if self.augment:
            turns = int(torch.randint(0, 4, ()).item())
            flip = bool(torch.randint(0, 2, ()).item())
            unit, mask = augment_pair(unit, mask, turns, flip)
        image_t = torch.from_numpy(np.ascontiguousarray(unit))
        mask_t = torch.from_numpy(mask.astype(np.float32))[None]
        return image_t, mask_t


def _check_fractions(fractions: tuple[float, float, float]) -> None:
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-6:
        raise ConfigurationError(
            f"split fractions must be three non-negative numbers summing to 1, got {fractions}"
        )
