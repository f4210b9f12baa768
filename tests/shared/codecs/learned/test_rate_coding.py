"""Entropy coding at a rate level: one variable-rate cheng2020-gmm checkpoint, every quality.

Bit-exact across processes and thread counts, with and without ROI; fewer bytes at lower
qualities; a bpp target met by the level the model's likelihoods predict; refusals when the
payload's level and the weights disagree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from shared.codecs.base import EncodedPayload, RasterSpec, RateTarget, reconstruction_digest
from shared.codecs.learned.architectures import build_model
from shared.codecs.learned.checkpoint import CheckpointStore, init_checkpoint, save_checkpoint
from shared.codecs.learned.payload import COMPACT_VERSION
from shared.codecs.learned.rate_gain import (
    GAIN_BITS,
    LEVEL_STEPS,
    coding_gains,
    level_code,
)
from shared.codecs.registry import get_codec
from shared.errors import CodecError

RATE_AT, RATE_FLAG = 2, 0x02  # version 5: version, flags, then the rate level code
REPO = Path(__file__).resolve().parents[4]
LMBDAS = (800.0, 200.0, 50.0)
SPEC = RasterSpec(1, 72, 100, "uint16", 14, 16383.0)


def _raster(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : SPEC.height, 0 : SPEC.width]
    base = (np.sin(yy / 6.0) + np.cos(xx / 9.0) + 2.0) / 4.0 + rng.normal(0, 0.03, yy.shape)
    return np.clip(base[None] * SPEC.scale, 0, SPEC.scale).astype(np.uint16)


@pytest.fixture(scope="module")
def variable_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained 3-level N=16 model whose levels are spread as a warm start spreads them,
    plus small irregular per-channel offsets (so no gain is a power of two)."""
    root = tmp_path_factory.mktemp("variable")
    torch.manual_seed(3)
    model = build_model("cheng2020-gmm", 1, 6, N=16, rate_levels=len(LMBDAS)).eval()
    model.rate_gains.spread(LMBDAS)
    with torch.no_grad():
        model.rate_gains.log_gain.add_(torch.rand_like(model.rate_gains.log_gain) * 0.3)
    fields = {"architecture": "cheng2020-gmm", "quality": 6, "rate_lmbdas": list(LMBDAS)}
    save_checkpoint(model, root / "cheng2020-gmm-vr", {**fields, "trained": False})
    return root


@pytest.fixture(scope="module")
def encoded(variable_root: Path) -> dict[str, EncodedPayload]:
    """Payloads at qualities 6, 3 and 1, and quality 3 with an ROI, encoded with 2 threads."""
    codec = get_codec("cheng2020-gmm", checkpoints=CheckpointStore([variable_root]))
    roi = np.zeros((SPEC.height, SPEC.width), dtype=bool)
    roi[10:30, 40:70] = True
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        out = {f"q{q}": codec.encode(_raster(), SPEC, RateTarget(quality=q)) for q in (6, 3, 1)}
        out["q3-roi"] = codec.encode(_raster(), SPEC, RateTarget(quality=3), roi_mask=roi)
        return out
    finally:
        torch.set_num_threads(previous)


def test_each_quality_codes_at_its_level_and_round_trips(
    variable_root: Path, encoded: dict[str, EncodedPayload]
) -> None:
    codec = get_codec("cheng2020-gmm", checkpoints=CheckpointStore([variable_root]))
    sizes = []
    for key, result in encoded.items():
        assert result.payload[0] == COMPACT_VERSION and result.payload[1] & RATE_FLAG
        decoded = codec.decode(result.payload, SPEC, result.model)
        assert np.array_equal(decoded, result.reconstruction), key
        sizes.append(len(result.payload))
    assert sizes[0] > sizes[1] > sizes[2]  # quality 6 > 3 > 1 in bytes
    assert [encoded[k].quality for k in ("q6", "q3", "q1")] == [6, 3, 1]
    assert encoded["q3-roi"].roi is not None and sizes[3] > sizes[1]  # ROI spends more


_GROUND = """
import json, sys
from pathlib import Path
import torch
torch.set_num_threads(1)  # the encoder ran with 2
from shared.codecs.base import ModelRef, RasterSpec, reconstruction_digest
from shared.codecs.learned.checkpoint import CheckpointStore
from shared.codecs.registry import get_codec
codec = get_codec("cheng2020-gmm", checkpoints=CheckpointStore([Path(sys.argv[1])]))
spec = RasterSpec(1, 72, 100, "uint16", 14, 16383.0)
out = {}
for job in json.loads(sys.argv[2]):
    ref = ModelRef(job["quality"], bytes.fromhex(job["prefix"]))
    raster = codec.decode(bytes.fromhex(job["payload"]), spec, ref)
    out[job["key"]] = reconstruction_digest(raster)
print(json.dumps(out))
"""


def test_a_fresh_process_with_one_thread_gets_the_same_pixels(
    variable_root: Path, encoded: dict[str, EncodedPayload]
) -> None:
    jobs = [
        {
            "key": key,
            "payload": r.payload.hex(),
            "prefix": r.model.weights_prefix.hex(),
            "quality": r.model.model_id,
        }
        for key, r in encoded.items()
    ]
    done = subprocess.run(
        [sys.executable, "-c", _GROUND, str(variable_root), json.dumps(jobs)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    digests = json.loads(done.stdout.strip().splitlines()[-1])
    for key, result in encoded.items():
        assert digests[key] == reconstruction_digest(result.reconstruction), key


def test_a_bpp_target_codes_at_the_highest_rate_level_that_meets_it(variable_root: Path) -> None:
    codec = get_codec("cheng2020-gmm", checkpoints=CheckpointStore([variable_root]))
    top, bottom = (
        len(codec.encode(_raster(), SPEC, RateTarget(quality=q)).payload) * 8 / SPEC.pixels
        for q in (6, 1)
    )
    target = (top + bottom) / 2
    result = codec.encode(_raster(), SPEC, RateTarget(bpp=target))
    bpp = len(result.payload) * 8 / SPEC.pixels
    assert bottom < bpp < top
    assert abs(bpp / target - 1) <= 0.10  # the must-hold, inside the covered range
    code = result.payload[RATE_AT]
    assert 0 < code < (len(LMBDAS) - 1) * LEVEL_STEPS
    assert result.quality is not None and level_code(result.quality, len(LMBDAS)) >= code
    generous = codec.encode(_raster(), SPEC, RateTarget(bpp=top * 4))
    assert generous.payload[RATE_AT] == 0  # any bpp above the top level: the top level


def _with_level(payload: bytes, code: int) -> bytes:
    body = bytearray(payload)
    body[RATE_AT] = code
    return bytes(body)


def test_a_level_beyond_the_trained_ones_is_refused(
    variable_root: Path, encoded: dict[str, EncodedPayload]
) -> None:
    codec = get_codec("cheng2020-gmm", checkpoints=CheckpointStore([variable_root]))
    result = encoded["q3"]
    bad = _with_level(result.payload, (len(LMBDAS) - 1) * LEVEL_STEPS + 1)
    with pytest.raises(CodecError, match="outside 0..64"):
        codec.decode(bad, SPEC, result.model)


def test_level_and_weights_must_agree(
    variable_root: Path, encoded: dict[str, EncodedPayload], tmp_path: Path
) -> None:
    # the same payload in front of fixed-rate weights that claim the same prefix is refused
    from shared.codecs.learned import coding
    from shared.codecs.learned.codec import latent_layout
    from shared.codecs.learned.payload import unpack_payload

    fixed_root = tmp_path / "fixed"
    init_checkpoint("cheng2020-gmm", 1, 6, fixed_root / "gmm", seed=3, N=16)
    fixed, _ = CheckpointStore([fixed_root]).load(
        CheckpointStore([fixed_root]).find("cheng2020-gmm", 1)
    )
    layout = latent_layout("cheng2020-gmm", SPEC)
    coded = unpack_payload(encoded["q3"].payload, layout, "cheng2020-gmm")
    with coding.deterministic_coding(), pytest.raises(CodecError, match="fixed-rate"):
        coding.decompress("cheng2020-gmm", fixed, coded, layout)
    store = CheckpointStore([variable_root])
    variable, _ = store.load(store.find("cheng2020-gmm", 1))
    plain = coding.LatentStrings(coded.strings, coded.symbol_bound)
    with coding.deterministic_coding(), pytest.raises(CodecError, match="no rate level"):
        coding.decompress("cheng2020-gmm", variable, plain, layout)


def test_coding_gains_have_twelve_significant_bits_and_interpolate(variable_root: Path) -> None:
    store = CheckpointStore([variable_root])
    model, _ = store.load(store.find("cheng2020-gmm", 1))
    logs = model.rate_gains.log_gain.detach().double()
    half = coding_gains(model.rate_gains, LEVEL_STEPS // 2).gain
    expected = torch.exp((logs[0] + logs[1]) / 2)
    torch.testing.assert_close(half, expected, rtol=2.0**-GAIN_BITS, atol=0.0)
    mantissas = [np.frexp(v)[0] * 2**GAIN_BITS for v in half.tolist()]
    assert all(m == int(m) for m in mantissas)
    with pytest.raises(CodecError, match="outside"):
        coding_gains(model.rate_gains, -1)


def test_spread_starts_levels_on_the_square_root_law() -> None:
    model = build_model("cheng2020-gmm", 1, 6, N=8, rate_levels=3)
    model.rate_gains.spread((800.0, 200.0, 50.0))
    gains = model.rate_gains.at(2)[0].flatten()
    torch.testing.assert_close(gains, torch.full_like(gains, 0.25))
    with pytest.raises(Exception, match="strictly decreasing"):
        model.rate_gains.spread((50.0, 200.0, 800.0))


def test_bpp_targets_land_within_ten_percent_on_small_fire_patches() -> None:
    """32 x 32 patches: each rANS stream grows in 4-byte words (0.03 bpp), so the model's
    estimate alone can miss by 12-30 %; the measured corrections must bring every scene whose
    covered range holds the target within 10 % (the issue's must-hold, held-out seed 97)."""
    from workbench.datasets.generate import generate_scenes

    store = CheckpointStore(REPO / "shared" / "assets" / "checkpoints").for_task("fire")
    codec = get_codec("cheng2020-gmm", checkpoints=store)
    spec = RasterSpec(1, 32, 32, "uint16", 14, 16383.0)
    misses, inside = [], 0
    for scene in generate_scenes("fire", 32, 97):
        low, high = (
            len(codec.encode(scene.image, spec, RateTarget(quality=q)).payload) * 8 / spec.pixels
            for q in (1, 6)
        )
        for target in (0.3687, 0.7187):
            if not low <= target <= high:
                continue
            inside += 1
            bpp = len(codec.encode(scene.image, spec, RateTarget(bpp=target)).payload) * 8 / 1024
            if abs(bpp / target - 1) > 0.10:
                misses.append((scene.scene_id, target, bpp))
    assert inside >= 40 and misses == []
