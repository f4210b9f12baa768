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


def test_windows_cover_every_pixel_exactly_once() -> None:
    import numpy as np

    from shared.models.segmentation import windows

    for height, width, tile, halo in ((1000, 700, 256, 32), (64, 64, 512, 32), (513, 512, 512, 0)):
        seen = np.zeros((height, width), dtype=np.int32)
        for rows, cols, core_rows, core_cols in windows(height, width, tile, halo):
            assert rows.stop - rows.start <= tile + 2 * halo
            seen[rows, cols][core_rows, core_cols] += 1
        assert (seen == 1).all()


def test_a_scene_segmented_in_windows_matches_the_whole_scene() -> None:
    import numpy as np

    from shared.sensors.profiles import PROFILES
    from workbench.datasets.generate import generate_scene

    segmenter = load_segmenter("cloud", device="cpu")
    assert segmenter is not None
    scene = generate_scene("cloud", 3).image.astype(np.float32) / PROFILES["cloud"].global_max
    mosaic = np.tile(scene, (1, 3, 3))  # 768 x 768: 4 windows of 512 with a 32-pixel halo
    segmenter.tile_px = 10_000
    whole = segmenter.predict(mosaic)
    segmenter.tile_px = 512
    windowed = segmenter.predict(mosaic)
    assert windowed.shape == whole.shape and windowed.dtype == np.uint8
    assert (windowed == whole).mean() > 0.999
