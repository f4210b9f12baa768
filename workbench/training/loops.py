"""What every trainer shares: seeding, loaders, a time budget, early stopping, resumable state.

A run writes ``<out>.state.pt`` after every epoch (model, optimisers, epoch, best score, elapsed
time, RNG state). ``resume=True`` continues from it; the finished checkpoint itself is always the
safetensors + JSON pair, written only when validation improves.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler

from shared.errors import CheckpointError, DatasetError
from workbench.training.ddp import DistContext


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a generator for the data order."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def make_loader(
    dataset: Dataset, batch_size: int, ctx: DistContext, seed: int, shuffle: bool
) -> DataLoader:
    """A loader that shards over DDP processes and repeats its order for a given seed."""
    if len(dataset) == 0:  # type: ignore[arg-type]
        raise DatasetError("a split of the dataset is empty; generate more scenes (--count)")
    sampler: Any = None
    if ctx.distributed:
        sampler = DistributedSampler(
            dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=shuffle, seed=seed
        )
    elif shuffle:
        generator = torch.Generator()
        generator.manual_seed(seed)
        sampler = RandomSampler(dataset, generator=generator)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=0)


def set_epoch(loader: DataLoader, epoch: int, seed: int) -> None:
    """Make the shuffle of ``epoch`` a function of (seed, epoch), also after a resume."""
    sampler = loader.sampler
    if isinstance(sampler, DistributedSampler):
        sampler.set_epoch(epoch)
    elif isinstance(sampler, RandomSampler) and sampler.generator is not None:
        sampler.generator.manual_seed(seed * 1000 + epoch)


@dataclass
class Budget:
    """A wall-clock budget in minutes (None: unlimited) that survives a resume."""

    max_minutes: float | None
    spent_s: float = 0.0
    _started: float = field(default_factory=time.monotonic)

    def elapsed_s(self) -> float:
        return self.spent_s + time.monotonic() - self._started

    def expired(self) -> bool:
        return self.max_minutes is not None and self.elapsed_s() >= self.max_minutes * 60.0


@dataclass
class EarlyStopping:
    """Stop after ``patience`` epochs without improvement of a score (higher is better)."""

    patience: int
    best: float = -float("inf")
    stale: int = 0

    def update(self, score: float) -> bool:
        """Record an epoch's score; True when it is the best so far."""
        if score > self.best:
            self.best, self.stale = score, 0
            return True
        self.stale += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.stale >= self.patience


def state_path(out: Path) -> Path:
    """Where the resumable training state of checkpoint ``out`` lives."""
    out = Path(out)
    stem = out.with_suffix("") if out.suffix in (".safetensors", ".json") else out
    return stem.with_name(stem.name + ".state.pt")


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write the training state atomically (a kill mid-write leaves the previous one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_state(path: Path) -> dict[str, Any] | None:
    """The saved training state, or None when there is none.

    Raises:
        CheckpointError: the state file exists but is unreadable.
    """
    if not path.is_file():
        return None
    try:
        state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError) as exc:
        raise CheckpointError(
            f"training state {path} is unreadable ({exc}); delete it to restart"
        ) from exc
    return state


def rng_state() -> dict[str, Any]:
    """Torch's CPU RNG state (augmentation draws), to restore on resume."""
    return {"torch": torch.get_rng_state()}


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
