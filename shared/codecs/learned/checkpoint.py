"""Learned-codec checkpoints: NAME.safetensors (weights and CDF buffers) + NAME.json (manifest).

Weights are saved after ``update(force=True)``, so the entropy models' CDF tables ship with them
and encoder and decoder code with the same tables. Loading verifies the SHA-256 in the manifest.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from shared.codecs.learned.architectures import (
    CompressionModel,
    build_model,
    check_architecture,
)
from shared.codecs.learned.manifest import (
    CheckpointManifest,
    read_manifest,
    sha256_file,
    write_manifest,
)
from shared.errors import CheckpointError, WeightsMismatchError

log = logging.getLogger(__name__)
ENV_VAR = "EODL_CHECKPOINTS"


def packaged_checkpoints_dir() -> Path:
    """The checkpoints shipped inside the package (shared/assets/checkpoints/)."""
    return Path(__file__).resolve().parents[2] / "assets" / "checkpoints"


def packaged_roots() -> list[Path]:
    """Packaged search roots: the folder itself, then each ``codec/TASK/`` folder under it.

    Shipped codec checkpoints live per task (fire and cloud share a band count, so a quality
    alone does not pick between them); callers that know the task put its folder first.
    """
    base = packaged_checkpoints_dir()
    per_task = base / "codec"
    tasks = sorted(p for p in per_task.iterdir() if p.is_dir()) if per_task.is_dir() else []
    return [base, *tasks]


def checkpoint_paths(path: Path | str) -> tuple[Path, Path]:
    """(NAME.safetensors, NAME.json) for NAME, NAME.safetensors or NAME.json."""
    path = Path(path)
    if path.suffix in (".safetensors", ".json"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".safetensors"), path.with_name(path.name + ".json")


def save_checkpoint(
    model: CompressionModel, path: Path | str, manifest_fields: Mapping[str, Any]
) -> CheckpointManifest:
    """Save ``model`` (after ``update(force=True)``) and its manifest beside it.

    Args:
        model: a model from :func:`build_model` (it carries ``bands``, ``N`` and ``M``).
        path: NAME, NAME.safetensors or NAME.json; both files are written.
        manifest_fields: at least ``architecture`` and ``quality``; any other manifest field
            (lmbda, task, trained, data, seed, metrics, command). ``sha256`` is computed.
    """
    from safetensors.torch import save_file

    weights_path, manifest_path = checkpoint_paths(path)
    fields = {"bands": model.bands, "N": model.N, "M": model.M, **manifest_fields}
    fields["sha256"] = "0" * 64
    draft = CheckpointManifest.from_dict(fields, source="manifest_fields")
    check_architecture(draft.architecture)
    gains = getattr(model, "rate_gains", None)
    if len(draft.rate_lmbdas) != (0 if gains is None else gains.levels):
        raise CheckpointError(
            f"manifest lists {len(draft.rate_lmbdas)} rate lambdas but the model has "
            f"{0 if gains is None else gains.levels} rate levels"
        )
    if (draft.bands, draft.N, draft.M) != (model.bands, model.N, model.M):
        raise CheckpointError(
            f"manifest says bands={draft.bands}, N={draft.N}, M={draft.M} but the model has "
            f"bands={model.bands}, N={model.N}, M={model.M}"
        )
    model.update(force=True)
    tensors = {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = weights_path.with_name(weights_path.name + ".tmp")
    save_file(tensors, str(tmp))
    tmp.replace(weights_path)
    manifest = CheckpointManifest.from_dict({**fields, "sha256": sha256_file(weights_path)})
    write_manifest(manifest, manifest_path)
    return manifest


def load_checkpoint(path: Path | str) -> tuple[CompressionModel, CheckpointManifest]:
    """Load a checkpoint in eval mode after verifying its SHA-256.

    Raises:
        CheckpointError: a file is missing or unreadable, or the weights do not match the
            manifest's hash or shape.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights_path, manifest_path = checkpoint_paths(path)
    manifest = read_manifest(manifest_path)
    if not weights_path.is_file():
        raise CheckpointError(f"checkpoint weights {weights_path} do not exist")
    actual = sha256_file(weights_path)
    if actual != manifest.sha256:
        raise CheckpointError(
            f"{weights_path} has SHA-256 {actual[:16]}... but its manifest says "
            f"{manifest.sha256[:16]}...: the file was modified or is incomplete; re-copy it"
        )
    model = build_model(
        manifest.architecture,
        manifest.bands,
        manifest.quality,
        manifest.N,
        manifest.M,
        rate_levels=len(manifest.rate_lmbdas),
    )
    try:
        model.load_state_dict(load_file(str(weights_path)))
    except (SafetensorError, RuntimeError, KeyError) as exc:
        raise CheckpointError(f"{weights_path} does not fit its manifest: {exc}") from exc
    return model.eval(), manifest


def init_checkpoint(
    architecture: str,
    bands: int,
    quality: int,
    out_path: Path | str,
    seed: int,
    N: int | None = None,
    M: int | None = None,
) -> CheckpointManifest:
    """Write untrained weights (seeded) as a checkpoint: for tests and as training starts."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(architecture, bands, quality, N, M)
    command = (
        f"init_checkpoint({architecture!r}, bands={bands}, quality={quality}, "
        f"seed={seed}, N={N}, M={M})"
    )
    fields = {
        "architecture": architecture,
        "quality": quality,
        "trained": False,
        "data": "none (untrained)",
        "seed": seed,
        "command": command,
    }
    return save_checkpoint(model.eval(), out_path, fields)


@dataclass(frozen=True)
class StoredCheckpoint:
    """A checkpoint found in a search root: its path (NAME, no suffix) and manifest."""

    path: Path
    manifest: CheckpointManifest


class CheckpointStore:
    """Finds and caches checkpoints.

    Search order: the ``roots`` given, then the directories in ``EODL_CHECKPOINTS``
    (``os.pathsep``-separated, read when the store is created), then the packaged
    shared/assets/checkpoints/ and its ``codec/TASK/`` folders (:func:`packaged_roots`). Each
    root is searched non-recursively; within a root, trained checkpoints come first.
    """

    def __init__(self, roots: list[Path] | Path | str | None = None) -> None:
        if isinstance(roots, str | Path):
            roots = [Path(roots)]  # one folder is a list of one
        env = os.environ.get(ENV_VAR, "")
        extra = [Path(p) for p in env.split(os.pathsep) if p]
        self.roots: list[Path] = [Path(r) for r in roots or []] + extra
        self.roots += packaged_roots()
        self._models: dict[Path, tuple[CompressionModel, CheckpointManifest]] = {}
        self._lock = threading.Lock()
        self._per_task: dict[str, CheckpointStore] = {}

    def for_task(self, task: str) -> CheckpointStore:
        """This store with the task's shipped folder (``codec/TASK/``) searched before the other
        packaged ones: fire and cloud share a band count, so without it a fire patch would be
        coded with whichever 1-band model sorts first (cloud's). Roots given to the store or
        named in ``EODL_CHECKPOINTS`` still come first. Loaded models are shared."""
        with self._lock:
            if task not in self._per_task:
                own = packaged_checkpoints_dir() / "codec" / task
                store = CheckpointStore.__new__(CheckpointStore)
                store.roots = [r for r in self.roots if r != own]
                first_packaged = next(
                    (i for i, r in enumerate(store.roots) if r in packaged_roots()),
                    len(store.roots),
                )
                store.roots.insert(first_packaged, own)
                store._models, store._lock, store._per_task = self._models, self._lock, {}
                self._per_task[task] = store
            return self._per_task[task]

    def candidates(self, architecture: str, bands: int) -> list[StoredCheckpoint]:
        """Every readable checkpoint of this architecture and band count, in search order."""
        found = []
        for root in self.roots:
            in_root = []
            for manifest_path in sorted(root.glob("*.json")) if root.is_dir() else []:
                try:
                    manifest = read_manifest(manifest_path)
                except CheckpointError as exc:
                    log.warning("skipping checkpoint manifest: %s", exc)
                    continue
                if manifest.architecture == architecture and manifest.bands == bands:
                    in_root.append(StoredCheckpoint(manifest_path.with_suffix(""), manifest))
            found += sorted(in_root, key=lambda c: not c.manifest.trained)
        return found

    def find(
        self,
        architecture: str,
        bands: int,
        quality: int | None = None,
        weights_prefix: bytes | None = None,
    ) -> StoredCheckpoint:
        """The first checkpoint matching all the given criteria.

        Raises:
            WeightsMismatchError: ``weights_prefix`` matches none of the local weights.
            CheckpointError: no checkpoint for the architecture, bands and quality.
        """
        matches = [
            c
            for c in self.candidates(architecture, bands)
            if quality is None or c.manifest.quality == quality
        ]
        if weights_prefix is not None:
            local = [c.manifest.weights_prefix.hex() for c in matches]
            matches = [c for c in matches if c.manifest.weights_prefix == weights_prefix]
            if not matches:
                raise WeightsMismatchError(
                    f"the payload was coded with {architecture} weights {weights_prefix.hex()} "
                    f"({bands} bands); local weights here are {local or 'none'} in "
                    f"{[str(r) for r in self.roots]}: install the satellite's checkpoint"
                )
        if not matches:
            raise CheckpointError(self._missing_message(architecture, bands, quality))
        return matches[0]

    def load(self, entry: StoredCheckpoint) -> tuple[CompressionModel, CheckpointManifest]:
        """Load (once per path; later calls return the cached model) and verify."""
        with self._lock:
            if entry.path not in self._models:
                self._models[entry.path] = load_checkpoint(entry.path)
            return self._models[entry.path]

    def _missing_message(self, architecture: str, bands: int, quality: int | None) -> str:
        q = "any quality" if quality is None else f"quality {quality}"
        return (
            f"no {architecture} checkpoint for {bands} bands at {q} in "
            f"{[str(r) for r in self.roots]}; train one (`eodl train codec --architecture "
            f"{architecture} --bands {bands} --quality {quality or 3}`), or write untrained "
            "weights with shared.codecs.learned.checkpoint.init_checkpoint(...) into one of "
            f"those folders (or a folder named in {ENV_VAR})"
        )
