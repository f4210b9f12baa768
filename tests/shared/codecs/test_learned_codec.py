"""The seven learned codecs: bit-exact round trips, cross-process determinism, refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from shared.codecs.base import (
    DecodeLimits,
    EncodedPayload,
    ModelRef,
    RasterSpec,
    RateTarget,
    reconstruction_digest,
)
from shared.codecs.learned.architectures import build_model
from shared.codecs.learned.checkpoint import CheckpointStore, init_checkpoint, save_checkpoint
from shared.codecs.learned.payload import COMPACT_VERSION
from shared.codecs.registry import get_codec
from shared.errors import (
    CheckpointError,
    CodecError,
    ConfigurationError,
    RateTargetError,
    ResourceLimitError,
    WeightsMismatchError,
)

REPO = Path(__file__).resolve().parents[3]
ARCHITECTURES = (
    "factorized-prior",
    "scale-hyperprior",
    "mean-scale-hyperprior",
    "cheng2020-anchor",
    "cheng2020-attn",
    "cheng2020-gmm",
    "cheng2020-checkerboard",
)
SHAPES = {1: (1, 40, 72), 10: (10, 48, 36)}
SMALL = {"N": 16}


def _spec(bands: int, height: int, width: int, dtype: str = "uint16") -> RasterSpec:
    depth = 14 if dtype == "uint16" else 8
    return RasterSpec(bands, height, width, dtype, depth, float(2**depth - 1))


def _raster(spec: RasterSpec, seed: int = 0) -> np.ndarray:
    """A smooth ramp plus noise: real structure, so the latents are not all zero."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : spec.height, 0 : spec.width]
    base = (np.sin(yy / 5.0) + np.cos(xx / 7.0) + 2.0) / 4.0
    cube = base[None] * np.linspace(0.5, 1.0, spec.bands)[:, None, None]
    cube = cube + rng.normal(0, 0.02, cube.shape)
    return np.clip(cube * spec.scale, 0, spec.scale).astype(spec.dtype)


@pytest.fixture(scope="module")
def store_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("checkpoints")
    for arch in ARCHITECTURES:
        for bands in SHAPES:
            init_checkpoint(arch, bands, 3, root / f"{arch}-b{bands}-q3", seed=7, **SMALL)
    return root


@pytest.fixture(scope="module")
def encoded(store_root: Path) -> dict[tuple[str, int], EncodedPayload]:
    """Every codec's payload for the 1-band and 10-band rasters, encoded with 2 threads."""
    store = CheckpointStore([store_root])
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        results = {}
        for arch in ARCHITECTURES:
            codec = get_codec(arch, checkpoints=store)
            for bands, shape in SHAPES.items():
                spec = _spec(*shape)
                results[arch, bands] = codec.encode(_raster(spec), spec, RateTarget(quality=3))
        return results
    finally:
        torch.set_num_threads(previous)


@pytest.mark.parametrize("bands", sorted(SHAPES))
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_round_trip_is_bit_exact(
    arch: str, bands: int, store_root: Path, encoded: dict[tuple[str, int], EncodedPayload]
) -> None:
    spec = _spec(*SHAPES[bands])
    result = encoded[arch, bands]
    codec = get_codec(arch, checkpoints=CheckpointStore([store_root]))
    decoded = codec.decode(result.payload, spec, result.model)
    assert decoded.shape == spec.shape and decoded.dtype == np.uint16
    assert np.array_equal(decoded, result.reconstruction)
    assert result.payload[0] == COMPACT_VERSION
    assert result.model.model_id == 3 and len(result.model.weights_prefix) == 8
    bpp = 8 * len(result.payload) / spec.pixels
    assert 0 < bpp < 16 * bands  # real bytes, and fewer than the raw samples


_GROUND_SCRIPT = """
import json, random, sys
from pathlib import Path
import torch
torch.set_num_threads(1)  # the encoder ran with 2
from shared.codecs.base import ModelRef, RasterSpec, reconstruction_digest
from shared.codecs.learned.checkpoint import CheckpointStore
from shared.codecs.registry import get_codec
from shared.errors import CodecError
store = CheckpointStore([Path(sys.argv[1])])
digests, outcomes = {}, []
for job in json.loads(Path(sys.argv[2]).read_text()):
    c, h, w = job["shape"]
    spec = RasterSpec(c, h, w, "uint16", 14, 16383.0)
    ref = ModelRef(job["quality"], bytes.fromhex(job["prefix"]))
    codec = get_codec(job["arch"], checkpoints=store)
    payload = Path(job["payload"]).read_bytes()
    digests[job["key"]] = reconstruction_digest(codec.decode(payload, spec, ref))
    for seed in range(2):  # garbage in the strings (a container's CRC would catch it) to rANS
        rng, body = random.Random(seed), bytearray(payload)
        for _ in range(8):
            body[rng.randrange(len(body) // 4, len(body))] = rng.randrange(256)
        bad = bytes(body)
        try:
            raster = codec.decode(bad, spec, ref)
            outcomes.append("finite" if raster.shape == spec.shape else "bad-shape")
        except CodecError:
            outcomes.append("refused")
print(json.dumps({"digests": digests, "outcomes": outcomes}))
"""


@pytest.fixture(scope="module")
def ground(
    store_root: Path,
    encoded: dict[tuple[str, int], EncodedPayload],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict:
    """Decode every payload in a FRESH process with 1 thread (encoder: 2), plus corruptions."""
    folder = tmp_path_factory.mktemp("ground")
    jobs = []
    for (arch, bands), result in encoded.items():
        path = folder / f"{arch}-{bands}.bin"
        path.write_bytes(result.payload)
        jobs.append(
            {
                "arch": arch,
                "shape": SHAPES[bands],
                "payload": str(path),
                "key": f"{arch}-{bands}",
                "prefix": result.model.weights_prefix.hex(),
                "quality": result.model.model_id,
            }
        )
    (folder / "jobs.json").write_text(json.dumps(jobs))
    done = subprocess.run(
        [sys.executable, "-c", _GROUND_SCRIPT, str(store_root), str(folder / "jobs.json")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"},
    )
    return {
        "rc": done.returncode,
        "stderr": done.stderr[-3000:],
        "result": json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout else {},
    }


def test_fresh_process_with_other_threads_gets_the_same_digest(
    ground: dict, encoded: dict[tuple[str, int], EncodedPayload]
) -> None:
    assert ground["rc"] == 0, f"ground process died ({ground['rc']}): {ground['stderr']}"
    digests = ground["result"]["digests"]
    for (arch, bands), result in encoded.items():
        assert digests[f"{arch}-{bands}"] == reconstruction_digest(result.reconstruction), arch


def test_corrupted_strings_never_crash_the_decoder(
    ground: dict, encoded: dict[tuple[str, int], EncodedPayload]
) -> None:
    """rANS on garbage must end in CodecError or finite pixels, never a signal."""
    assert ground["rc"] == 0, f"ground process died ({ground['rc']}): {ground['stderr']}"
    outcomes = ground["result"]["outcomes"]
    assert len(outcomes) == 2 * len(encoded) and set(outcomes) <= {"finite", "refused"}


@pytest.mark.parametrize("arch", ["mean-scale-hyperprior", "cheng2020-gmm"])
def test_bad_payloads_are_refused(
    arch: str, store_root: Path, encoded: dict[tuple[str, int], EncodedPayload]
) -> None:
    spec = _spec(*SHAPES[1])
    result = encoded[arch, 1]
    codec = get_codec(arch, checkpoints=CheckpointStore([store_root]))
    payload = result.payload
    unknown_version = b"\x09" + payload[1:]
    unknown_flags = payload[:1] + b"\xf0" + payload[2:]
    for bad in (b"", payload[:2], unknown_version, unknown_flags):
        with pytest.raises(CodecError):
            codec.decode(bad, spec, result.model)
    # A flipped or cut string needs the container's CRC32C (version-5 payloads have none of
    # their own): shared/wire's tests refuse those containers before any decoder runs.


def test_wrong_weights_prefix_is_a_mismatch(
    store_root: Path, encoded: dict[tuple[str, int], EncodedPayload]
) -> None:
    result = encoded["scale-hyperprior", 1]
    codec = get_codec("scale-hyperprior", checkpoints=CheckpointStore([store_root]))
    with pytest.raises(WeightsMismatchError, match="install"):
        codec.decode(result.payload, _spec(*SHAPES[1]), ModelRef(3, b"\x00" * 8))
    with pytest.raises(WeightsMismatchError, match="model id"):
        codec.decode(result.payload, _spec(*SHAPES[1]), ModelRef(4, result.model.weights_prefix))


def test_declared_sizes_are_checked_before_anything(store_root: Path) -> None:
    codec = get_codec("cheng2020-gmm", checkpoints=CheckpointStore([store_root]))
    huge = _spec(1, 100_000, 100_000)
    with pytest.raises(ResourceLimitError):
        codec.decode(b"\x00" * 64, huge, ModelRef(3, b"\x00" * 8), DecodeLimits())


def test_rate_targets(store_root: Path, tmp_path: Path) -> None:
    spec = _spec(1, 32, 32, "uint8")
    raster = _raster(spec)
    codec = get_codec("factorized-prior", checkpoints=CheckpointStore([store_root]))
    with pytest.raises(RateTargetError, match="jpeg2000 --lossless"):
        codec.encode(raster, spec, RateTarget(lossless=True))
    with pytest.raises(CheckpointError, match="--quality"):
        codec.encode(raster, spec, RateTarget(bpp=0.5))
    with pytest.raises(CheckpointError, match="init_checkpoint"):
        codec.encode(raster, spec, RateTarget(quality=5))
    for quality, bpp in ((2, 0.3), (4, 1.2)):
        torch.manual_seed(quality)
        model = build_model("factorized-prior", 1, quality, N=16, M=16)
        save_checkpoint(
            model,
            tmp_path / f"fp-q{quality}",
            {
                "architecture": "factorized-prior",
                "quality": quality,
                "trained": True,
                "metrics": {"bpp": bpp, "psnr_db": 30.0},
            },
        )
    measured = get_codec("factorized-prior", checkpoints=CheckpointStore([tmp_path]))
    result = measured.encode(raster, spec, RateTarget(bpp=1.0))
    assert result.model.model_id == 4 and result.quality == 4
    assert np.array_equal(
        measured.decode(result.payload, spec, result.model), result.reconstruction
    )


def test_float_raster_of_one_block(store_root: Path) -> None:
    spec = RasterSpec(1, 32, 32, "float32", 16, 400.0)
    raster = np.linspace(0, 400, 32 * 32, dtype=np.float32).reshape(1, 32, 32)
    codec = get_codec("cheng2020-checkerboard", checkpoints=CheckpointStore([store_root]))
    result = codec.encode(raster, spec, RateTarget(quality=3))
    decoded = codec.decode(result.payload, spec, result.model)
    assert decoded.dtype == np.float32 and np.array_equal(decoded, result.reconstruction)


def test_only_cpu_coding_is_accepted() -> None:
    with pytest.raises(ConfigurationError, match="CPU"):
        get_codec("cheng2020-gmm", device="cuda")
