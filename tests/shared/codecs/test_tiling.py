"""Tiled scenes: one container per scene, bit-exact through tiles, corrupt directories refused.

The tile side is lowered to 128 pixels so that a 300 x 200 scene (a 3 x 2 grid, with cropped
edge tiles of 44 rows and 72 columns) stands for a real-size one; the shipped cheng2020-gmm
weights code it.
"""

from __future__ import annotations

import struct
import threading
from typing import Any

import google_crc32c
import numpy as np
import pytest

from shared.codecs.base import DecodeLimits, RasterSpec, RateTarget, reconstruction_digest
from shared.codecs.tiling import (
    LEARNED_BLOCK,
    TilingPolicy,
    decode_tiled,
    start_method_for,
    tile_grid,
)
from shared.compression import CompressedScene, compress_raster, decompress_container
from shared.errors import (
    CodecError,
    ConfigurationError,
    ContainerError,
    ResourceLimitError,
    WeightsMismatchError,
)
from shared.metrics.distortion import psnr_db
from shared.wire import header as wire_header
from shared.wire.container import pack_container, read_header, unpack_container
from shared.wire.header import FLAG_LOSSLESS, FLAG_SIDECAR, FLAG_TILED
from shared.wire.tiles import directory_bytes, pack_tiled_payload, parse_tile_directory

SIDE = 128
POLICY = TilingPolicy(tile_side=SIDE, workers=1)
META = {"scene_id": "tiled-1", "task": "cloud", "created_at": "2026-12-01T12:00:00+00:00"}


def _thermal(height: int = 300, width: int = 200, seed: int = 0) -> np.ndarray:
    """A 14-bit LWIR-like scene: smooth fields and noise, so tiles differ."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    field = 6000 + 3000 * np.sin(xx / 9.0) * np.cos(yy / 13.0) + 800 * np.sin((xx + yy) / 31.0)
    return np.clip(field + rng.normal(0, 60, field.shape), 0, 16383).astype(np.uint16)[None]


def _compress(raster: np.ndarray, **options: Any) -> CompressedScene:
    args: dict[str, Any] = {
        "codec": "cheng2020-gmm",
        "target": RateTarget(quality=2),
        "scale": 16383.0,
        "bit_depth": 14,
        "metadata": META,
        "tiling": POLICY,
    }
    args.update(options)
    return compress_raster(raster, **args)


@pytest.fixture(scope="module")
def raster() -> np.ndarray:
    return _thermal()


@pytest.fixture(scope="module")
def tiled(raster: np.ndarray) -> CompressedScene:
    return _compress(raster)


def _with_payload(scene: CompressedScene, payload: bytes, tiled: bool = True) -> bytes:
    """The scene's container with another payload: a valid header, lengths and CRC."""
    container = unpack_container(scene.container)
    header = container.header
    return pack_container(
        codec=header.codec_name,
        spec=header.spec,
        model=header.model,
        payload=payload,
        metadata=container.metadata,
        quality=header.quality,
        tiled=tiled,
    )


def test_tiled_round_trip_is_bit_exact(raster: np.ndarray, tiled: CompressedScene) -> None:
    header = tiled.header
    assert header.tiled and header.codec_name == "cheng2020-gmm" and header.quality == 2
    payload = unpack_container(tiled.container).payload
    assert parse_tile_directory(payload, 3, 2).tile_side == SIDE
    decoded = decompress_container(tiled.container, tiling=POLICY)
    assert decoded.digest_matches
    assert np.array_equal(decoded.raster, tiled.reconstruction)
    assert decoded.raster.shape == raster.shape and decoded.raster.dtype == np.uint16
    # digest and PSNR cover the whole scene, not one tile
    assert decoded.container.reconstruction_matches(reconstruction_digest(decoded.raster))
    assert tiled.psnr_db == pytest.approx(psnr_db(raster, decoded.raster, 16383.0))
    assert 20.0 < tiled.psnr_db < 60.0
    assert tiled.bpp == 8 * len(tiled.container) / (300 * 200)


@pytest.mark.parametrize(
    "method",
    ["fork", pytest.param("spawn", marks=pytest.mark.slow)],  # spawn: each worker imports torch
)
def test_parallel_workers_write_the_same_container(
    method: str, raster: np.ndarray, tiled: CompressedScene
) -> None:
    policy = TilingPolicy(tile_side=SIDE, workers=2, start_method=method)  # type: ignore[arg-type]
    parallel = _compress(raster, tiling=policy)
    assert parallel.container == tiled.container
    decoded = decompress_container(tiled.container, tiling=policy)
    assert np.array_equal(decoded.raster, tiled.reconstruction)


def test_a_multi_threaded_caller_never_forks() -> None:
    if threading.active_count() == 1:  # (earlier tests in the session may leave threads)
        assert start_method_for("auto") == "fork"
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert start_method_for("auto") == "spawn"  # a fork could inherit a held lock
        assert start_method_for("fork") == "fork"
    finally:
        stop.set()
        other.join()


def test_small_scenes_and_jpeg2000_stay_untiled(raster: np.ndarray) -> None:
    one_tile = _compress(raster[:, :SIDE, :SIDE])
    assert not one_tile.header.tiled
    j2k = _compress(raster, codec="jpeg2000", target=RateTarget(bpp=2.0))
    assert not j2k.header.tiled
    assert unpack_container(j2k.container).payload[:4] == b"\xff\x4f\xff\x51"  # a codestream


def test_lossless_jpeg2000_through_tiles_is_exact(raster: np.ndarray) -> None:
    policy = TilingPolicy(tile_side=SIDE, workers=1, kinds=("classical",))
    scene = _compress(raster, codec="jpeg2000", target=RateTarget(lossless=True), tiling=policy)
    assert scene.header.tiled and scene.header.lossless and scene.psnr_db == float("inf")
    decoded = decompress_container(scene.container)
    assert np.array_equal(decoded.raster, raster)


def test_tiles_cover_the_scene_once_and_pad_by_mirror(raster: np.ndarray) -> None:
    spec = RasterSpec(1, 300, 200, "uint16", 14, 16383.0)
    coverage = np.zeros((300, 200), dtype=int)
    for tile in tile_grid(spec, SIDE, LEARNED_BLOCK):
        coverage[tile.top : tile.top + tile.height, tile.left : tile.left + tile.width] += 1
        assert tile.coded_height % LEARNED_BLOCK == 0 and tile.coded_width % LEARNED_BLOCK == 0
        piece = tile.cut(raster)[0]
        assert piece.shape == (tile.coded_height, tile.coded_width)
        inner = raster[0, tile.top : tile.top + tile.height, tile.left : tile.left + tile.width]
        assert np.array_equal(piece[: tile.height, : tile.width], inner)
        pad_h, pad_w = tile.coded_height - tile.height, tile.coded_width - tile.width
        # the pad mirrors the tile's own last rows and columns (never a neighbour's pixels)
        assert np.array_equal(piece[tile.height :, : tile.width], inner[::-1][:pad_h])
        assert np.array_equal(piece[: tile.height, tile.width :], inner[:, ::-1][:, :pad_w])
    assert (coverage == 1).all()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p[:20], "shorter than its"),
        (lambda p: b"EOLP" + p[4:], "not tiled"),
        (lambda p: p[:4] + b"\x07" + p[5:], "version 7"),
        (lambda p: p[:5] + struct.pack("<H", 100) + p[7:], "multiples of 64"),
        (lambda p: p[:20] + bytes([p[20] ^ 0xFF]) + p[21:], "CRC32C"),
        (lambda p: p[:-1], "sum to"),
    ],
)
def test_corrupt_directory_is_refused_before_any_tile_decodes(
    tiled: CompressedScene, mutate: Any, message: str
) -> None:
    """The container's own CRC is valid here: only the directory can catch these."""
    bad = _with_payload(tiled, mutate(unpack_container(tiled.container).payload))
    with pytest.raises(ContainerError, match=message):
        decompress_container(bad, tiling=POLICY)


def test_a_grid_that_disagrees_with_the_raster_is_refused(tiled: CompressedScene) -> None:
    payload = unpack_container(tiled.container).payload
    directory = parse_tile_directory(payload, 3, 2)
    tiles = [
        (payload[a:b], m) for (a, b), m in zip(directory.offsets(), directory.models, strict=True)
    ]
    regridded = pack_tiled_payload(256, 3, 2, tiles)  # 256-pixel tiles give a 2 x 1 grid
    with pytest.raises(ContainerError, match="3x2 grid"):
        decompress_container(_with_payload(tiled, regridded), tiling=POLICY)


def test_untiled_payload_behind_the_flag_and_tiles_without_it_are_refused(
    tiled: CompressedScene,
) -> None:
    untiled = _compress(_thermal(SIDE, SIDE))
    flagged = _with_payload(untiled, unpack_container(untiled.container).payload)
    with pytest.raises(ContainerError, match="not tiled"):
        decompress_container(flagged)
    unflagged = _with_payload(tiled, unpack_container(tiled.container).payload, tiled=False)
    with pytest.raises(CodecError):
        decompress_container(unflagged)


def test_each_tile_names_its_weights(tiled: CompressedScene) -> None:
    payload = bytearray(unpack_container(tiled.container).payload)
    entry = 11 + 14 * 4  # tile 4's weights prefix follows its length (u32) and model id (u16)
    payload[entry + 6 : entry + 14] = bytes(8)
    payload[entry + 6] = 0xAB
    end = directory_bytes(6) - 4
    struct.pack_into("<I", payload, end, google_crc32c.value(bytes(payload[:end])))
    with pytest.raises(WeightsMismatchError, match="ab00000000000000"):
        decompress_container(_with_payload(tiled, bytes(payload)), tiling=POLICY)


def test_limits_apply_to_the_whole_scene(tiled: CompressedScene) -> None:
    small = DecodeLimits(max_pixels=300 * 200 - 1)  # every 128 x 128 tile would fit
    with pytest.raises(ResourceLimitError, match="300x200"):
        decompress_container(tiled.container, limits=small)
    payload = unpack_container(tiled.container).payload
    with pytest.raises(ResourceLimitError):
        decode_tiled(payload, tiled.header.spec, small, codec="cheng2020-gmm", policy=POLICY)


def test_an_old_reader_refuses_the_tiled_flag(
    raster: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiled = _compress(raster, container_version=1)
    assert tiled.container[29] & FLAG_TILED
    monkeypatch.setattr(wire_header, "_KNOWN_FLAGS", FLAG_LOSSLESS | FLAG_SIDECAR)  # format v1.0
    with pytest.raises(ContainerError, match="unknown bits"):
        read_header(tiled.container)
    monkeypatch.undo()
    raw = bytearray(tiled.container)
    raw[29] |= 0x08  # a bit no reader knows yet
    with pytest.raises(ContainerError, match="unknown bits"):
        read_header(bytes(raw))


def test_bad_policies_are_refused(raster: np.ndarray) -> None:
    with pytest.raises(ConfigurationError, match="multiple of the codec's block of 64"):
        _compress(raster, tiling=TilingPolicy(tile_side=100, workers=1))
    for bad in ({"tile_side": 32}, {"workers": 0}, {"start_method": "thread"}):
        with pytest.raises(ConfigurationError):
            TilingPolicy(**bad)  # type: ignore[arg-type]
