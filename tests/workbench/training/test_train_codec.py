"""Codec training: RD loss falls, the manifest reports real bpp, checkpoints code bit-exactly."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.training.loops import state_path
from workbench.training.rd import aux_parameter_names, codec_optimisers, estimated_bpp

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture()
def trained(fire_codec: tuple[Path, dict]) -> tuple[Path, dict]:
    return fire_codec


def test_training_lowers_rd_loss(trained: tuple[Path, dict]) -> None:
    out, manifest = trained
    losses = torch.load(state_path(out), weights_only=True)["losses"]
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert manifest["metrics"]["train_loss_last"] == pytest.approx(losses[-1])


def test_manifest_reports_real_bpp_beside_the_estimate(trained: tuple[Path, dict]) -> None:
    _, manifest = trained
    metrics = manifest["metrics"]
    assert manifest["trained"] is True and manifest["task"] == "fire" and manifest["lmbda"] == 200.0
    assert manifest["quality"] == 2 and manifest["N"] == 8
    # container bits > payload bits > 0, both measured from bytes; the estimate is separate
    assert metrics["bpp"] > metrics["payload_bpp"] > 0
    assert metrics["bits_per_sample"] == pytest.approx(metrics["bpp"])  # one band
    assert math.isfinite(metrics["psnr_db"]) and metrics["psnr_db"] > 10
    assert metrics["bpp_estimate"] > 0 and metrics["val_scenes"] >= 1


def test_trained_checkpoint_round_trips_bit_exactly(
    trained: tuple[Path, dict], fire_dir: Path
) -> None:
    from shared.codecs.base import RateTarget
    from shared.compression import compress_raster, decompress_container
    from workbench.training.evaluate import isolated_store

    out, _ = trained
    image = np.load(sorted(fire_dir.glob("*[0-9].npy"))[0])
    with isolated_store(out) as store:
        scene = compress_raster(
            image,
            codec="cheng2020-gmm",
            target=RateTarget(quality=2),
            scale=16383.0,
            bit_depth=14,
            checkpoints=store,
        )
        decoded = decompress_container(scene.container, checkpoints=store)
    assert decoded.digest_matches
    np.testing.assert_array_equal(decoded.raster, scene.reconstruction)


def test_checkpoint_gives_same_outputs_in_a_fresh_process(
    trained: tuple[Path, dict], tmp_path: Path
) -> None:
    from shared.codecs.learned.checkpoint import load_checkpoint

    out, _ = trained
    x = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    np.save(tmp_path / "x.npy", x.numpy())
    model, _ = load_checkpoint(out)
    with torch.inference_mode():
        expected = model(x)["x_hat"].numpy()
    script = (
        "import sys, numpy as np, torch\n"
        "from shared.codecs.learned.checkpoint import load_checkpoint\n"
        "model, _ = load_checkpoint(sys.argv[1])\n"
        "with torch.inference_mode():\n"
        "    np.save(sys.argv[3], model(torch.from_numpy(np.load(sys.argv[2])))['x_hat'].numpy())\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(out), str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
        check=True,
        cwd=REPO,
    )
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), expected)


def test_optimisers_split_quantiles_from_the_autoencoder() -> None:
    from shared.codecs.learned.architectures import build_model

    net = build_model("mean-scale-hyperprior", 2, 1, N=8, M=8)
    main, aux = codec_optimisers(net, 1e-3, 1e-4)
    main_ids = {id(p) for g in main.param_groups for p in g["params"]}
    aux_ids = {id(p) for g in aux.param_groups for p in g["params"]}
    assert aux_ids and not main_ids & aux_ids
    assert len(main_ids) + len(aux_ids) == len(list(net.parameters()))
    assert aux.param_groups[0]["lr"] < main.param_groups[0]["lr"]
    assert all(n.endswith(".quantiles") for n in aux_parameter_names(net))


def test_estimated_bpp_counts_bits_per_spatial_pixel() -> None:
    likelihoods = {"y": torch.full((2, 4, 3, 3), 0.5), "z": torch.full((2, 4, 1, 1), 0.25)}
    # y: 2*4*9 symbols of 1 bit; z: 2*4 symbols of 2 bits; over 2 images of 12 x 12 pixels
    assert float(estimated_bpp(likelihoods, 2 * 12 * 12)) == pytest.approx((72 + 16) / 288)


def test_codec_run_resumes_from_its_state(fire_dir: Path, tmp_path: Path) -> None:
    from workbench.training.codec import CodecTrainConfig, train_codec

    def config(epochs: int, resume: bool) -> CodecTrainConfig:
        return CodecTrainConfig(
            task="fire",
            data=fire_dir,
            out=tmp_path / "c",
            model="cheng2020-gmm",
            quality=1,
            lmbda=100.0,
            N=8,
            epochs=epochs,
            max_steps=1,
            batch_size=4,
            eval_limit=1,
            seed=0,
            device="cpu",
            resume=resume,
        )

    train_codec(config(1, False))
    manifest = train_codec(config(2, True))
    saved = torch.load(state_path(tmp_path / "c"), weights_only=True)
    assert saved["epoch"] == 1 and len(saved["losses"]) == 2
    assert manifest["metrics"]["epochs"] == 2


def test_warm_start_begins_from_the_given_rate_point(
    fire_dir: Path, fire_codec: tuple[Path, dict], tmp_path: Path
) -> None:
    from shared.errors import CheckpointError
    from workbench.training.codec import CodecTrainConfig, train_codec

    def run(out: str, init: Path | None, n: int = 8, m: int | None = None) -> dict:
        return train_codec(
            CodecTrainConfig(
                task="fire",
                data=fire_dir,
                out=tmp_path / out,
                model="cheng2020-gmm",
                quality=3,
                lmbda=400.0,
                N=n,
                M=m,
                epochs=1,
                max_steps=2,
                batch_size=8,
                eval_limit=1,
                seed=0,
                device="cpu",
                init=init,
            )
        )

    warm = run("warm", fire_codec[0])
    cold = run("cold", None)
    wide = run("wide", fire_codec[0], m=12)  # more latent channels: widened, not refused
    assert warm["metrics"]["train_loss_first"] < cold["metrics"]["train_loss_first"]
    assert wide["metrics"]["train_loss_first"] < cold["metrics"]["train_loss_first"]
    assert (wide["N"], wide["M"]) == (8, 12)
    with pytest.raises(CheckpointError, match="N=16"):
        run("wrong", fire_codec[0], n=16)


def test_a_variable_rate_run_starts_from_a_fixed_rate_checkpoint(
    trained: tuple[Path, dict], fire_dir: Path, tmp_path: Path
) -> None:
    from shared.codecs.base import RateTarget
    from shared.codecs.learned.checkpoint import load_checkpoint
    from shared.compression import compress_raster, decompress_container
    from workbench.training.codec import CodecTrainConfig, train_codec
    from workbench.training.evaluate import isolated_store

    base, _ = trained
    out = tmp_path / "fire-gmm-vr"
    config = CodecTrainConfig(
        task="fire",
        data=fire_dir,
        out=out,
        quality=2,
        N=8,
        epochs=2,
        batch_size=8,
        lr=3e-3,
        init=base,
        seed=1,
        device="cpu",
        command="test",
        rate_lmbdas=(800.0, 200.0, 50.0),
    )
    manifest = train_codec(config)
    assert manifest["rate_lmbdas"] == [800.0, 200.0, 50.0] and manifest["lmbda"] == 800.0
    metrics = manifest["metrics"]
    # validated at both ends and the middle: more lambda, more bits
    assert metrics["bpp_estimate_L0"] > metrics["bpp_estimate_L2"] > 0
    model, _ = load_checkpoint(out)
    assert model.rate_gains.levels == 3
    # the fixed-rate start was spread over the rates: step sqrt(800 / 50) = 4 at the last level
    gains = model.rate_gains.at(2)[0].flatten()
    torch.testing.assert_close(gains, torch.full_like(gains, 0.25), rtol=0.1, atol=0.0)
    # and the codec codes with it, level in the payload, bit-exact on the way back
    image = np.load(sorted(fire_dir.glob("*[0-9].npy"))[0])
    with isolated_store(out) as store:
        scene = compress_raster(
            image, codec="cheng2020-gmm", target=RateTarget(quality=1), checkpoints=store
        )
        restored = decompress_container(scene.container, checkpoints=store)
    assert np.array_equal(restored.raster, scene.reconstruction)
