"""Where a variable-rate cheng2020-gmm's fidelity stops: its transform or its quantiser?

Prints, on the first LIMIT scenes of a held-out folder (PSNR of the unit range, what the
trainer's MSE measures):

- per rate level: the reconstruction with latents rounded as the coder codes them, and with
  latents left unquantised (the transform's own ceiling at that level's gains);
- past the top level: gains x2, x4, x8 (finer quantisation than any trained level);
- with --f1: the shipped segmenter's pooled F1+ on the clean scenes, on the top level's
  reconstruction and on its unquantised latents (no rate level of this transform can do
  better than the latter: it is the F1 the transform leaves the ground at any rate);
- the linear bound: a PCA of the 16 x 16 blocks (all bands) keeping as many values per block as
  the model has latents, and at other counts (fitted on half of the scenes, measured on the
  other half).

Usage: python scripts/campaign/ceiling.py CHECKPOINT HELDOUT_DIR [--limit 32] [--keep 48,96,128]
    [--f1]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from shared.codecs.learned.checkpoint import load_checkpoint
from shared.sensors.profiles import get_profile
from workbench.training.data import folder_task

BLOCK = 16


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return 10.0 * math.log10(1.0 / float(torch.mean((a - b) ** 2)))


def load_scenes(folder: Path, limit: int) -> torch.Tensor:
    """The first ``limit`` scenes of a folder, in the unit range, as one (B, C, H, W) batch."""
    task = folder_task(folder)
    scale = get_profile(task).global_max
    files = sorted(p for p in folder.glob("*.npy") if not p.name.endswith(".mask.npy"))[:limit]
    images = [np.load(p).astype(np.float32) for p in files]
    images = [i[None] if i.ndim == 2 else i for i in images]
    return torch.from_numpy(np.clip(np.stack(images) / np.float32(scale), 0.0, 1.0))


def load_masks(folder: Path, limit: int) -> list[np.ndarray]:
    """The masks of the first ``limit`` scenes of a folder."""
    files = sorted(folder.glob("*.mask.npy"))[:limit]
    return [np.load(p).astype(bool) for p in files]


def rounded_latents(model: Any, y: torch.Tensor, level: float) -> torch.Tensor:
    """The latents ``y`` quantised as the coder codes them at a rate level (gain, round, undo)."""
    gain, inverse = model.rate_gains.at(level)
    return torch.round(y * gain) * inverse


def model_ceiling(model: torch.nn.Module, x: torch.Tensor) -> list[str]:
    """Lines: PSNR per level, rounded and unquantised, and past the top level."""
    lines = []
    with torch.no_grad():
        y = model.g_a(x)
        for level in range(model.rate_gains.levels):
            gain, inverse = model.rate_gains.at(float(level))
            rounded = model.g_s(rounded_latents(model, y, float(level))).clamp(0, 1)
            plain = model.g_s(y * gain * inverse).clamp(0, 1)
            lines.append(
                f"level {level}: {_psnr(rounded, x):.2f} dB rounded, "
                f"{_psnr(plain, x):.2f} dB unquantised"
            )
        gain, inverse = model.rate_gains.at(0.0)
        for factor in (2, 4, 8):
            finer = model.g_s(torch.round(y * gain * factor) * inverse / factor).clamp(0, 1)
            lines.append(f"level 0, gains x{factor}: {_psnr(finer, x):.2f} dB")
    return lines


def pooled_f1(segmenter: Any, images: torch.Tensor, masks: list[np.ndarray]) -> float:
    """Pooled F1+ of the segmenter over reconstructions on the sensor's integer grid."""
    from shared.metrics.segmentation import f1_positive

    scale = get_profile(segmenter.task).global_max
    on_grid = torch.round(images.clamp(0, 1) * scale) / scale
    preds = [segmenter.predict(i.numpy()) for i in on_grid]
    return float(
        f1_positive(
            np.concatenate([m.ravel() for m in masks]), np.concatenate([p.ravel() for p in preds])
        )
    )


def f1_ceiling(
    model: torch.nn.Module, x: torch.Tensor, masks: list[np.ndarray], task: str
) -> list[str]:
    """Lines: the shipped segmenter's F1+ clean, at the top level, and unquantised."""
    from shared.models.segmentation import load_segmenter

    segmenter = load_segmenter(task)
    with torch.no_grad():
        y = model.g_a(x)
        gain, inverse = model.rate_gains.at(0.0)
        rounded = model.g_s(rounded_latents(model, y, 0.0))
        plain = model.g_s(y * gain * inverse)
    return [
        f"F1+ of the shipped {task} segmenter: clean {pooled_f1(segmenter, x, masks):.3f}, "
        f"level 0 rounded {pooled_f1(segmenter, rounded, masks):.3f}, "
        f"unquantised {pooled_f1(segmenter, plain, masks):.3f}"
    ]


def linear_bound(x: torch.Tensor, keep: list[int]) -> list[str]:
    """Lines: PSNR of a PCA of the 16 x 16 x bands blocks keeping k values per block, its basis
    fitted on the first half of the scenes and measured on the second."""
    b, c, h, w = x.shape
    blocks = x[:, :, : h - h % BLOCK, : w - w % BLOCK].double()
    blocks = blocks.reshape(b, c, h // BLOCK, BLOCK, w // BLOCK, BLOCK)
    rows = blocks.permute(0, 2, 4, 1, 3, 5).reshape(b, -1, c * BLOCK * BLOCK)
    fit, test = rows[: b // 2].flatten(0, 1), rows[b // 2 :].flatten(0, 1)
    mean = fit.mean(dim=0)
    basis = torch.linalg.svd(fit - mean, full_matrices=False).Vh
    lines = [f"linear bound, fitted on {len(fit)} blocks of {fit.shape[1]} values, on {len(test)}:"]
    for k in keep:
        if k > len(fit):
            lines.append(f"  keep {k}: n/a (more values than fitted blocks)")
            continue
        centred = test - mean
        approx = centred @ basis[:k].T @ basis[:k]
        lines.append(f"  keep {k}: {_psnr(approx.float(), centred.float()):.2f} dB")
    return lines


def main() -> None:
    """Parse the arguments and print the ceiling lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("heldout", type=Path)
    parser.add_argument("--limit", type=int, default=32)
    parser.add_argument("--keep", default="")
    parser.add_argument("--f1", action="store_true", help="also the segmenter's F1+ ceiling")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, manifest = load_checkpoint(args.checkpoint)
    x = load_scenes(args.heldout, args.limit)
    print(f"{args.checkpoint}: N={manifest.N} M={manifest.M}, {len(x)} scenes of {args.heldout}")
    print("\n".join(model_ceiling(model, x)))
    if args.f1:
        print("\n".join(f1_ceiling(model, x, load_masks(args.heldout, args.limit), manifest.task)))
    keep = [int(k) for k in args.keep.split(",") if k] or [
        manifest.M // 2,
        manifest.M,
        2 * manifest.M,
    ]
    print("\n".join(linear_bound(x, keep)))


if __name__ == "__main__":
    main()
