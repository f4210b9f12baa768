"""Store a campaign checkpoint's floating-point tensors as float16 (half the bytes in git).

A campaign checkpoint is a starting point for the next stage (``eodl train codec --init``),
not a shipped rate point: float16 weights load into the float32 model unchanged in shape and
the next stage trains on from them. The manifest's SHA-256 is updated to the new file.

Usage: python scripts/campaign/snapshot.py NAME [NAME ...]   (NAME.safetensors + NAME.json)
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from shared.codecs.learned.checkpoint import checkpoint_paths
from shared.codecs.learned.manifest import read_manifest, sha256_file, write_manifest


def snapshot(name: str) -> None:
    """Rewrite NAME.safetensors with float16 floats and its manifest with the new SHA-256."""
    weights, manifest_path = checkpoint_paths(Path(name))
    tensors = load_file(str(weights))
    halved = {
        key: value.half() if value.dtype == torch.float32 else value
        for key, value in tensors.items()
    }
    save_file(halved, str(weights))
    manifest = read_manifest(manifest_path)
    write_manifest(replace(manifest, sha256=sha256_file(weights)), manifest_path)
    print(f"{weights}: {weights.stat().st_size / 1e6:.1f} MB (float16)")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        snapshot(arg)
