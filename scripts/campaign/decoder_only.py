"""Is the synthesis what limits the building codec's F1? Train the decoder side only.

The encoder side (analysis, hyperprior, entropy model) stays frozen, so the bitstreams and
their rates do not change; the synthesis ``g_s``, with an optional full-resolution refinement
appended (3 x 3 convolutions, its last one zero so that it starts as the identity), is trained
on the task-aware distortion (MSE + WEIGHT x the frozen shipped U-Net's BCE + soft Dice, as
``eodl train codec --segmenter``) at a random rate level per batch of 8 random scenes. Prints
the shipped U-Net's pooled F1+ and the PSNR (unit range) at levels 0, 4 and 5 on the held-out
and the demo's scenes, before and after. An experiment: nothing is shipped from it.

Usage: python scripts/campaign/decoder_only.py CHECKPOINT TRAIN_DIR HELDOUT_DIR DEMO_DIR
    [--refine 32] [--minutes 14] [--weight 1e-2] [--lr 1e-4] [--threads 2] [--out WEIGHTS.pt]
"""

from __future__ import annotations

import argparse
import math
import random
import time
from pathlib import Path
from typing import Any

import torch
from ceiling import load_masks, load_scenes, pooled_f1, rounded_latents
from torch import nn

from shared.codecs.learned.checkpoint import load_checkpoint
from shared.models.segmentation import load_segmenter
from workbench.training.task_term import load_task_term

SEGMENTER = Path("shared/assets/checkpoints/segmenter/building")
LEVELS_SHOWN = (0, 4, 5)


class Refine(nn.Module):
    """x + a small full-resolution residual; zero at the start."""

    def __init__(self, bands: int, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(bands, channels, 3, padding=1),
            nn.LeakyReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.LeakyReLU(),
            nn.Conv2d(channels, bands, 3, padding=1),
        )
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The refined reconstruction."""
        return x + self.body(x)


def reconstruct(model: Any, refine: nn.Module, x: torch.Tensor, level: int) -> torch.Tensor:
    """The decoder's output for ``x`` coded at ``level`` (latents rounded, encoder frozen)."""
    with torch.no_grad():
        y_hat = rounded_latents(model, model.g_a(x), float(level))
    return refine(model.g_s(y_hat))


def report(tag: str, model: Any, refine: nn.Module, folders: list[Path]) -> None:
    """One line per folder: F1+ and PSNR at the shown levels."""
    segmenter = load_segmenter("building")
    for folder in folders:
        x, masks = load_scenes(folder, 32), load_masks(folder, 32)
        cells = []
        with torch.no_grad():
            for level in LEVELS_SHOWN:
                x_hat = reconstruct(model, refine, x, level).clamp(0, 1)
                psnr = 10 * math.log10(1 / float(((x_hat - x) ** 2).mean()))
                cells.append(f"L{level} F1+ {pooled_f1(segmenter, x_hat, masks):.3f} {psnr:.2f} dB")
        print(f"{tag} {folder.name}: " + ", ".join(cells), flush=True)


def main() -> None:
    """Parse the arguments, train the decoder side for the budget, report before and after."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("checkpoint", "train", "heldout", "demo"):
        parser.add_argument(name, type=Path)
    parser.add_argument("--refine", type=int, default=32, help="channels; 0: g_s alone")
    parser.add_argument("--minutes", type=float, default=14.0)
    parser.add_argument("--weight", type=float, default=1e-2)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.manual_seed(0)
    random.seed(0)
    torch.set_num_threads(args.threads)
    model, manifest = load_checkpoint(args.checkpoint)
    model.requires_grad_(False)
    model.g_s.requires_grad_(True)
    refine = Refine(manifest.bands, args.refine) if args.refine else nn.Identity()
    params = [*model.g_s.parameters(), *refine.parameters()]
    optimiser = torch.optim.Adam(params, lr=args.lr)
    term = load_task_term(SEGMENTER, "building", args.weight, "cpu")
    images, masks = (
        load_scenes(args.train, 100_000),
        torch.stack([torch.from_numpy(m) for m in load_masks(args.train, 100_000)]),
    )
    report("before", model, refine, [args.heldout, args.demo])
    start, steps, losses = time.monotonic(), 0, []
    while time.monotonic() - start < args.minutes * 60:
        pick = torch.randint(0, len(images), (8,))
        x, mask = images[pick], masks[pick].float()
        if random.random() < 0.5:
            x, mask = x.flip(-1), mask.flip(-1)
        x_hat = reconstruct(model, refine, x, random.randrange(model.rate_gains.levels))
        loss = ((x_hat - x) ** 2).mean() + args.weight * term.loss(x_hat, mask)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        steps += 1
        losses.append(float(loss.detach()))
        if steps % 200 == 0:
            recent = sum(losses[-200:]) / 200
            print(f"step {steps}, {time.monotonic() - start:.0f} s: loss {recent:.5f}", flush=True)
    report(f"after {steps} steps", model, refine, [args.heldout, args.demo])
    if args.out:
        torch.save({"g_s": model.g_s.state_dict(), "refine": refine.state_dict()}, args.out)


if __name__ == "__main__":
    main()
