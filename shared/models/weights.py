"""Weights on disk: a safetensors file plus a JSON manifest beside it, checked by SHA-256.

A checkpoint ``CKPT`` is the pair ``CKPT.safetensors`` (tensors only, no pickle) and
``CKPT.json`` (what the weights are, how they were trained and how well they did). The manifest
carries the weights file's SHA-256, so a swapped or truncated file is refused on load.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from shared.durable import atomic_write
from shared.errors import CheckpointError

WEIGHTS_SUFFIX = ".safetensors"
MANIFEST_SUFFIX = ".json"


def checkpoint_paths(path: Path | str) -> tuple[Path, Path]:
    """Return (weights, manifest) paths for a checkpoint given by either file or its stem."""
    path = Path(path)
    if path.suffix in (WEIGHTS_SUFFIX, MANIFEST_SUFFIX):
        path = path.with_suffix("")
    return path.with_name(path.name + WEIGHTS_SUFFIX), path.with_name(path.name + MANIFEST_SUFFIX)


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_weights(
    state: dict[str, torch.Tensor],
    path: Path | str,
    manifest: dict[str, Any],
    dtype: torch.dtype | None = None,
) -> dict[str, Any]:
    """Write tensors and manifest atomically; return the manifest with ``sha256`` filled in.

    Args:
        state: tensors to store (a module's ``state_dict()``).
        path: the checkpoint (either file name, or the stem).
        manifest: JSON-serialisable fields describing the weights.
        dtype: store floating tensors in this type (e.g. ``torch.float16`` to halve the size).
    """
    from safetensors.torch import save

    weights_path, manifest_path = checkpoint_paths(path)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for name, tensor in state.items():
        tensor = tensor.detach().to("cpu").contiguous()
        if dtype is not None and tensor.is_floating_point():
            tensor = tensor.to(dtype)
        tensors[name] = tensor
    atomic_write(weights_path, save(tensors))
    full = dict(manifest)
    full["weights_file"] = weights_path.name
    full["sha256"] = file_sha256(weights_path)
    atomic_write(manifest_path, (json.dumps(full, indent=2, sort_keys=True) + "\n").encode())
    return full


def read_manifest(path: Path | str) -> dict[str, Any]:
    """Read a checkpoint's manifest.

    Raises:
        CheckpointError: the manifest is missing or not valid JSON.
    """
    _, manifest_path = checkpoint_paths(path)
    try:
        manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    except FileNotFoundError as exc:
        raise CheckpointError(
            f"no checkpoint manifest at {manifest_path}; train one with `eodl train ...`"
        ) from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"checkpoint manifest {manifest_path} is unreadable: {exc}") from exc
    return manifest


def load_weights(path: Path | str, manifest: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Load tensors after checking their SHA-256 against the manifest.

    Raises:
        CheckpointError: the weights are missing, unreadable, or differ from the manifest's hash.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights_path, _ = checkpoint_paths(path)
    if not weights_path.is_file():
        raise CheckpointError(f"weights file {weights_path} is missing; retrain or restore it")
    actual = file_sha256(weights_path)
    if actual != manifest.get("sha256"):
        raise CheckpointError(
            f"weights {weights_path} have SHA-256 {actual[:16]}..., the manifest says "
            f"{str(manifest.get('sha256'))[:16]}...; the files do not belong together"
        )
    try:
        return load_file(str(weights_path))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"weights file {weights_path} is unreadable: {exc}") from exc
