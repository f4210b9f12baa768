"""Learned-codec checkpoints: N-band architectures, save/load, hash checks, the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from shared.codecs.learned.architectures import (
    ARCHITECTURES,
    Widths,
    build_model,
    default_widths,
)
from shared.codecs.learned.checkpoint import (
    CheckpointStore,
    checkpoint_paths,
    init_checkpoint,
    load_checkpoint,
    packaged_roots,
)
from shared.codecs.learned.manifest import sha256_file
from shared.errors import CheckpointError, ConfigurationError, UnknownNameError


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_models_take_and_give_n_bands(arch: str) -> None:
    torch.manual_seed(0)
    model = build_model(arch, 10, 3, N=16)
    out = model(torch.rand(2, 10, 64, 64))
    assert out["x_hat"].shape == (2, 10, 64, 64)
    assert set(out["likelihoods"]) == ({"y"} if arch == "factorized-prior" else {"y", "z"})
    assert out["likelihoods"]["y"].shape[-2:] == (4, 4)
    loss = sum(torch.log2(v).sum() for v in out["likelihoods"].values())
    loss.backward()  # trainable: gradients reach the first N-band layer
    assert any(
        p.grad is not None and p.grad.abs().sum() > 0
        for p in next(iter(model.g_a.children())).parameters()
    )
    assert torch.isfinite(model.aux_loss())


def test_default_widths_follow_compressai() -> None:
    assert default_widths("cheng2020-gmm", 3) == Widths(128, 128)
    assert default_widths("cheng2020-gmm", 4) == Widths(192, 192)
    assert default_widths("factorized-prior", 5) == Widths(128, 192)
    assert default_widths("factorized-prior", 6) == Widths(192, 320)
    assert default_widths("mean-scale-hyperprior", 5) == Widths(192, 320)
    with pytest.raises(ConfigurationError, match="M = N"):
        build_model("cheng2020-attn", 1, 3, N=32, M=48)
    with pytest.raises(UnknownNameError, match="cheng2020-gmm"):
        build_model("cheng2021", 1, 3)


def test_save_load_round_trip(tmp_path: Path) -> None:
    manifest = init_checkpoint("cheng2020-gmm", 10, 2, tmp_path / "gmm", seed=3, N=16)
    weights, manifest_path = checkpoint_paths(tmp_path / "gmm")
    assert weights.is_file() and manifest_path.is_file()
    assert manifest.sha256 == sha256_file(weights) and not manifest.trained
    assert (manifest.architecture, manifest.bands, manifest.quality) == ("cheng2020-gmm", 10, 2)
    assert (manifest.N, manifest.M, manifest.seed) == (16, 16, 3)
    model, loaded = load_checkpoint(tmp_path / "gmm.safetensors")
    assert loaded == manifest and not model.training
    again = init_checkpoint("cheng2020-gmm", 10, 2, tmp_path / "again", seed=3, N=16)
    assert again.sha256 == manifest.sha256  # seeded weights are reproducible
    state = model.state_dict()
    assert "entropy_bottleneck._quantized_cdf" in state  # CDF tables ship
    assert state["entropy_bottleneck._quantized_cdf"].numel() > 0


def test_tampered_files_are_refused(tmp_path: Path) -> None:
    init_checkpoint("scale-hyperprior", 1, 1, tmp_path / "sh", seed=0, N=16, M=16)
    weights, manifest_path = checkpoint_paths(tmp_path / "sh")
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_checkpoint(tmp_path / "sh")
    manifest_path.write_text(json.dumps({"architecture": "scale-hyperprior", "oops": 1}))
    with pytest.raises(CheckpointError, match="unknown fields"):
        load_checkpoint(tmp_path / "sh")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nothing")


def test_store_search_order_and_lookups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, env_dir = tmp_path / "first", tmp_path / "env"
    a = init_checkpoint("factorized-prior", 1, 2, first / "fp", seed=1, N=16, M=16)
    b = init_checkpoint("factorized-prior", 1, 2, env_dir / "fp", seed=2, N=16, M=16)
    c = init_checkpoint("factorized-prior", 1, 4, env_dir / "fp4", seed=3, N=16, M=16)
    monkeypatch.setenv("EODL_CHECKPOINTS", str(env_dir))
    store = CheckpointStore([first])
    assert store.roots == [first, env_dir, *packaged_roots()]
    assert [x.manifest.sha256 for x in store.candidates("factorized-prior", 1)] == [
        a.sha256,
        b.sha256,
        c.sha256,
    ]
    assert store.find("factorized-prior", 1, quality=2).manifest == a
    assert store.find("factorized-prior", 1, weights_prefix=b.weights_prefix).manifest == b
    assert store.find("factorized-prior", 1, quality=4).manifest == c
    entry = store.find("factorized-prior", 1, quality=2)
    assert store.load(entry)[0] is store.load(entry)[0]  # cached per path
    with pytest.raises(CheckpointError, match="eodl train codec"):
        store.find("factorized-prior", 10)
    monkeypatch.delenv("EODL_CHECKPOINTS")
    assert CheckpointStore().roots == packaged_roots()  # env read at creation
    assert CheckpointStore(first).roots[0] == first
