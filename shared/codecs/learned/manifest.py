"""The JSON manifest that sits beside every learned-codec checkpoint (NAME.json)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from shared.codecs.base import WEIGHTS_PREFIX_BYTES
from shared.errors import CheckpointError

MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class CheckpointManifest:
    """What a checkpoint is and how it was made.

    Attributes:
        architecture: registry name, e.g. ``cheng2020-gmm``.
        bands, quality, N, M: the model's shape; quality 1..6 is also the container's model id.
        lmbda: rate-distortion trade-off it was trained at (None when untrained).
        task: sensor profile / task it was trained for (``fire``, ``cloud``, ``building``).
        trained: False for the initial weights of :func:`init_checkpoint`.
        data: what it was trained on.
        seed: RNG seed of the initial weights.
        metrics: measured figures, e.g. ``{"bpp": 0.41, "psnr_db": 38.2}``; a variable-rate
            model's carry the quality, ``{"bpp_q3": 0.41, ...}`` (see :meth:`metrics_at`).
        command: the command that made it.
        sha256: hex digest of NAME.safetensors.
        rate_lmbdas: empty for a fixed-rate model; the lambda of each level of a variable-rate
            one, level 0 first (the highest rate).
    """

    architecture: str
    bands: int
    quality: int
    N: int
    M: int
    sha256: str
    lmbda: float | None = None
    task: str | None = None
    trained: bool = False
    data: str = ""
    seed: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    command: str = ""
    rate_lmbdas: list[float] = field(default_factory=list)
    format: int = MANIFEST_FORMAT

    @property
    def weights_prefix(self) -> bytes:
        """The first bytes of the weights' SHA-256 that containers carry."""
        return bytes.fromhex(self.sha256)[:WEIGHTS_PREFIX_BYTES]

    @property
    def qualities(self) -> tuple[int, ...]:
        """The container qualities the checkpoint codes: all six for a variable-rate model."""
        return tuple(range(1, 7)) if self.rate_lmbdas else (self.quality,)

    def metrics_at(self, quality: int) -> dict[str, float]:
        """Measured figures at one quality (``bpp_q3`` read as ``bpp`` on variable rate)."""
        if not self.rate_lmbdas:
            return dict(self.metrics) if quality == self.quality else {}
        suffix = f"_q{quality}"
        return {k.removesuffix(suffix): v for k, v in self.metrics.items() if k.endswith(suffix)}

    def to_dict(self) -> dict[str, Any]:
        """The manifest as JSON-ready fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "manifest") -> CheckpointManifest:
        """Build and type-check a manifest; unknown keys are refused."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        missing = {"architecture", "bands", "quality", "N", "M", "sha256"} - set(data)
        if unknown or missing:
            raise CheckpointError(
                f"{source}: unknown fields {sorted(unknown)}, missing fields {sorted(missing)}; "
                f"a manifest has {sorted(names)}"
            )
        manifest = cls(**data)
        manifest.validate(source)
        return manifest

    def validate(self, source: str = "manifest") -> None:
        """Refuse wrong types and values with a message naming the field."""
        ints = {"bands": self.bands, "quality": self.quality, "N": self.N, "M": self.M}
        for name, value in ints.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise CheckpointError(f"{source}: {name} must be a positive integer, got {value!r}")
        if not 1 <= self.quality <= 6:
            raise CheckpointError(f"{source}: quality must be 1..6, got {self.quality}")
        try:
            ok = len(bytes.fromhex(self.sha256)) == 32
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise CheckpointError(f"{source}: sha256 must be 64 hex digits, got {self.sha256!r}")
        lmbdas = self.rate_lmbdas
        if (
            not isinstance(lmbdas, list)
            or len(lmbdas) == 1
            or not all(isinstance(v, int | float) and v > 0 for v in lmbdas)
        ):
            raise CheckpointError(
                f"{source}: rate_lmbdas must be empty or list 2+ positive lambdas, got {lmbdas!r}"
            )
        if not isinstance(self.metrics, dict) or not all(
            isinstance(v, int | float) for v in self.metrics.values()
        ):
            raise CheckpointError(f"{source}: metrics must map names to numbers")


def read_manifest(path: Path) -> CheckpointManifest:
    """Read NAME.json. Raises CheckpointError when it is missing or malformed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CheckpointError(f"checkpoint manifest {path} does not exist") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"checkpoint manifest {path} is unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"checkpoint manifest {path} must hold a JSON object")
    return CheckpointManifest.from_dict(data, source=str(path))


def write_manifest(manifest: CheckpointManifest, path: Path) -> None:
    """Write NAME.json atomically (temporary file, then rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(manifest.to_dict(), indent=2, sort_keys=True) + "\n", "utf-8")
    tmp.replace(path)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
