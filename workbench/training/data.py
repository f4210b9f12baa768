"""Training data: the data package's :class:`SceneDataset` split into train and validation.

Scenes are normalised by the profile's global maximum (paper, Appendix A) and split by a hash of
their id (:func:`workbench.datasets.dataset.split_of`). A training folder has no test share by
default: the test scenes are a separately generated folder of a seed training never saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from shared.errors import ConfigurationError, DatasetError

if TYPE_CHECKING:
    from workbench.training.decoded import DecodedShare

TRAIN_FRACTIONS = (0.85, 0.15, 0.0)


@dataclass(frozen=True)
class Splits:
    """Train (augmented) and validation datasets of one folder, and their band count."""

    train: torch.utils.data.Dataset
    val: torch.utils.data.Dataset
    bands: int
    scale: float


def folder_task(data_dir: Path | str) -> str:
    """The task a dataset folder's index names.

    Raises:
        DatasetError: the folder is not a dataset (no or malformed ``index.json``).
    """
    from workbench.datasets.dataset import list_scenes

    task, _ = list_scenes(Path(data_dir))
    return task


def check_task(data_dir: Path | str, task: str) -> None:
    """Refuse a folder made for another task, naming the right ``--task``."""
    found = folder_task(data_dir)
    if found != task:
        raise DatasetError(f"{data_dir} holds {found!r} scenes, not {task!r}; pass --task {found}")


class RandomCrop(torch.utils.data.Dataset):
    """Random square crops of another dataset's (x, mask) items (training only: a cheaper step
    on large scenes; the fully convolutional models still run on whole scenes).

    Shape:
        item: x (C, size, size); mask (size, size) or (1, size, size), as the source yields.
    """

    def __init__(self, source: torch.utils.data.Dataset, size: int) -> None:
        self.source, self.size = source, size

    def __len__(self) -> int:
        return len(self.source)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, mask = self.source[index]
        height, width = x.shape[-2:]
        if self.size >= min(height, width):
            return x, mask
        top = int(torch.randint(0, height - self.size + 1, (1,)))
        left = int(torch.randint(0, width - self.size + 1, (1,)))
        window = (..., slice(top, top + self.size), slice(left, left + self.size))
        return x[window].contiguous(), mask[window].contiguous()


def load_splits(
    data_dir: Path | str,
    task: str,
    fractions: tuple[float, float, float] = TRAIN_FRACTIONS,
    crop: int | None = None,
    decoded: DecodedShare | None = None,
) -> Splits:
    """Train and validation splits of a folder of ``task`` scenes.

    Args:
        crop: train on random ``crop`` x ``crop`` windows (a multiple of 64 for codecs, of 32
            for segmenters); validation always sees whole scenes.
        decoded: a share of both splits comes back decoded by a learned codec
            (:mod:`workbench.training.decoded`; whole scenes are decoded, then cropped).

    Raises:
        DatasetError: wrong task, or a split without scenes (generate more with ``--count``).
    """
    from workbench.datasets.dataset import SceneDataset

    check_task(data_dir, task)
    train = SceneDataset(Path(data_dir), "train", augment=True, fractions=fractions)
    val = SceneDataset(Path(data_dir), "val", augment=False, fractions=fractions)
    for name, split in (("train", train), ("validation", val)):
        if len(split) == 0:
            raise DatasetError(
                f"the {name} split of {data_dir} is empty ({len(train) + len(val)} scenes in "
                "all); generate more scenes (--count 20 or more)"
            )
    if crop is not None and (crop < 32 or crop % 32):
        raise ConfigurationError(f"--crop must be a multiple of 32 (64 for codecs), got {crop}")
    bands, scale = train.profile.bands, train.profile.global_max
    train_set: torch.utils.data.Dataset = train
    val_set: torch.utils.data.Dataset = val
    if decoded is not None:
        from workbench.training.decoded import DecodedScenes

        train_set = DecodedScenes(train, decoded, fixed=False)
        val_set = DecodedScenes(val, decoded, fixed=True)
    train_set = RandomCrop(train_set, crop) if crop else train_set
    return Splits(train_set, val_set, bands=bands, scale=scale)


def mask_batch(mask: torch.Tensor) -> torch.Tensor:
    """Masks of a batch as (B, H, W), whether the dataset yields (H, W) or (1, H, W) items."""
    return mask[:, 0] if mask.ndim == 4 else mask


def describe_data(data_dir: Path | str) -> str:
    """How a folder's scenes were made, for manifests: the generate command when it is known."""
    import json

    try:
        document = json.loads((Path(data_dir) / "index.json").read_text())
        task, seed, count = document["task"], document["seed"], document["count"]
    except (OSError, ValueError, KeyError, TypeError):
        return str(data_dir)
    return f"eodl data generate --task {task} --count {count} --seed {seed} (folder {data_dir})"
