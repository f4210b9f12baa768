"""The shipped segmenters have learned their task: F1 on fresh scenes of a seed never trained on."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.models.segmentation import find_segmenter_checkpoint, load_segmenter
from workbench.training.evaluate import segment_scenes

# (task, encoder, scenes, lowest acceptable F1 of the positive class); the paper's Table 1 has
# fire 0.665, cloud 0.792, building 0.448. Training used seeds 11, 12 and 13.
CASES = [
    ("fire", "mobilenet_v2", 60, 0.6),
    ("cloud", "resnet34", 8, 0.7),
    ("building", "resnet34", 20, 0.45),
]


@pytest.mark.parametrize(("task", "encoder", "count", "floor"), CASES)
def test_shipped_segmenter_learned_its_task(
    task: str, encoder: str, count: int, floor: float, tmp_path: Path
) -> None:
    from workbench.datasets.generate import write_dataset

    assert find_segmenter_checkpoint(task) is not None, (
        f"no shipped {task} segmenter under shared/assets/checkpoints: the checkout is incomplete"
    )
    segmenter = load_segmenter(task, device="cpu")
    assert segmenter is not None and segmenter.manifest["encoder"] == encoder
    write_dataset(task, count, 4242, tmp_path)
    scores = segment_scenes(segmenter, tmp_path)
    assert scores["scenes"] == count
    assert scores["f1_positive"] >= floor, scores
    f1_background = 2 * scores["f1_macro"] - scores["f1_positive"]
    assert f1_background > 0.8, scores  # not bought by marking everything positive
