"""A task-aware distortion for codec training: the ground's own segmenter, frozen, judges the
reconstruction.

The distortion of a batch becomes ``MSE + weight * T``, where T is the frozen segmenter's loss
on the reconstruction against the scene's mask (binary cross-entropy plus soft Dice), so each
rate level's lambda scales both terms alike: L = lambda * (MSE + weight * T) + R. BCE alone is
not enough on sparse masks: a first run on building (1.7 % of pixels positive) lowered the
BCE by a fifth and halved the segmenter's positive rate at its threshold, and F1+ fell; the
Dice term is the F1 the ground measures, made differentiable.

Unlike joint training (the paper's Eq. 1, :mod:`workbench.training.joint`) the segmenter does
not move: the codec learns to keep what the segmenter the ground actually runs needs, and that
segmenter's F1 on clean scenes stays the yardstick.

What T compares the reconstruction's segmentation with (``target``):

- ``mask``: the scene's labelled mask;
- ``clean``: the same segmenter's own mask of the clean scene (its probabilities at its
  validation-chosen threshold). The codec is then asked to keep what the segmenter sees, not to
  mend where it is wrong on clean scenes; the labels are not read, the way for unlabelled (real)
  tiles to join the training once the data loader takes scenes without masks. On building it
  cost 0.025 of held-out F1+ against the labels in 6 epochs (stage 8 in
  ``scripts/campaign/README.md``): the labels teach the codec to mend some of those errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from shared.errors import CheckpointError, ConfigurationError
from shared.models.segmentation import load_segmenter_checkpoint, pad_to_multiple

#: What the segmenter's output on a reconstruction is compared with (see the module's notes).
TASK_TARGETS = ("mask", "clean")


@dataclass(frozen=True)
class TaskTerm:
    """A frozen segmenter, the weight of its loss against the MSE and what it is compared with."""

    segmenter: nn.Module
    weight: float
    sha256: str
    target: str = "mask"
    threshold: float = 0.5

    def target_mask(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The mask a reconstruction of ``x`` is judged against: ``mask``, or with target
        ``clean`` the segmenter's own mask of ``x`` (no gradient).

        Shape:
            x: (B, C, H, W) in [0, 1]; mask: (B, H, W) 0/1; returns (B, H, W) float 0/1.
        """
        if self.target == "mask":
            return mask.float()
        height, width = x.shape[-2:]
        with torch.no_grad():
            logits = self.segmenter(pad_to_multiple(x))[:, 0, :height, :width]
        return (torch.sigmoid(logits) >= self.threshold).float()

    def loss(self, x_hat: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The segmenter's BCE plus soft Dice on a reconstruction against ``mask`` (the target
        from :meth:`target_mask`; gradients flow to ``x_hat`` only).

        Shape:
            x_hat: (B, C, H, W) in [0, 1]; mask: (B, H, W) 0/1.
        """
        height, width = x_hat.shape[-2:]
        logits = self.segmenter(pad_to_multiple(x_hat.clamp(0, 1)))[:, 0, :height, :width]
        target = mask.float()
        bce = nn.functional.binary_cross_entropy_with_logits(logits, target)
        return bce + soft_dice_loss(torch.sigmoid(logits), target)


def soft_dice_loss(probs: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """1 - soft F1 of the positive class over the whole batch (pooled, as the ground pools)."""
    overlap = (probs * target).sum()
    return 1.0 - (2.0 * overlap + smooth) / (probs.sum() + target.sum() + smooth)


def load_task_term(
    path: Path, task: str, weight: float, device: str, target: str = "mask"
) -> TaskTerm:
    """The segmenter checkpoint at ``path``, frozen in eval mode (batch statistics fixed).

    Raises:
        ConfigurationError: a weight that is not positive, or an unknown target.
        CheckpointError: the checkpoint is unreadable or segments another task.
    """
    if not weight > 0:
        raise ConfigurationError(
            f"--task-weight must be positive, got {weight}; leave out --segmenter for a "
            "codec trained on MSE alone"
        )
    if target not in TASK_TARGETS:
        raise ConfigurationError(
            f"--task-target must be one of {', '.join(TASK_TARGETS)}, got {target!r}"
        )
    segmenter = load_segmenter_checkpoint(path, device=device)
    if segmenter.task != task:
        raise CheckpointError(
            f"segmenter {path} is for {segmenter.task!r}, not {task!r}; pass a {task} segmenter"
        )
    model = segmenter.model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    sha256 = str(segmenter.manifest.get("sha256", ""))
    return TaskTerm(model, weight, sha256, target, segmenter.threshold)
