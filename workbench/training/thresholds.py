"""Choosing the segmenter's decision threshold on validation data.

Probabilities are binned once per pixel, separately for truth 1 and truth 0; cumulative counts
then give TP, FP and FN at every candidate threshold, so the whole sweep costs one pass. The F1
convention follows :mod:`shared.metrics.segmentation` (pooled over pixels; an absent class that is
also never predicted scores 1.0).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

BINS = 200
CANDIDATES = tuple(round(0.05 * i, 2) for i in range(1, 20))


def _f1(tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor) -> torch.Tensor:
    denominator = 2 * tp + fp + fn
    return torch.where(denominator > 0, 2 * tp / denominator.clamp(min=1), torch.ones_like(tp))


@dataclass(frozen=True)
class ThresholdChoice:
    """The best threshold on the data seen and the F1 figures it gives there."""

    threshold: float
    f1_positive: float
    f1_macro: float


class ProbabilityHistogram:
    """Counts of predicted probabilities, split by the true class."""

    def __init__(self, bins: int = BINS) -> None:
        self.bins = bins
        self.counts = torch.zeros(2, bins, dtype=torch.float64)

    def add(self, probs: torch.Tensor, truth: torch.Tensor) -> None:
        """Add a batch.

        Shape:
            probs: (B, H, W) float in [0, 1]; truth: (B, H, W) 0/1 of any dtype.
        """
        index = (
            (probs.detach().float().cpu().clamp(0, 1) * self.bins).long().clamp(max=self.bins - 1)
        )
        positive = truth.detach().cpu().bool()
        self.counts[1] += torch.bincount(index[positive], minlength=self.bins).double()
        self.counts[0] += torch.bincount(index[~positive], minlength=self.bins).double()

    def scores(self, threshold: float) -> tuple[float, float]:
        """(f1_positive, f1_macro) when predicting positive where ``prob >= threshold``."""
        cut = min(self.bins, max(0, int(round(threshold * self.bins))))
        pos, neg = self.counts[1], self.counts[0]
        tp, fn = pos[cut:].sum(), pos[:cut].sum()
        fp, tn = neg[cut:].sum(), neg[:cut].sum()
        f1_pos = _f1(tp, fp, fn)
        f1_neg = _f1(tn, fn, fp)
        return float(f1_pos), float((f1_pos + f1_neg) / 2)

    def best(self, candidates: tuple[float, ...] = CANDIDATES) -> ThresholdChoice:
        """The candidate threshold with the highest positive-class F1 (ties: closest to 0.5)."""
        ranked = sorted(candidates, key=lambda t: (-self.scores(t)[0], abs(t - 0.5)))
        chosen = ranked[0]
        f1_pos, f1_mac = self.scores(chosen)
        return ThresholdChoice(threshold=chosen, f1_positive=f1_pos, f1_macro=f1_mac)
