"""Dataset statistics and checks behind ``eodl data stats``.

Reads every image and mask of a folder, matches it against a sensor profile (the one its
``index.json`` names, or else the profile whose band count and tile it fits), and reports
per-band min/mean/max, the mask-fraction distribution and every file that does not fit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shared.errors import DatasetError, EODownlinkError
from shared.sensors.profiles import PROFILES, SensorProfile, get_profile, validate_raster
from shared.sensors.readers import read_mask, read_raster
from workbench.datasets.generate import INDEX_NAME

MASK_SUFFIX = ".mask.npy"


@dataclass
class DatasetStats:
    """What ``eodl data stats`` reports about a folder."""

    root: Path
    profile: SensorProfile | None
    scenes: int = 0
    band_min: list[float] = field(default_factory=list)
    band_sum: list[float] = field(default_factory=list)
    band_max: list[float] = field(default_factory=list)
    pixels: int = 0
    mask_fractions: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def band_mean(self) -> list[float]:
        """Per-band mean over all valid scenes."""
        return [s / self.pixels for s in self.band_sum] if self.pixels else []


def dataset_stats(root: Path) -> DatasetStats:
    """Scan a folder of ``<id>.npy`` + ``<id>.mask.npy`` scenes.

    Raises:
        DatasetError: the folder does not exist or holds no scenes.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder; give the --out folder of `eodl data generate`")
    images = sorted(p for p in root.glob("*.npy") if not p.name.endswith(MASK_SUFFIX))
    if not images:
        raise DatasetError(f"{root} holds no .npy scenes; generate some with `eodl data generate`")
    stats = DatasetStats(root, _profile_from_index(root))
    if stats.profile is None:
        stats.profile = _guess_profile(images)
    _check_index_listing(root, images, stats)
    for path in images:
        _add_scene(path, stats)
    return stats


def format_stats(stats: DatasetStats) -> str:
    """The human-readable report ``eodl data stats`` prints."""
    profile = stats.profile
    lines = [f"folder: {stats.root}"]
    if profile is None:
        lines.append("profile: none matches (band count and tile fit no profile)")
    else:
        lines.append(
            f"profile: {profile.task} ({profile.sensor}); {profile.bands} band(s), "
            f"{profile.tile[0]}x{profile.tile[1]}, {profile.dtype} {profile.bit_depth}-bit, "
            f"global max {profile.global_max:g}"
        )
    lines.append(f"scenes: {stats.scenes} valid, {len(stats.problems)} problem(s)")
    if stats.scenes and profile is not None:
        lines.append(f"{'band':<10} {'min':>9} {'mean':>11} {'max':>9}")
        for i, name in enumerate(profile.band_names):
            lines.append(
                f"{name:<10} {stats.band_min[i]:>9.0f} {stats.band_mean[i]:>11.1f} "
                f"{stats.band_max[i]:>9.0f}"
            )
        lines.extend(_mask_lines(np.asarray(stats.mask_fractions)))
    lines.extend(f"MISMATCH {problem}" for problem in stats.problems)
    return "\n".join(lines)


def _mask_lines(fractions: np.ndarray) -> list[str]:
    q = np.percentile(fractions, [0, 10, 50, 90, 100])
    lines = [
        f"mask fraction: mean {fractions.mean():.4f}; min {q[0]:.4f} p10 {q[1]:.4f} "
        f"median {q[2]:.4f} p90 {q[3]:.4f} max {q[4]:.4f}; empty masks "
        f"{int((fractions == 0).sum())}/{fractions.size}"
    ]
    edges = [0.0, 1e-9, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.95, 1.0 + 1e-9]
    counts, _ = np.histogram(fractions, bins=edges)
    labels = [
        "0",
        "(0,1%)",
        "[1,5%)",
        "[5,10%)",
        "[10,25%)",
        "[25,50%)",
        "[50,75%)",
        "[75,95%)",
        "[95,100%]",
    ]
    lines.append(
        "mask fraction histogram: "
        + ", ".join(f"{label} {count}" for label, count in zip(labels, counts, strict=True))
    )
    return lines


def _profile_from_index(root: Path) -> SensorProfile | None:
    index = root / INDEX_NAME
    if not index.is_file():
        return None
    try:
        task = json.loads(index.read_text())["task"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{index} is malformed ({exc}); regenerate the dataset") from exc
    return get_profile(str(task))


def _guess_profile(images: list[Path]) -> SensorProfile | None:
    try:
        shape = read_raster(images[0]).shape
    except EODownlinkError:
        return None
    for profile in PROFILES.values():
        if shape == profile.shape:
            return profile
    return None


def _check_index_listing(root: Path, images: list[Path], stats: DatasetStats) -> None:
    index = root / INDEX_NAME
    if not index.is_file():
        stats.problems.append(f"{INDEX_NAME}: missing (folder not written by eodl data generate)")
        return
    listed = {str(e["id"]) for e in json.loads(index.read_text()).get("scenes", [])}
    present = {p.name[: -len(".npy")] for p in images}
    for scene_id in sorted(listed - present):
        stats.problems.append(f"{scene_id}: listed in {INDEX_NAME} but its .npy is missing")
    for scene_id in sorted(present - listed):
        stats.problems.append(f"{scene_id}.npy: not listed in {INDEX_NAME}")


def _add_scene(path: Path, stats: DatasetStats) -> None:
    profile = stats.profile
    mask_path = path.with_name(path.name[: -len(".npy")] + MASK_SUFFIX)
    try:
        image = read_raster(path)
        if profile is None:
            raise DatasetError(f"shape {image.shape} {image.dtype} fits no profile")
        validate_raster(image, profile, exact_tile=True)
        if not mask_path.is_file():
            raise DatasetError(f"its mask {mask_path.name} is missing")
        mask = read_mask(mask_path)
        if mask.shape != image.shape[1:]:
            raise DatasetError(f"mask {mask.shape} does not match image {image.shape[1:]}")
    except EODownlinkError as exc:
        stats.problems.append(f"{path.name}: {exc}")
        return
    flat = image.reshape(image.shape[0], -1).astype(np.float64)
    if not stats.scenes:
        stats.band_min = flat.min(axis=1).tolist()
        stats.band_max = flat.max(axis=1).tolist()
        stats.band_sum = flat.sum(axis=1).tolist()
    else:
        stats.band_min = np.minimum(stats.band_min, flat.min(axis=1)).tolist()
        stats.band_max = np.maximum(stats.band_max, flat.max(axis=1)).tolist()
        stats.band_sum = (np.asarray(stats.band_sum) + flat.sum(axis=1)).tolist()
    stats.pixels += flat.shape[1]
    stats.scenes += 1
    stats.mask_fractions.append(float(mask.mean()))
