"""Move a variable-rate model's lowest level to a lower rate without training.

Stage 8's labels run lifted the building codec's lowest level from 26.2 to 27.9 dB: the task
term pays for bits there, and the PSNR overlap with JPEG 2000 shrank under 8 dB. Lowering
that level's lambda and training on moves its gains by the learning rate per step (the gains
moved 1 % in three epochs at lr 5e-5). A level is a gain vector on the latents (coarser
quantisation below 1), so the level can be moved directly: its log gains shift by DELTA (its
quantisation step grows by exp(-DELTA)), every other weight stays as trained.

Prints, for each DELTA, the level's PSNR (unit range, pooled) and estimated bpp (the entropy
model's likelihoods, eval-mode rounding as the coder codes) on the first LIMIT scenes of a
folder; pick DELTA on training scenes, then measure the written checkpoint on held-out ones.

Usage: python scripts/campaign/shift_level.py CHECKPOINT SCENES --deltas -0.2,-0.4
    [--limit 32] [--no-offsets] [--write DELTA OUT]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import torch

from scripts.campaign.ceiling import load_scenes
from shared.codecs.learned.checkpoint import load_checkpoint, save_checkpoint
from shared.codecs.learned.manifest import read_manifest


@torch.no_grad()
def shift_lowest(model: Any, delta: float) -> None:
    """Shift the lowest level's log gains by ``delta`` (its inverse gains by ``-delta``)."""
    gains = model.rate_gains
    gains.log_gain[-1] += delta
    gains.log_inverse[-1] -= delta


@torch.no_grad()
def measure(
    model: Any, scenes: torch.Tensor, level: int, offsets: bool = True
) -> tuple[float, float]:
    """Pooled PSNR (dB, unit range) and estimated bpp of ``scenes`` at ``level``; with
    ``offsets`` each scene's per-band mean error is removed first, as the payload's band
    offsets do (:mod:`shared.codecs.learned.band_offsets`; their bytes are not counted)."""
    sq_err, bits = 0.0, 0.0
    for x in scenes.split(4):
        out = model(x, level=level)
        x_hat = out["x_hat"].clamp(0, 1)
        if offsets:
            x_hat = (x_hat + (x - x_hat).mean(dim=(2, 3), keepdim=True)).clamp(0, 1)
        sq_err += float(torch.sum((x_hat - x) ** 2))
        bits += sum(float(-torch.log2(v).sum()) for v in out["likelihoods"].values())
    pixels = scenes.shape[0] * scenes.shape[2] * scenes.shape[3]
    return 10 * math.log10(scenes.numel() / sq_err), bits / pixels


def write(checkpoint: str, scenes: Path, delta: float, out: str) -> None:
    """Save CHECKPOINT with its lowest level shifted by ``delta`` as OUT."""
    model, _ = load_checkpoint(checkpoint)
    shift_lowest(model, delta)
    fields = read_manifest(Path(checkpoint).with_suffix(".json")).to_dict()
    for name in ("sha256", "bands", "N", "M"):
        fields.pop(name, None)
    last = f"_L{model.rate_gains.levels - 1}"  # the moved level's validation figures are stale
    fields["metrics"] = {k: v for k, v in fields.get("metrics", {}).items() if not k.endswith(last)}
    fields["command"] = (
        f"{fields.get('command', '')}; then python scripts/campaign/shift_level.py "
        f"{checkpoint} {scenes} --write {delta} {out}"
    )
    save_checkpoint(model.eval(), out, fields)
    print(f"wrote {out}: lowest level's log gains shifted by {delta}")


def main() -> None:
    """Sweep the shifts on SCENES, or write one shifted checkpoint."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("scenes", type=Path)
    parser.add_argument("--deltas", default="0")
    parser.add_argument("--limit", type=int, default=32)
    parser.add_argument("--no-offsets", action="store_true")
    parser.add_argument("--write", nargs=2, metavar=("DELTA", "OUT"))
    args = parser.parse_args()
    if args.write:
        write(args.checkpoint, args.scenes, float(args.write[0]), args.write[1])
        return
    torch.set_num_threads(1)
    scenes = load_scenes(args.scenes, args.limit)
    for delta in (float(d) for d in args.deltas.split(",")):
        model, _ = load_checkpoint(args.checkpoint)
        shift_lowest(model.eval(), delta)
        last = model.rate_gains.levels - 1
        psnr_db, bpp = measure(model, scenes, last, offsets=not args.no_offsets)
        print(f"delta {delta:+.2f}: level {last} {psnr_db:.2f} dB at {bpp:.4f} bpp (estimated)")


if __name__ == "__main__":
    main()
