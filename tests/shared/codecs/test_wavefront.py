"""Wavefront coding of cheng2020-gmm: exact batched parameters, identical pixels from both
decoders, and version-1 (raster order) payloads still decodable."""

from __future__ import annotations

import google_crc32c
import numpy as np
import pytest
import torch
from compressai.ans import BufferedRansEncoder

from shared.codecs.base import RasterSpec, RateTarget, to_unit
from shared.codecs.learned import coding
from shared.codecs.learned.architectures import build_model
from shared.codecs.learned.checkpoint import CheckpointStore, init_checkpoint
from shared.codecs.learned.codec import BLOCK, _pad, latent_layout
from shared.codecs.learned.gmm_coding import (
    WAVEFRONT_MARKER,
    compress_gmm,
    decode_wavefront,
    decompress_gmm,
    encode_wavefront,
)
from shared.codecs.learned.payload import pack_legacy_payload, unpack_payload
from shared.codecs.learned.wavefront import (
    MAX_FAN_IN,
    SLOPE,
    ExactLinear,
    batched_cdfs,
    diagonals,
    exact_entropy_model,
)
from shared.codecs.registry import get_codec
from shared.errors import CodecError, ConfigurationError

ARCH = "cheng2020-gmm"


def _model(seed: int, bands: int = 2, n: int = 8) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_model(ARCH, bands, 3, N=n).eval()
    model.update(force=True)
    return model


def test_schedule_covers_the_grid_and_respects_the_real_mask() -> None:
    model = _model(0)
    exact = exact_entropy_model(model)
    mask = model.context_prediction.mask[0, 0]
    assert len(exact.taps) == int(mask.sum()) == 12  # 5x5 type A: two rows and two taps
    for height, width in ((1, 1), (1, 9), (9, 1), (5, 7), (8, 8)):
        steps = diagonals(height, width)
        when = {}
        for step, positions in enumerate(steps):
            diagonal = {SLOPE * row + col for row, col in positions.tolist()}
            assert len(diagonal) == 1  # one t per step, in increasing t
            for row, col in positions.tolist():
                assert (row, col) not in when
                when[row, col] = step
        assert len(when) == height * width
        for (row, col), t in when.items():
            for dr, dc in exact.taps:
                neighbour = (row + dr, col + dc)
                if neighbour in when:  # inside the grid: coded on an earlier diagonal
                    assert when[neighbour] < t


@pytest.mark.parametrize("seed", range(6))
def test_batched_parameters_equal_one_position_at_a_time(seed: int) -> None:
    model = _model(seed, n=16)
    exact = exact_entropy_model(model)
    gen = torch.Generator().manual_seed(seed)
    count = 9
    width = len(exact.taps) * exact.m
    patches = torch.randint(-40, 41, (count, width), generator=gen).double() * 4096.0
    hyper = exact.hyper_terms(torch.randn(1, 2 * exact.m, 3, 3, generator=gen) * 3)
    hyper = hyper.reshape(count, -1)
    batched = exact.parameters_at(hyper, patches)
    for index in range(count):
        single = exact.parameters_at(hyper[index : index + 1], patches[index : index + 1])
        for whole, one in zip(batched, single, strict=True):
            assert torch.equal(whole[index : index + 1], one)
    for split in (2, 5):  # any grouping of the rows, small (matrix-vector) or large (GEMM)
        parts = [
            exact.parameters_at(h, p)
            for h, p in zip(hyper.split(split), patches.split(split), strict=True)
        ]
        for index, whole in enumerate(batched):
            assert torch.equal(torch.cat([part[index] for part in parts]), whole)
    cdfs = batched_cdfs(*batched, bound=6)
    for index in range(count):
        one = batched_cdfs(*(t[index : index + 1] for t in batched), bound=6)
        assert torch.equal(cdfs[index : index + 1], one)
    assert (cdfs[..., 0] == 0).all() and (cdfs[..., -1] == 2**16).all()
    assert (cdfs.diff(dim=-1) >= 1).all()


@pytest.mark.parametrize("seed", range(8))
def test_both_decoders_return_random_latents_exactly(seed: int) -> None:
    model = _model(seed, n=8)
    gen = torch.Generator().manual_seed(100 + seed)
    height, width = [(5, 7), (1, 9), (9, 1), (4, 4)][seed % 4]
    params = torch.randn(1, 2 * model.M, height, width, generator=gen) * 2
    y_int = torch.round(torch.randn(1, model.M, height, width, generator=gen) * 4)
    y_int[0, 0, 0, 0] = 300.0  # beyond the bound: the escape path
    bound = 12
    with coding.deterministic_coding():
        string = encode_wavefront(model, params, y_int, bound)
        padded = string + bytes(4096)
        fast = decode_wavefront(model, params, padded, bound, "wavefront")
        reference = decode_wavefront(model, params, padded, bound, "sequential")
    assert torch.equal(fast.float(), y_int) and torch.equal(reference.float(), y_int)


def test_fan_in_beyond_exact_float64_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="narrower"):
        ExactLinear.from_float(torch.zeros(2, MAX_FAN_IN + 1), None)


def _raster(spec: RasterSpec, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : spec.height, 0 : spec.width]
    base = (np.sin(yy / (3.0 + seed)) + np.cos(xx / 5.0) + 2.0) / 4.0
    cube = base[None] * np.linspace(0.5, 1.0, spec.bands)[:, None, None]
    cube = cube + rng.normal(0, 0.05, cube.shape)
    return np.clip(cube * spec.scale, 0, spec.scale).astype(spec.dtype)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> CheckpointStore:
    root = tmp_path_factory.mktemp("wavefront-checkpoints")
    for bands in (1, 10):
        init_checkpoint(ARCH, bands, 3, root / f"gmm-b{bands}", seed=3, N=16)
    return CheckpointStore([root])


def _strings(payload: bytes, spec: RasterSpec, model: torch.nn.Module) -> tuple[list, int]:
    layout = latent_layout(ARCH, spec)
    coded = unpack_payload(payload, layout, ARCH)
    counts = coding.symbol_counts(ARCH, model, layout)
    return coding.guard_strings(coded.strings, counts), coded.symbol_bound


@pytest.mark.parametrize(("bands", "seed"), [(1, 0), (1, 1), (10, 2), (10, 3)])
def test_real_payloads_decode_identically_with_both_decoders(
    store: CheckpointStore, bands: int, seed: int
) -> None:
    spec = RasterSpec(bands, 72, 136, "uint16", 14, 16383.0)
    codec = get_codec(ARCH, checkpoints=store)
    # latents alone (no band offsets): the two decoders are compared on the latents' pixels
    result = codec.encode(_raster(spec, seed), spec, RateTarget(quality=3), correct_bands=False)
    assert result.payload[:2] == b"\x05\x01"  # payload version 5, wavefront order flag
    decoded = codec.decode(result.payload, spec, result.model)
    assert np.array_equal(decoded, result.reconstruction)
    model, _ = store.load(store.find(ARCH, bands, quality=3))
    strings, bound = _strings(result.payload, spec, model)
    assert strings[0][0].startswith(WAVEFRONT_MARKER)
    layout = latent_layout(ARCH, spec)
    with coding.deterministic_coding():
        fast = decompress_gmm(model.eval(), strings, layout.z_shape, bound, "wavefront")
        reference = decompress_gmm(model, strings, layout.z_shape, bound, "sequential")
    assert torch.equal(fast["x_hat"], reference["x_hat"])


def test_raster_order_payloads_still_decode_to_the_same_pixels(store: CheckpointStore) -> None:
    spec = RasterSpec(1, 64, 128, "uint16", 14, 16383.0)
    raster = _raster(spec, 4)
    codec = get_codec(ARCH, checkpoints=store)
    result = codec.encode(raster, spec, RateTarget(quality=3), correct_bands=False)
    model, _ = store.load(store.find(ARCH, 1, quality=3))
    x = torch.from_numpy(_pad(to_unit(raster, spec), BLOCK)).unsqueeze(0)
    with coding.deterministic_coding():
        out = compress_gmm(model.eval(), x, order="raster")
    coded = coding.LatentStrings((out["strings"][0][0], out["strings"][1][0]), out["symbol_bound"])
    v1 = pack_legacy_payload(coded, latent_layout(ARCH, spec))
    assert v1[4] == 1 and v1 != result.payload
    # both orders code round(y) losslessly, so version 1 and 2 give the same pixels
    assert np.array_equal(codec.decode(v1, spec, result.model), result.reconstruction)


def test_version_and_order_must_agree(store: CheckpointStore) -> None:
    layout = coding.LatentLayout((4, 8), (1, 2))
    wavefront = coding.LatentStrings((WAVEFRONT_MARKER + b"y" * 32, b"z" * 12), 5)
    payload = pack_legacy_payload(wavefront, layout)
    assert payload[4] == 2 and unpack_payload(payload, layout, ARCH) == wavefront
    with pytest.raises(CodecError):  # only cheng2020-gmm writes version 2
        unpack_payload(payload, layout, "cheng2020-attn")
    marked_v1 = payload[:4] + b"\x01" + payload[5:-4]
    marked_v1 += google_crc32c.value(marked_v1).to_bytes(4, "little")
    with pytest.raises(CodecError, match="disagree"):
        unpack_payload(marked_v1, layout, ARCH)
    raster = pack_legacy_payload(coding.LatentStrings((b"y" * 40, b"z" * 12), 5), layout)
    relabelled = raster[:4] + b"\x02" + raster[5:-4]
    relabelled += google_crc32c.value(relabelled).to_bytes(4, "little")
    with pytest.raises(CodecError, match="marker"):
        unpack_payload(relabelled, layout, ARCH)


def test_the_marker_cannot_begin_a_rans_stream() -> None:
    """rANS64 flushes a state below 2^63 first, so byte 7 of any stream is below 0x80."""
    assert WAVEFRONT_MARKER[7] >= 0x80
    rng = np.random.default_rng(5)
    cdf = [0, 20000, 40000, 65535, 65536]
    for _ in range(20):
        encoder = BufferedRansEncoder()
        count = int(rng.integers(1, 400))
        symbols = rng.integers(-1, 3, count).tolist()
        encoder.encode_with_indexes(symbols, [0] * count, [cdf], [5], [-1])
        assert encoder.flush()[7] < 0x80
