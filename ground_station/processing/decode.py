"""Run the decode worker for one container and collect what it wrote."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ground_station.processing.worker import RASTER_NAME, RESULT_NAME, TRUTH_NAME

_PROJECT_ROOT = Path(__file__).resolve().parents[2]


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


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # One thread: deterministic float paths (as onboard) and a predictable memory footprint.
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = "1"
    env["CUDA_VISIBLE_DEVICES"] = ""
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PROJECT_ROOT), env.get("PYTHONPATH")) if p)
    return env


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
    request = {
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
    command = [sys.executable, "-m", "ground_station.processing.worker", json.dumps(request)]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=limits.timeout_s,
            env=_env(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise WorkerFailure(
            "timeout",
            f"decode worker ran past the {limits.timeout_s:g} s limit and was killed "
            "(GS_DECODE_TIMEOUT_S)",
        ) from None
    return _collect(out_dir, done)


def _collect(out_dir: Path, done: subprocess.CompletedProcess) -> DecodeOutcome:
    result_path = out_dir / RESULT_NAME
    result: dict[str, Any] | None = None
    if result_path.is_file():
        try:
            result = json.loads(result_path.read_text())
        except json.JSONDecodeError:
            result = None
    if done.returncode != 0 or result is None or "error" in result:
        if result is not None and "error" in result:
            raise WorkerFailure("error", f"{result['error']}: {result['detail']}")
        raise WorkerFailure("crash", _describe_exit(done.returncode, done.stderr))
    truth_path = out_dir / TRUTH_NAME
    raster = np.load(out_dir / RASTER_NAME, allow_pickle=False)
    truth = np.load(truth_path, allow_pickle=False) if truth_path.is_file() else None
    return DecodeOutcome(raster=raster, truth=truth, result=result)
