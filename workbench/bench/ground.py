"""``eodl bench ground``: decode plus segmentation throughput of the ground, in scenes per second.

Per task: generated scenes are compressed as the satellite's worker would (the codec that
``auto`` picks from the shipped checkpoints at the satellite's default rate, the profile's
scale and bit depth); the containers are decoded once with the ground's decode
(:func:`shared.compression.decompress_container`, what the ground's decode worker runs, with
the shipped codec checkpoints; each decode's digest must match the onboard reconstruction) and
segmented, per device and batch size, with the shipped U-Nets as the ground loads them
(:func:`ground_station.processing.segmenters.load_segmenters`). Decoding stays on the CPU
whatever the device (the learned codecs' entropy coding must reproduce the satellite's bits);
``device`` is where the U-Net runs. Models are loaded and warmed before timing.

With ``worker`` the decode runs as the ground runs it today: one fresh, memory-capped worker
process per container (:func:`ground_station.processing.decode.run_decode_worker`), model
loading included. It measures and prints; it asserts nothing.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shared.errors import CodecError, ConfigurationError

DEVICES = ("cpu", "cuda")
MAX_BATCH = 256
MAX_SCENES = 1024
SEED = 2026


@dataclass(frozen=True)
class GroundBenchRow:
    """One (task, device, batch) measurement (a row of ``eodl bench ground --json``).

    ``total_scenes_s`` is decode then segmentation, one after the other:
    ``1 / (1 / decode_scenes_s + 1 / segment_scenes_s)``.
    """

    task: str
    codec: str
    device: str
    batch: int
    scenes: int
    decode: str
    threads: int
    decode_scenes_s: float
    segment_scenes_s: float
    total_scenes_s: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TaskContainers:
    """Containers of one task, made as the satellite makes them."""

    task: str
    codec: str
    containers: list[bytes]


def resolve_devices(device: str | None) -> list[str]:
    """The devices to run on: the one asked for, or the CPU and cuda when present.

    Raises:
        ConfigurationError: an unknown device, or cuda asked for where torch sees no GPU.
    """
    import torch

    if device is None:
        return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    if device not in DEVICES:
        raise ConfigurationError(f"--device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigurationError("--device cuda: torch sees no GPU here; use --device cpu")
    return [device]


def check_batches(batches: list[int]) -> None:
    """Refuse empty or out-of-range batch sizes.

    Raises:
        ConfigurationError: no batch size, or one outside 1..MAX_BATCH.
    """
    if not batches:
        raise ConfigurationError("--batch needs at least one size, e.g. --batch 1,4,16")
    for size in batches:
        if not (1 <= size <= MAX_BATCH):
            raise ConfigurationError(f"batch size {size} is out of range; use 1..{MAX_BATCH}")


def make_containers(task: str, count: int, checkpoints: Any, seed: int = SEED) -> TaskContainers:
    """Compress ``count`` generated scenes of ``task`` with the codec the satellite would choose.

    Raises:
        UnknownNameError: an unknown task.
        CodecError, CheckpointError: compression failed.
    """
    from satellite_node.codec_choice import choose_codec
    from satellite_node.settings import SatelliteSettings
    from shared.codecs.base import RateTarget
    from shared.compression import compress_raster
    from shared.sensors.profiles import get_profile
    from workbench.datasets.generate import generate_scenes

    profile = get_profile(task)
    # the satellite's rate target when an upload names none (its default, not the environment)
    target = RateTarget(bpp=SatelliteSettings.model_fields["default_bpp"].default)
    choice = choose_codec("auto", task, checkpoints, target)
    containers = [
        compress_raster(
            scene.image,
            codec=choice.name,
            target=target,
            scale=profile.global_max,
            bit_depth=profile.bit_depth,
            truth_mask=scene.mask,
            checkpoints=checkpoints,
            reconstruction_check=True,  # so that every decode here is proven the satellite's
        ).container
        for scene in generate_scenes(task, count, seed)
    ]
    return TaskContainers(task, choice.name, containers)


def decode_in_process(containers: list[bytes], checkpoints: Any) -> list[np.ndarray]:
    """Decode as the ground's worker does and normalise for the U-Net.

    Shape:
        returns: one (C, H, W) float32 array in [0, 1] per container.

    Raises:
        CodecError: a decode differs from the satellite's reconstruction (digest mismatch).
    """
    from shared.codecs.base import to_unit
    from shared.compression import decompress_container

    units = []
    for data in containers:
        scene = decompress_container(data, checkpoints=checkpoints)
        _check_digest(scene.digest_matches)
        units.append(to_unit(scene.raster, scene.container.header.spec))
    return units


def decode_in_workers(containers: list[bytes], work: Path) -> list[np.ndarray]:
    """Decode each container in a fresh ground decode worker process, as the ground does.

    Shape:
        returns: one (C, H, W) float32 array in [0, 1] per container.

    Raises:
        CodecError: a worker failed, or a decode differs from the satellite's reconstruction.
    """
    from ground_station.processing.decode import WorkerFailure, WorkerLimits, run_decode_worker
    from ground_station.settings import GroundSettings
    from shared.codecs.base import to_unit
    from shared.wire.container import read_header

    defaults = GroundSettings.model_fields
    limits = WorkerLimits(
        timeout_s=defaults["decode_timeout_s"].default,
        memory_mb=defaults["decode_memory_mb"].default,
        max_pixels=defaults["max_pixels"].default,
        max_bands=defaults["max_bands"].default,
        max_payload_bytes=defaults["max_transfer_bytes"].default,
    )
    units = []
    for index, data in enumerate(containers):
        path = work / f"{index}.eodl"
        path.write_bytes(data)
        try:
            outcome = run_decode_worker(path, work / f"out-{index}", limits)
        except WorkerFailure as exc:
            raise CodecError(f"the ground's decode worker failed ({exc.kind}): {exc}") from exc
        _check_digest(bool(outcome.result["digest_matches"]))
        units.append(to_unit(outcome.raster, read_header(data).spec))
    return units


def _check_digest(matches: bool) -> None:
    if not matches:
        raise CodecError(
            "a ground decode differs from the onboard reconstruction (digest mismatch); "
            "the benchmark figures would not be the real pipeline's"
        )


def segment_in_batches(segmenter: Any, units: list[np.ndarray], batch: int) -> list[np.ndarray]:
    """Segment ``units`` ``batch`` at a time with the segmenter's threshold.

    Shape:
        units: (C, H, W) float32 in [0, 1], all the same shape -> (H, W) uint8 masks.
    """
    import torch

    masks: list[np.ndarray] = []
    for start in range(0, len(units), batch):
        stacked = torch.from_numpy(np.stack(units[start : start + batch]))
        probs = segmenter.probabilities(stacked).numpy()
        masks.extend((probs >= segmenter.threshold).astype(np.uint8))  # on the CPU: synced
    return masks


def bench_task(
    prepared: TaskContainers,
    segmenters: dict[str, Any],
    batches: list[int],
    checkpoints: Any,
    worker: bool = False,
) -> list[GroundBenchRow]:
    """Time decode and segmentation of one task's containers for each device and batch size.

    Decoding is per container (no codec decodes a batch), so it is timed once over all the
    task's containers and the same figure stands in each of its rows; segmentation of all of
    them is timed per device and batch size (the last batch may be smaller).
    """
    import torch

    if not worker:  # a worker process loads everything afresh: that is what it measures
        decode_in_process(prepared.containers[:1], checkpoints)  # warm-up: weights, caches
    decode_s, units = _timed_decode(prepared.containers, checkpoints, worker)
    decode_rate = len(units) / decode_s
    rows = []
    for device, segmenter in segmenters.items():
        segment_in_batches(segmenter, units[:1], 1)  # warm-up: first-call costs (cuDNN, ...)
        for batch in batches:
            started = time.perf_counter()
            segment_in_batches(segmenter, units, batch)
            segment_rate = len(units) / (time.perf_counter() - started)
            rows.append(
                GroundBenchRow(
                    prepared.task,
                    prepared.codec,
                    device,
                    batch,
                    len(units),
                    "worker" if worker else "in-process",
                    torch.get_num_threads(),
                    decode_rate,
                    segment_rate,
                    1.0 / (1.0 / decode_rate + 1.0 / segment_rate),
                )
            )
    return rows


def _timed_decode(
    containers: list[bytes], checkpoints: Any, worker: bool
) -> tuple[float, list[np.ndarray]]:
    started = time.perf_counter()
    if worker:
        with tempfile.TemporaryDirectory(prefix="eodl-bench-ground-") as folder:
            units = decode_in_workers(containers, Path(folder))
    else:
        units = decode_in_process(containers, checkpoints)
    return time.perf_counter() - started, units


def run_ground_bench(
    tasks: list[str],
    batches: list[int],
    device: str | None,
    worker: bool = False,
    scenes: int | None = None,
) -> list[GroundBenchRow]:
    """Rows for every task x device x batch size (see :func:`bench_task`).

    Args:
        tasks: sensor profiles to run.
        batches: segmentation batch sizes.
        device: ``cpu``, ``cuda``, or None for the CPU and cuda when present.
        worker: decode in the ground's worker processes (see :func:`decode_in_workers`).
        scenes: scenes per task; by default the largest batch, and at least 4.

    Raises:
        ConfigurationError: a bad batch size, scene count or device, or a task without a
            shipped segmenter.
        UnknownNameError: an unknown task.
    """
    from ground_station.processing.segmenters import load_segmenters
    from satellite_node.codec_choice import open_checkpoints
    from shared.sensors.profiles import get_profile

    check_batches(batches)
    count = max(*batches, 4) if scenes is None else scenes
    if not (max(batches) <= count <= MAX_SCENES):
        raise ConfigurationError(
            f"--scenes {count} must be at least the largest batch ({max(batches)}) and at "
            f"most {MAX_SCENES}"
        )
    devices = resolve_devices(device)
    for task in tasks:
        get_profile(task)
    checkpoints = open_checkpoints(None)
    loaded = {d: load_segmenters(tuple(tasks), None, d) for d in devices}
    rows: list[GroundBenchRow] = []
    for task in tasks:
        segmenters = {}
        for dev, found in loaded.items():
            model, note = found.get(task)
            if model is None:
                raise ConfigurationError(f"no segmenter for {task} on {dev}: {note}")
            segmenters[dev] = model
        prepared = make_containers(task, count, checkpoints)
        rows.extend(bench_task(prepared, segmenters, batches, checkpoints, worker))
    return rows


def ground_table(rows: list[GroundBenchRow]) -> str:
    """One line per task, device and batch size."""
    lines = [
        f"{'task':9s} {'codec':22s} {'dev':4s} {'thr':>3s} {'batch':>5s} {'scenes':>6s} "
        f"{'decode':10s} "
        f"{'decode sc/s':>11s} {'segment sc/s':>12s} {'total sc/s':>10s}"
    ]
    for r in rows:
        lines.append(
            f"{r.task:9s} {r.codec:22s} {r.device:4s} {r.threads:3d} {r.batch:5d} {r.scenes:6d} "
            f"{r.decode:10s} "
            f"{r.decode_scenes_s:11.2f} {r.segment_scenes_s:12.2f} {r.total_scenes_s:10.2f}"
        )
    return "\n".join(lines)
