"""The onboard ROI policy: which scenes are coded with an ROI, from the raw scene's detector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sat_harness import raster_for

from satellite_node.detectors import detect_fire
from satellite_node.roi_choice import codec_takes_roi, roi_for
from satellite_node.store import NewScene
from shared.codecs.base import RateTarget
from shared.errors import InvalidRasterError, UnknownNameError
from workbench.datasets.synth_cloud import generate_cloud_scene
from workbench.datasets.synth_fire import generate_fire_patch

LOSSY = RateTarget(bpp=1.0)


def fire_image() -> np.ndarray:
    for seed in range(100, 140):
        image, _ = generate_fire_patch(np.random.default_rng(seed))
        if detect_fire(image).any():
            return image
    raise AssertionError("no generated fire patch with detected fire")


def test_a_fire_scene_gets_the_detectors_mask() -> None:
    image = fire_image()
    roi = roi_for("auto", "fire", image, "jpeg2000", LOSSY)
    assert roi is not None and np.array_equal(roi, detect_fire(image))


def test_a_cloudy_scene_gets_its_cold_tops() -> None:
    image, mask = generate_cloud_scene(np.random.default_rng(3))
    roi = roi_for("auto", "cloud", image, "jpeg2000", LOSSY)
    assert roi is not None and roi.shape == mask.shape[-2:] and roi.any()


@pytest.mark.parametrize(
    "mode, task, codec, target",
    [
        ("off", "fire", "jpeg2000", LOSSY),  # switched off
        ("auto", "fire", "jpeg2000", RateTarget(lossless=True)),  # lossless keeps everything
    ],
)
def test_no_roi_where_the_policy_says_none(mode: str, task: str, codec: str, target) -> None:  # type: ignore[no-untyped-def]
    assert roi_for(mode, task, fire_image(), codec, target) is None  # type: ignore[arg-type]


def test_no_roi_for_buildings_or_an_empty_detection() -> None:
    assert roi_for("auto", "building", raster_for("building", 1), "jpeg2000", LOSSY) is None
    background = np.full((1, 32, 32), 3000, np.uint16)  # about 300 K: nothing above 360 K
    assert not detect_fire(background).any()
    assert roi_for("auto", "fire", background, "jpeg2000", LOSSY) is None


def test_a_raster_that_misfits_its_task_is_refused_and_codec_names_are_checked() -> None:
    with pytest.raises(InvalidRasterError):
        roi_for("auto", "fire", np.zeros((2, 32, 32), np.uint16), "jpeg2000", LOSSY)
    assert codec_takes_roi("jpeg2000") and codec_takes_roi("cheng2020-gmm")
    with pytest.raises(UnknownNameError):
        codec_takes_roi("nope")


def test_a_learned_codec_codes_the_fire_roi_and_records_it(tmp_path: Path) -> None:
    from satellite_node.codec_choice import open_checkpoints
    from satellite_node.encoding import RawScene, encode_scene
    from satellite_node.store import SceneStore
    from shared.compression import decompress_container

    image = fire_image()
    store = SceneStore(tmp_path, capacity_bytes=10**7)
    record = store.admit(
        NewScene(
            task="fire",
            codec="cheng2020-gmm",
            rate={"quality": 2},
            priority=0,
            raster_name="x.npy",
            raster=b"x",
            mask=None,
        )
    )
    checkpoints = open_checkpoints(None)
    info = encode_scene(
        record,
        RawScene(image, None),
        codec="cheng2020-gmm",
        target=RateTarget(quality=2),
        roi_mode="auto",
        checkpoints=checkpoints,
    )
    decoded = decompress_container(info.container, checkpoints=checkpoints)
    assert "roi" in decoded.container.metadata and decoded.digest_matches
