"""Segmentation figures: F1 of the positive class and the macro F1 (paper, Table 1).

Empty-mask convention: a class's F1 is ``2 TP / (2 TP + FP + FN)``. When that class appears in
neither the truth nor the prediction (``TP + FP + FN == 0``) there is nothing to get wrong and
its F1 is defined as 1.0: a correctly empty prediction of a fire-free patch scores 1, and any
false positive on it scores 0. Pass a whole dataset stacked into one array to get the pooled
(micro over pixels) figure; average per-image calls for the per-image figure.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from shared.errors import InvalidRasterError


def _as_binary(mask: NDArray[Any], name: str) -> NDArray[Any]:
    if mask.dtype == np.bool_:
        return mask
    if mask.dtype.kind not in "iu":
        raise InvalidRasterError(
            f"{name} mask has dtype {mask.dtype}; pass bool or integer 0/1 "
            "(threshold probabilities first, e.g. prob > 0.5)"
        )
    if mask.size and (int(mask.min()) < 0 or int(mask.max()) > 1):
        raise InvalidRasterError(f"{name} mask holds values other than 0 and 1")
    return mask.astype(bool)


def _class_f1(truth: NDArray[Any], pred: NDArray[Any]) -> float:
    tp = int(np.count_nonzero(truth & pred))
    fp = int(np.count_nonzero(~truth & pred))
    fn = int(np.count_nonzero(truth & ~pred))
    denominator = 2 * tp + fp + fn
    return 1.0 if denominator == 0 else 2 * tp / denominator


def _pair(truth: NDArray[Any], pred: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
    if truth.shape != pred.shape:
        raise InvalidRasterError(
            f"truth shape {truth.shape} differs from prediction shape {pred.shape}"
        )
    if truth.size == 0:
        raise InvalidRasterError("cannot score empty masks")
    return _as_binary(truth, "truth"), _as_binary(pred, "prediction")


def f1_positive(truth: NDArray[Any], pred: NDArray[Any]) -> float:
    """F1 of the positive class (fire, cloud, building).

    Shape:
        truth, pred: any matching shape, e.g. (H, W) or (N, H, W).

    Raises:
        InvalidRasterError: shapes differ, masks are empty or not binary.
    """
    t, p = _pair(truth, pred)
    return _class_f1(t, p)


def f1_macro(truth: NDArray[Any], pred: NDArray[Any]) -> float:
    """Mean of the positive-class and negative-class F1 (the paper's "F1").

    Shape:
        truth, pred: any matching shape, e.g. (H, W) or (N, H, W).

    Raises:
        InvalidRasterError: shapes differ, masks are empty or not binary.
    """
    t, p = _pair(truth, pred)
    return (_class_f1(t, p) + _class_f1(~t, ~p)) / 2.0
