"""U-Net segmenters: architecture, checkpoint round trip, checkpoint lookup, refused input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from shared.errors import CheckpointError, ConfigurationError, InvalidRasterError
from shared.models.segmentation import (
    Segmenter,
    UnetConfig,
    build_unet,
    load_segmenter,
    load_segmenter_checkpoint,
    save_segmenter,
)

TINY = UnetConfig(encoder="mobilenet_v2", bands=2, encoder_depth=3, decoder_channels=(16, 8, 8))


def _tiny_checkpoint(tmp_path: Path, task: str = "fire", threshold: float = 0.5) -> Path:
    torch.manual_seed(0)
    model = build_unet(TINY)
    path = tmp_path / f"{task}.safetensors"
    save_segmenter(model, path, TINY, {"task": task, "threshold": threshold, "seed": 0})
    return path


@pytest.mark.parametrize("encoder", ["mobilenet_v2", "resnet34"])
def test_pruned_unet_matches_full_encoder_outputs(encoder: str) -> None:
    import segmentation_models_pytorch as smp

    config = UnetConfig(encoder=encoder, bands=3, encoder_depth=3, decoder_channels=(16, 8, 8))
    torch.manual_seed(1)
    full = smp.Unet(
        encoder_name=encoder,
        encoder_weights=None,
        in_channels=3,
        classes=1,
        encoder_depth=3,
        decoder_channels=(16, 8, 8),
    ).eval()
    pruned = build_unet(config).eval()
    pruned.load_state_dict(full.state_dict(), strict=False)
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(full(x), pruned(x))
    assert sum(p.numel() for p in pruned.parameters()) < sum(p.numel() for p in full.parameters())


def test_config_refuses_unknown_encoder_and_listed_options() -> None:
    with pytest.raises(ConfigurationError, match="mobilenet_v2, resnet34"):
        UnetConfig(encoder="vgg16", bands=1)
    with pytest.raises(ConfigurationError, match="one decoder width"):
        UnetConfig(encoder="resnet34", bands=1, encoder_depth=3, decoder_channels=(8, 8))


def test_predict_pads_crops_and_thresholds(tmp_path: Path) -> None:
    segmenter = load_segmenter_checkpoint(_tiny_checkpoint(tmp_path), device="cpu")
    raster = np.random.default_rng(0).random((2, 40, 50), dtype=np.float32)
    mask = segmenter.predict(raster)
    assert mask.shape == (40, 50) and mask.dtype == np.uint8
    assert set(np.unique(mask)) <= {0, 1}
    probs = segmenter.probabilities(torch.from_numpy(raster)[None])[0].numpy()
    np.testing.assert_array_equal(mask, (probs >= segmenter.threshold).astype(np.uint8))


def test_predict_refuses_wrong_bands_and_nan(tmp_path: Path) -> None:
    segmenter = load_segmenter_checkpoint(_tiny_checkpoint(tmp_path), device="cpu")
    with pytest.raises(InvalidRasterError, match=r"\(2, H, W\)"):
        segmenter.predict(np.zeros((1, 32, 32), np.float32))
    bad = np.zeros((2, 32, 32), np.float32)
    bad[0, 0, 0] = np.nan
    with pytest.raises(InvalidRasterError, match="NaN"):
        segmenter.predict(bad)


def test_tampered_weights_are_refused(tmp_path: Path) -> None:
    path = _tiny_checkpoint(tmp_path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_segmenter_checkpoint(path, device="cpu")


def test_load_segmenter_finds_task_or_returns_none(tmp_path: Path) -> None:
    _tiny_checkpoint(tmp_path, task="cloud")
    assert load_segmenter("building", root=tmp_path) is None
    assert load_segmenter("cloud", root=tmp_path / "missing") is None
    found = load_segmenter("cloud", root=tmp_path, device="cpu")
    assert isinstance(found, Segmenter) and found.task == "cloud" and found.device == "cpu"


def test_checkpoint_gives_same_outputs_in_a_fresh_process(tmp_path: Path) -> None:
    path = _tiny_checkpoint(tmp_path, threshold=0.3)
    raster = np.random.default_rng(3).random((2, 32, 32), dtype=np.float32)
    np.save(tmp_path / "raster.npy", raster)
    here = load_segmenter_checkpoint(path, device="cpu")
    expected = here.probabilities(torch.from_numpy(raster)[None])[0].numpy()
    script = (
        "import sys, numpy as np, torch\n"
        "from shared.models.segmentation import load_segmenter_checkpoint\n"
        "s = load_segmenter_checkpoint(sys.argv[1], device='cpu')\n"
        "x = torch.from_numpy(np.load(sys.argv[2]))[None]\n"
        "np.save(sys.argv[3], s.probabilities(x)[0].numpy())\n"
    )
    out = tmp_path / "probs.npy"
    subprocess.run(
        [sys.executable, "-c", script, str(path), str(tmp_path / "raster.npy"), str(out)],
        check=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    np.testing.assert_array_equal(np.load(out), expected)
    manifest = json.loads(path.with_suffix(".json").read_text())
    assert manifest["threshold"] == 0.3 and len(manifest["sha256"]) == 64
