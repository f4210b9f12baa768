"""Seeds and input shaping shared by the atheris harnesses (see ``tests/fuzz/README.md``).

Each harness turns the fuzzer's bytes into a mutation of a real, valid seed (overwrite a few
bytes, truncate, splice, or use the raw bytes), so that the fuzzer explores inputs near the
valid format instead of only random noise.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shared.codecs.base import RasterSpec, RateTarget

#: A 1 x 32 x 32 14-bit raster: the fire profile's shape, small enough for fast decodes.
SPEC = RasterSpec(1, 32, 32, "uint16", 14, 16383.0)
LEARNED_ARCH = "factorized-prior"


def seed_raster(seed: int = 0) -> np.ndarray:
    """A smooth field plus noise and a hot spot (compresses like data)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32] / 32
    field = 3000 + 800 * np.sin(6 * yy) * np.cos(5 * xx) + 40 * rng.standard_normal((32, 32))
    field[10:14, 20:24] += 9000
    return np.clip(np.rint(field), 0, 16383)[None].astype(np.uint16)


def mutate(seed: bytes, data: bytes) -> bytes:
    """Derive one test input from a valid ``seed`` and the fuzzer's ``data``.

    Modes (first byte): 0 raw bytes, 1 truncation, 2 overwrite bytes, 3 splice in, 4 flip bits.
    """
    if not data:
        return seed
    mode, rest = data[0] % 5, data[1:]
    if mode == 0:
        return rest
    cut = int.from_bytes(rest[:4].ljust(4, b"\0"), "little") % (len(seed) + 1)
    if mode == 1:
        return seed[:cut]
    body = bytearray(seed)
    if mode == 2:
        for offset, value in zip(range(cut, len(body)), rest[4:], strict=False):
            body[offset] = value
        return bytes(body)
    if mode == 3:
        return bytes(body[:cut]) + rest[4:] + bytes(body[cut:])
    for i in range(4, len(rest) - 1, 2):  # pairs of (position, xor mask)
        position = (rest[i] << 8 | rest[i + 1]) % max(1, len(body))
        body[position] ^= 1 << (rest[i] % 8)
    return bytes(body)


@dataclass(frozen=True)
class CodecSeed:
    """One codec, ready to decode, and a valid payload of it."""

    name: str
    codec: Any
    payload: bytes
    model: Any
    container: bytes


def codec_seed(name: str) -> CodecSeed:
    """Encode the seed raster with ``name`` (``jpeg2000`` or ``learned``: a tiny untrained
    factorized-prior checkpoint from ``init_checkpoint``, written to a temporary folder)."""
    from shared.codecs.registry import get_codec
    from shared.compression import compress_raster

    options: dict[str, Any] = {}
    codec_name, target = "jpeg2000", RateTarget(bpp=4.0)
    if name == "learned":
        from shared.codecs.learned.checkpoint import CheckpointStore, init_checkpoint

        root = Path(tempfile.mkdtemp(prefix="eodl-fuzz-ckpt-"))
        init_checkpoint(LEARNED_ARCH, 1, 3, root / f"{LEARNED_ARCH}-b1-q3", seed=5, N=16)
        options["checkpoints"] = CheckpointStore([root])
        codec_name, target = LEARNED_ARCH, RateTarget(quality=3)
    codec = get_codec(codec_name, **options)
    encoded = codec.encode(seed_raster(), SPEC, target)
    container = compress_raster(
        seed_raster(),
        codec=codec_name,
        target=target,
        scale=SPEC.scale,
        bit_depth=14,
        metadata={"scene_id": "fuzz-seed", "task": "fire"},
        **options,
    ).container
    return CodecSeed(codec_name, codec, bytes(encoded.payload), encoded.model, bytes(container))
