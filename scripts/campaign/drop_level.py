"""Write a checkpoint from a trainer state's best weights with one rate level left out.

Stage 6's nine-level run (lambda 128 below 320) trained a level the payload cannot code (at
most 8 levels: the level code is one byte at 1/32 steps). Dropping level 7 (lambda 320) keeps
every other trained weight, the ninth level's gains included, as an 8-level start whose last
lambda is 128.

A shipped checkpoint can be the source too: dropping its last level (lambda 320) gives a
7-level start that `--rate-lmbdas ...,800,128` extends with a lower level
(`RateGains.extend_from`).

Usage: python scripts/campaign/drop_level.py SOURCE TEMPLATE LEVEL OUT LMBDAS
    SOURCE: RUN.state.pt (its best weights) or a checkpoint NAME (NAME.safetensors);
    TEMPLATE: a checkpoint of the same model (its manifest is copied);
    LEVEL: the level to drop; OUT: the checkpoint to write (NAME); LMBDAS: the remaining
    lambdas, comma-separated, highest rate first.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import torch

from shared.codecs.learned.architectures import build_model
from shared.codecs.learned.checkpoint import load_checkpoint, save_checkpoint
from shared.codecs.learned.manifest import read_manifest

GAIN_KEYS = ("rate_gains.log_gain", "rate_gains.log_inverse")


def source_weights(source: str) -> tuple[dict[str, torch.Tensor], str]:
    """SOURCE's weights (a trainer state's best, or a checkpoint's) and where they came from."""
    if source.endswith(".state.pt"):
        saved = torch.load(source, map_location="cpu", weights_only=False)
        return dict(saved["best_model"]), f"best weights after {saved['epoch'] + 1} epochs"
    model, manifest = load_checkpoint(source)
    return dict(model.state_dict()), f"checkpoint sha256 {manifest.sha256[:12]}"


def main(state: str, template: str, level: int, out: str, lmbdas: str) -> None:
    """Save SOURCE's weights without rate level LEVEL as the checkpoint OUT."""
    weights, origin = source_weights(state)
    rows = weights[GAIN_KEYS[0]].shape[0]
    keep = [k for k in range(rows) if k != level]
    for key in GAIN_KEYS:
        weights[key] = weights[key][keep]
    rates = [float(v) for v in lmbdas.split(",")]
    if len(rates) != len(keep):
        raise SystemExit(f"{len(keep)} levels remain; LMBDAS names {len(rates)}")
    base = read_manifest(Path(template).with_suffix(".json"))
    model = build_model(
        base.architecture, base.bands, base.quality, N=base.N, M=base.M, rate_levels=len(keep)
    )
    model.load_state_dict(weights)
    fields = {k: v for k, v in asdict(base).items() if k not in {"bands", "N", "M", "sha256"}}
    fields.update(
        rate_lmbdas=rates,
        lmbda=rates[0],
        metrics={},
        command=f"python scripts/campaign/drop_level.py {state} {template} {level} {out} "
        f"{lmbdas}  ({origin})",
    )
    save_checkpoint(model.eval(), out, fields)
    print(f"wrote {out}: {len(keep)} levels, lambdas {rates}")


if __name__ == "__main__":
    if len(sys.argv) != 6:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
