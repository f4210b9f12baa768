"""Deterministic synthetic datasets: one generator per sensor profile, and the folder writer.

Every scene has its own integer seed, derived from the dataset seed and the scene's index with
``numpy.random.SeedSequence``; ``generate_scene(task, seed)`` rebuilds one scene from the seed
recorded in ``index.json``. Same seed, same bytes; different seeds, independent scenes.

Folder layout written by :func:`write_dataset` (and ``eodl data generate``)::

    DIR/<scene_id>.npy       (C, H, W) in the profile's dtype
    DIR/<scene_id>.mask.npy  (H, W) uint8 0/1
    DIR/index.json           {"format", "version", "task", "seed", "count", "profile",
                              "scenes": [{"id", "task", "shape", "dtype", "mask_fraction",
                                          "seed", "index"}, ...]}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from shared.durable import atomic_write
from shared.errors import ConfigurationError, DatasetError
from shared.sensors.profiles import get_profile
from workbench.datasets.synth_building import generate_building_tile
from workbench.datasets.synth_cloud import generate_cloud_scene
from workbench.datasets.synth_fire import generate_fire_patch

Generator = Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]]
GENERATORS: dict[str, Generator] = {
    "fire": generate_fire_patch,
    "cloud": generate_cloud_scene,
    "building": generate_building_tile,
}
INDEX_NAME = "index.json"
INDEX_FORMAT = "eodl-dataset"
INDEX_VERSION = 1
MAX_COUNT = 1_000_000
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class Scene:
    """One generated scene.

    Shape:
        image: (C, H, W) in the profile's dtype; mask: (H, W) uint8 0/1.
    """

    scene_id: str
    task: str
    seed: int
    image: np.ndarray
    mask: np.ndarray

    @property
    def mask_fraction(self) -> float:
        """Share of pixels the mask marks."""
        return float(self.mask.mean())


@dataclass(frozen=True)
class IndexEntry:
    """One scene's line in ``index.json``."""

    id: str
    task: str
    shape: tuple[int, ...]
    dtype: str
    mask_fraction: float
    seed: int
    index: int


def scene_seed(dataset_seed: int, index: int) -> int:
    """The integer seed of scene ``index`` in a dataset generated with ``dataset_seed``."""
    _check_seed(dataset_seed)
    state = np.random.SeedSequence([dataset_seed, index]).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


def scene_id_for(task: str, dataset_seed: int, index: int) -> str:
    """A readable, path-safe scene id, e.g. ``fire-s7-00042``."""
    return f"{task}-s{dataset_seed}-{index:05d}"


def generate_scene(task: str, seed: int, scene_id: str | None = None) -> Scene:
    """Generate one scene of a task from its own seed.

    Raises:
        UnknownNameError: unknown task.
        ConfigurationError: negative or oversize seed.
    """
    profile = get_profile(task)
    _check_seed(seed)
    image, mask = GENERATORS[profile.task](np.random.default_rng(seed))
    return Scene(scene_id or f"{task}-{seed}", task, seed, image, mask)


def generate_scenes(task: str, count: int, seed: int) -> Iterator[Scene]:
    """Generate scenes 0..count-1 of the dataset ``(task, seed)``, in order."""
    get_profile(task)
    _check_count(count)
    for index in range(count):
        yield generate_scene(task, scene_seed(seed, index), scene_id_for(task, seed, index))


def write_dataset(
    task: str,
    count: int,
    seed: int,
    out: Path,
    *,
    progress: bool = False,
) -> list[IndexEntry]:
    """Generate ``count`` scenes into ``out`` (see the module docstring for the layout).

    Raises:
        UnknownNameError: unknown task.
        ConfigurationError: bad count or seed.
        DatasetError: ``out`` is not a folder, or already holds a dataset of another task.
    """
    profile = get_profile(task)
    _check_count(count)
    _check_seed(seed)
    out = _prepare_folder(Path(out), task)
    scenes = generate_scenes(task, count, seed)
    if progress:
        from tqdm import tqdm

        scenes = tqdm(scenes, total=count, desc=f"generating {task}", unit="scene")
    entries = []
    for index, scene in enumerate(scenes):
        np.save(out / f"{scene.scene_id}.npy", scene.image)
        np.save(out / f"{scene.scene_id}.mask.npy", scene.mask)
        entries.append(_entry(scene, index))
    document = {
        "format": INDEX_FORMAT,
        "version": INDEX_VERSION,
        "task": task,
        "seed": seed,
        "count": count,
        "profile": {
            "sensor": profile.sensor,
            "bands": list(profile.band_names),
            "dtype": profile.dtype,
            "bit_depth": profile.bit_depth,
            "global_max": profile.global_max,
        },
        "scenes": [asdict(entry) for entry in entries],
    }
    _write_json_atomic(out / INDEX_NAME, document)
    return entries


def _entry(scene: Scene, index: int) -> IndexEntry:
    shape = tuple(int(side) for side in scene.image.shape)
    fraction = round(scene.mask_fraction, 6)
    return IndexEntry(
        scene.scene_id, scene.task, shape, scene.image.dtype.name, fraction, scene.seed, index
    )


def _prepare_folder(out: Path, task: str) -> Path:
    if out.exists() and not out.is_dir():
        raise DatasetError(f"--out {out} is a file; give a folder")
    out.mkdir(parents=True, exist_ok=True)
    index = out / INDEX_NAME
    if index.is_file():
        try:
            existing = json.loads(index.read_text()).get("task")
        except (ValueError, AttributeError) as exc:
            raise DatasetError(
                f"{index} is not valid JSON; remove it or choose another --out"
            ) from exc
        if existing != task:
            raise DatasetError(
                f"{out} already holds a {existing!r} dataset; choose another --out for {task!r}"
            )
    return out


def _write_json_atomic(path: Path, document: dict[str, object]) -> None:
    atomic_write(path, json.dumps(document, indent=1).encode())


def _check_seed(seed: int) -> None:
    if not (0 <= int(seed) <= MAX_SEED):
        raise ConfigurationError(f"seed must be an integer in 0..{MAX_SEED}, got {seed}")


def _check_count(count: int) -> None:
    if not (1 <= int(count) <= MAX_COUNT):
        raise ConfigurationError(f"count must be 1..{MAX_COUNT}, got {count}")
