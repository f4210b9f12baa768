"""Run the decode worker for one container and collect what it wrote.

Each container is decoded in its own child process (a crash or a bomb costs that transfer only),
forked from a multiprocessing *forkserver* that imported torch, CompressAI and the codecs once:
a fresh interpreter spent seconds importing CompressAI (it pulls in torch_geometric and
scipy.stats) for a decode of a fraction of a second (measured with ``eodl bench ground --worker``).
The child caps its own address space, pins one thread and hides CUDA before it decodes, so it
behaves like the standalone ``python -m ground_station.processing.worker``.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import signal
import sys
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

import numpy as np

from ground_station.processing.worker import RASTER_NAME, RESULT_NAME, TRUTH_NAME, run_request

STDERR_NAME = "stderr.txt"
#: What the forkserver imports once, so that no decode pays for it.
PRELOAD = ("torch", "compressai", "shared.compression", "shared.codecs.learned.codec")
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class WorkerFailure(Exception):
    """The worker did not produce a decode: ``kind`` is crash, timeout or error."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class WorkerLimits:
    """What the worker may use."""

    timeout_s: float
    memory_mb: int
    max_pixels: int
    max_bands: int
    max_payload_bytes: int
    checkpoint_dirs: tuple[str, ...] = ()


@dataclass(frozen=True)
class DecodeOutcome:
    """What the worker decoded.

    Shape:
        raster: (C, H, W) in the container's original dtype.
        truth: (H, W) uint8/bool, or None.
    """

    raster: np.ndarray
    truth: np.ndarray | None
    result: dict[str, Any]


@functools.lru_cache(maxsize=1)
def forkserver() -> BaseContext:
    """The multiprocessing context whose server imported :data:`PRELOAD` once."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return context


def isolate_child() -> None:
    """In a decode process: no CUDA and one thread (deterministic float paths, as onboard)."""
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    for name in _THREAD_VARIABLES:
        os.environ[name] = "1"
    import torch

    torch.set_num_threads(1)


def _child(request: dict[str, Any]) -> None:
    """The decode process: stderr to a file, one thread, no CUDA, then the worker's request."""
    log = os.open(Path(request["out_dir"]) / STDERR_NAME, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(log, 2)
    isolate_child()
    sys.exit(run_request(request))


def _describe_exit(code: int, stderr: str) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        what = f"decode worker was killed by {name}"
    else:
        what = f"decode worker exited with status {code}"
    tail = stderr.strip().splitlines()[-1:] if stderr.strip() else []
    return what + (f": {tail[0][:300]}" if tail else "")


def run_decode_worker(container: Path, out_dir: Path, limits: WorkerLimits) -> DecodeOutcome:
    """Decode ``container`` in a fresh process under ``limits``.

    Raises:
        WorkerFailure: the worker refused the container (kind ``error``), crashed (``crash``)
            or ran past the time limit (``timeout``, the process is killed).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    request = decode_request(container, out_dir, limits)
    process = forkserver().Process(target=_child, args=(request,), daemon=True)
    process.start()
    process.join(limits.timeout_s)
    if process.is_alive():
        process.kill()
        process.join()
        raise timeout_failure(limits)
    code = process.exitcode if process.exitcode is not None else -signal.SIGKILL
    process.close()
    return collect_outcome(out_dir, code)


def decode_request(container: Path, out_dir: Path, limits: WorkerLimits) -> dict[str, Any]:
    """The request the decode worker reads (JSON-able)."""
    return {
        "container": str(container),
        "out_dir": str(out_dir),
        "memory_mb": limits.memory_mb,
        "checkpoint_dirs": list(limits.checkpoint_dirs),
        "limits": {
            "max_pixels": limits.max_pixels,
            "max_bands": limits.max_bands,
            "max_payload_bytes": limits.max_payload_bytes,
        },
    }


def timeout_failure(limits: WorkerLimits) -> WorkerFailure:
    """The failure of a decode that ran past ``limits.timeout_s`` (its worker was killed)."""
    return WorkerFailure(
        "timeout",
        f"decode worker ran past the {limits.timeout_s:g} s limit and was killed "
        "(GS_DECODE_TIMEOUT_S)",
    )


def _stderr(out_dir: Path) -> str:
    try:
        return (out_dir / STDERR_NAME).read_text(errors="replace")
    except OSError:
        return ""


def collect_outcome(out_dir: Path, code: int) -> DecodeOutcome:
    """What a decode worker that exited (or answered) with ``code`` wrote to ``out_dir``."""
    result_path = out_dir / RESULT_NAME
    result: dict[str, Any] | None = None
    if result_path.is_file():
        try:
            result = json.loads(result_path.read_text())
        except json.JSONDecodeError:
            result = None
    if code != 0 or result is None or "error" in result:
        if result is not None and "error" in result:
            raise WorkerFailure("error", f"{result['error']}: {result['detail']}")
        raise WorkerFailure("crash", _describe_exit(code, _stderr(out_dir)))
    truth_path = out_dir / TRUTH_NAME
    raster = np.load(out_dir / RASTER_NAME, allow_pickle=False)
    truth = np.load(truth_path, allow_pickle=False) if truth_path.is_file() else None
    return DecodeOutcome(raster=raster, truth=truth, result=result)
