"""F1 of the positive class and macro F1, including the documented empty-mask cases."""

from __future__ import annotations

import numpy as np
import pytest

from shared.errors import InvalidRasterError
from shared.metrics import f1_macro, f1_positive


def test_f1_against_hand_counts() -> None:
    truth = np.array([1, 1, 1, 0, 0, 0, 0, 0], dtype=np.uint8)
    pred = np.array([1, 1, 0, 1, 0, 0, 0, 0], dtype=np.uint8)
    # positive: TP 2, FP 1, FN 1 -> 4/6; negative: TP 4, FP 1, FN 1 -> 8/10
    assert f1_positive(truth, pred) == pytest.approx(2 / 3)
    assert f1_macro(truth, pred) == pytest.approx((2 / 3 + 0.8) / 2)


def test_perfect_and_inverted_predictions() -> None:
    truth = np.array([[True, False], [False, True]])
    assert f1_positive(truth, truth) == 1.0 and f1_macro(truth, truth) == 1.0
    assert f1_positive(truth, ~truth) == 0.0 and f1_macro(truth, ~truth) == 0.0


def test_empty_truth_and_empty_prediction_scores_one() -> None:
    empty = np.zeros((4, 4), dtype=np.uint8)
    assert f1_positive(empty, empty) == 1.0
    assert f1_macro(empty, empty) == 1.0


def test_false_positive_on_empty_truth_scores_zero() -> None:
    empty = np.zeros((4, 4), dtype=np.uint8)
    pred = empty.copy()
    pred[0, 0] = 1
    assert f1_positive(empty, pred) == 0.0
    # negative class: TP 15, FP 0, FN 1 -> 30/31
    assert f1_macro(empty, pred) == pytest.approx((0.0 + 30 / 31) / 2)


def test_missed_everything_on_full_truth() -> None:
    full = np.ones((2, 2), dtype=np.uint8)
    assert f1_positive(full, np.zeros_like(full)) == 0.0
    assert f1_macro(full, full) == 1.0  # negatives absent from both: 1 by convention


def test_refuses_mismatched_shapes_and_non_binary_masks() -> None:
    with pytest.raises(InvalidRasterError, match="differs"):
        f1_positive(np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8))
    with pytest.raises(InvalidRasterError, match="other than 0 and 1"):
        f1_positive(np.zeros((2, 2), np.uint8), np.full((2, 2), 255, np.uint8))
    with pytest.raises(InvalidRasterError, match="threshold"):
        f1_macro(np.zeros((2, 2), np.uint8), np.full((2, 2), 0.7, np.float32))
