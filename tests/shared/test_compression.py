"""The pipeline end to end with the real JPEG 2000 codec: exact round trips, refusals first."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shared.codecs.base import DecodeLimits, ModelRef, RasterSpec, RateTarget, reconstruction_digest
from shared.codecs.jpeg2000 import Jpeg2000Codec
from shared.compression import compress_raster, decompress_container
from shared.errors import ConfigurationError, ContainerError, InvalidRasterError, ResourceLimitError
from shared.wire import HEADER_SIZE, pack_container, read_header

LOSSLESS = RateTarget(lossless=True)


@pytest.fixture()
def decode_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Count calls into the real JPEG 2000 decoder (it still runs)."""
    calls: list[int] = []
    real = Jpeg2000Codec.decode

    def counting(self: Jpeg2000Codec, *args: object, **kwargs: object) -> np.ndarray:
        calls.append(1)
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Jpeg2000Codec, "decode", counting)
    yield calls


def _thermal(seed: int = 0, shape: tuple[int, ...] = (1, 32, 32)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**14, shape, dtype=np.uint16)


@pytest.mark.parametrize(
    ("raster", "bit_depth"),
    [(_thermal(), 14), (np.random.default_rng(1).integers(0, 256, (10, 16, 24), np.uint8), None)],
)
def test_lossless_round_trip_is_bit_exact(raster: np.ndarray, bit_depth: int | None) -> None:
    scene = compress_raster(
        raster,
        codec="jpeg2000",
        target=LOSSLESS,
        bit_depth=bit_depth,
        metadata={"scene_id": "fire-0001", "task": "fire"},
    )
    assert scene.header.lossless and scene.psnr_db == math.inf
    np.testing.assert_array_equal(scene.reconstruction, raster)
    decoded = decompress_container(scene.container)
    assert decoded.digest_matches is None  # JPEG 2000 in version 2: no check unless asked
    assert decoded.raster.dtype == raster.dtype
    np.testing.assert_array_equal(decoded.raster, raster)
    assert decoded.container.metadata == {"scene_id": "fire-0001", "task": "fire"}
    old = compress_raster(raster, codec="jpeg2000", target=LOSSLESS, bit_depth=bit_depth,
                          metadata={"scene_id": "fire-0001"}, container_version=1)  # fmt: skip
    meta = decompress_container(old.container).container.metadata
    assert meta["scene_id"] == "fire-0001" and meta["psnr_db"] is None and "created_at" in meta


def test_defaults_for_integer_and_float_rasters() -> None:
    scene = compress_raster(_thermal()[0], codec="jpeg2000", target=LOSSLESS)
    assert scene.header.spec == RasterSpec(1, 32, 32, "uint16", 16, 65535.0)
    floats = np.linspace(200.0, 330.0, 32 * 32, dtype=np.float32).reshape(32, 32)
    scene = compress_raster(floats, codec="jpeg2000", target=RateTarget(bpp=2.0))
    assert (scene.header.bit_depth, scene.header.scale) == (16, pytest.approx(330.0))


def test_lossy_round_trip_matches_the_onboard_reconstruction() -> None:
    raster = _thermal(2).astype(np.float32)
    scene = compress_raster(
        raster,
        codec="jpeg2000",
        target=RateTarget(bpp=3.0),
        scale=16383.0,
        reconstruction_check=True,
    )
    decoded = decompress_container(scene.container)
    assert decoded.digest_matches is True
    np.testing.assert_array_equal(decoded.raster, scene.reconstruction)
    assert 0 < scene.psnr_db < math.inf
    assert (
        decoded.container.header.digest
        == bytes.fromhex(reconstruction_digest(scene.reconstruction))[:8]
    )


def test_truth_mask_rides_the_sidecar_and_is_not_counted_in_bpp() -> None:
    raster = _thermal(3)
    mask = (raster[0] > 12000).astype(np.uint8)
    meta = {"scene_id": "s", "created_at": "2026-01-01T00:00:00+00:00"}
    with_mask = compress_raster(
        raster, codec="jpeg2000", target=LOSSLESS, bit_depth=14, metadata=meta, truth_mask=mask
    )
    without = compress_raster(
        raster, codec="jpeg2000", target=LOSSLESS, bit_depth=14, metadata=meta
    )
    decoded = decompress_container(with_mask.container)
    assert decoded.truth_mask is not None and decoded.truth_mask.dtype == np.uint8
    np.testing.assert_array_equal(decoded.truth_mask, mask)
    assert decompress_container(without.container).truth_mask is None
    assert len(with_mask.container) > len(without.container)
    assert with_mask.bpp == without.bpp
    header = with_mask.header
    side = header.sidecar_bytes + header.sidecar_length_bytes
    assert with_mask.bpp == (len(with_mask.container) - side) * 8 / (32 * 32)
    codestream = decoded.container.payload  # the standard codestream, rebuilt
    assert with_mask.payload_bpp == len(codestream) * 8 / (32 * 32)
    assert with_mask.bpp < with_mask.payload_bpp  # the ground rebuilds the main header
    assert with_mask.bits_per_sample == with_mask.bpp  # one band


def test_bits_per_sample_divides_by_bands() -> None:
    raster = np.random.default_rng(4).integers(0, 256, (10, 16, 16), np.uint8)
    scene = compress_raster(raster, codec="jpeg2000", target=RateTarget(bpp=8.0))
    assert scene.bits_per_sample == pytest.approx(scene.bpp / 10)


def test_corrupted_truncated_and_empty_containers_never_reach_the_decoder(
    decode_calls: list[int],
) -> None:
    data = compress_raster(_thermal(5), codec="jpeg2000", target=LOSSLESS).container
    calls_after_encode = len(decode_calls)
    flipped = bytearray(data)
    flipped[HEADER_SIZE + 20] ^= 0x40
    for bad, message in (
        (bytes(flipped), "checksum mismatch"),
        (data[:-7], "truncated"),
        (b"", "empty"),
        (data[:30], "truncated"),
    ):
        with pytest.raises(ContainerError, match=message):
            decompress_container(bad)
    assert len(decode_calls) == calls_after_encode
    np.testing.assert_array_equal(decompress_container(data).raster, _thermal(5))
    assert len(decode_calls) == calls_after_encode + 1


def test_declared_bomb_is_refused_before_decoding(decode_calls: list[int]) -> None:
    digest = "0" * 64
    bomb = pack_container(
        codec="jpeg2000",
        spec=RasterSpec(1, 16384, 16384, "uint16", 16, 65535.0),
        model=ModelRef(),
        payload=b"\xff\x4f\xff\x51" + bytes(1200),
        metadata={"reconstruction_sha256": digest},
    )
    assert read_header(bomb).height == 16384
    with pytest.raises(ResourceLimitError, match="16384x16384 pixels declared"):
        decompress_container(bomb, limits=DecodeLimits(max_pixels=4096 * 4096))
    assert decode_calls == []


def test_a_wrong_digest_is_reported_not_hidden() -> None:
    raster = _thermal(6)
    payload = (
        Jpeg2000Codec()
        .encode(raster, RasterSpec(1, 32, 32, "uint16", 14, 16383.0), LOSSLESS)
        .payload
    )
    data = pack_container(
        codec="jpeg2000",
        spec=RasterSpec(1, 32, 32, "uint16", 14, 16383.0),
        model=ModelRef(),
        payload=payload,
        lossless=True,
        metadata={"reconstruction_sha256": "f" * 64},
    )
    decoded = decompress_container(data)
    np.testing.assert_array_equal(decoded.raster, raster)
    assert not decoded.digest_matches


@pytest.mark.parametrize(
    ("raster", "kwargs", "error", "message"),
    [
        (np.zeros((1, 8, 8), np.float64), {}, InvalidRasterError, "float32"),
        (np.zeros((1, 1, 8, 8), np.uint8), {}, InvalidRasterError, "dimensions"),
        (np.full((8, 8), 5000, np.uint16), {"bit_depth": 12}, InvalidRasterError, "--bit-depth 13"),
        (np.zeros((8, 8), np.float32), {}, InvalidRasterError, "positive scale"),
        (
            np.zeros((8, 8), np.uint8),
            {"metadata": {"psnr_db": 1.0}},
            ConfigurationError,
            "set by the pipeline",
        ),
        (
            np.zeros((8, 8), np.uint8),
            {"truth_mask": np.zeros((8, 9), np.uint8)},
            InvalidRasterError,
            "does not match",
        ),
        (
            np.zeros((8, 8), np.uint8),
            {"metadata": {"when": object()}},
            ContainerError,
            "not plain JSON",
        ),
    ],
)
def test_compress_refuses_bad_input(
    raster: np.ndarray, kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        compress_raster(raster, codec="jpeg2000", target=LOSSLESS, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def learned_store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A store holding one real (untrained) 1-band factorized-prior checkpoint."""
    checkpoint = pytest.importorskip("shared.codecs.learned.checkpoint")
    architectures = pytest.importorskip("shared.codecs.learned.architectures")
    import torch

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("checkpoints")
    model = architectures.build_model("factorized-prior", 1, 1)
    checkpoint.save_checkpoint(
        model, root / "fp-q1", {"architecture": "factorized-prior", "quality": 1}
    )
    return checkpoint.CheckpointStore([root])


def test_learned_codec_round_trip_through_the_container(learned_store: Any) -> None:
    raster = _thermal(9)
    scene = compress_raster(
        raster,
        codec="factorized-prior",
        target=RateTarget(quality=1),
        bit_depth=14,
        checkpoints=learned_store,
    )
    header = scene.header
    assert (header.codec_name, header.model_id, header.quality) == ("factorized-prior", 1, 1)
    assert len(header.weights_prefix) == 8 and not header.lossless
    decoded = decompress_container(scene.container, checkpoints=learned_store)
    assert decoded.digest_matches
    np.testing.assert_array_equal(decoded.raster, scene.reconstruction)


def test_learned_container_names_weights_the_ground_lacks(
    learned_store: Any, tmp_path: Path
) -> None:
    from shared.codecs.learned.checkpoint import CheckpointStore
    from shared.errors import WeightsMismatchError

    scene = compress_raster(
        _thermal(10),
        codec="factorized-prior",
        target=RateTarget(quality=1),
        checkpoints=learned_store,
    )
    with pytest.raises(WeightsMismatchError, match=scene.header.weights_prefix.hex()):
        decompress_container(scene.container, checkpoints=CheckpointStore([tmp_path]))


def test_the_container_version_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A satellite talking to a version-1-only ground sets EODL_CONTAINER_VERSION=1."""
    options: dict[str, Any] = {"codec": "jpeg2000", "target": LOSSLESS, "bit_depth": 14}
    assert compress_raster(_thermal(), **options).header.version == 2
    monkeypatch.setenv("EODL_CONTAINER_VERSION", "1")
    assert compress_raster(_thermal(), **options).header.version == 1
    assert compress_raster(_thermal(), container_version=2, **options).header.version == 2
    monkeypatch.setenv("EODL_CONTAINER_VERSION", "3")
    with pytest.raises(ConfigurationError, match="EODL_CONTAINER_VERSION"):
        compress_raster(_thermal(), **options)


def test_the_reconstruction_check_policy_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    options: dict[str, Any] = {"codec": "jpeg2000", "target": LOSSLESS, "bit_depth": 14}
    assert compress_raster(_thermal(), **options).header.digest == b""
    monkeypatch.setenv("EODL_RECONSTRUCTION_CHECK", "always")
    scene = compress_raster(_thermal(), **options)
    assert decompress_container(scene.container).digest_matches is True
    assert compress_raster(_thermal(), reconstruction_check=False, **options).header.digest == b""
    monkeypatch.setenv("EODL_RECONSTRUCTION_CHECK", "sometimes")
    with pytest.raises(ConfigurationError, match="always, never or learned"):
        compress_raster(_thermal(), **options)
