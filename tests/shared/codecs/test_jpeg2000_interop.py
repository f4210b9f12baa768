"""Our codestreams decode with Debian's OpenJPEG and Grok command-line decoders to our pixels.

Both CLIs write every component to one planar ``.rawl`` file (little-endian, 1 byte per sample up
to 8 bits, 2 above) for 1 and 10 components alike, so ``.rawl`` is the format compared here. Also
measured: ``.pgx`` writes one file per component with both; ``.pgm`` keeps only the first of 10
components with opj_decompress and is refused by grk_decompress; ``.tif`` works with both but at
14 bits is bit-packed and needs ``imagecodecs`` to read; opj_decompress's ``.raw`` is not
big-endian as Grok's is.
Install the tools with ``apt-get install libopenjp2-tools grokj2k-tools``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from shared.codecs.base import RasterSpec, RateTarget
from shared.codecs.jpeg2000 import Jpeg2000Codec

pytestmark = pytest.mark.integration

DECODERS = {
    "opj_decompress": "libopenjp2-tools",
    "grk_decompress": "grokj2k-tools",
}


def _raster(shape: tuple[int, int, int], bit_depth: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    top = 2**bit_depth - 1
    walk = np.cumsum(rng.normal(0, top / 200, shape), axis=2) + top / 2
    dtype = np.uint8 if bit_depth <= 8 else np.uint16
    return np.clip(np.rint(walk), 0, top).astype(dtype)


def _external_decode(tool: str, payload: bytes, spec: RasterSpec, tmp_path: Path) -> np.ndarray:
    binary = shutil.which(tool)
    if binary is None:
        pytest.skip(f"{tool} not installed (apt-get install {DECODERS[tool]})")
    source, target = tmp_path / "scene.j2k", tmp_path / "scene.rawl"
    source.write_bytes(payload)
    done = subprocess.run(
        [binary, "-i", str(source), "-o", str(target)], capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    dtype = "<u2" if spec.bit_depth > 8 else "u1"
    return np.fromfile(target, dtype=dtype).reshape(spec.shape)


@pytest.mark.parametrize("tool", sorted(DECODERS))
@pytest.mark.parametrize(
    ("shape", "bit_depth", "target"),
    [
        ((1, 64, 80), 14, RateTarget(lossless=True)),
        ((10, 48, 48), 14, RateTarget(lossless=True)),
        ((3, 40, 40), 8, RateTarget(lossless=True)),
        ((1, 64, 80), 14, RateTarget(bpp=1.0)),
        ((10, 48, 48), 12, RateTarget(bpp=4.0)),
    ],
    ids=[
        "1band-14bit-lossless",
        "10band-14bit-lossless",
        "3band-8bit-lossless",
        "1band-14bit-1bpp",
        "10band-12bit-4bpp",
    ],
)
def test_external_decoders_agree_with_ours(
    tool: str, shape: tuple[int, int, int], bit_depth: int, target: RateTarget, tmp_path: Path
) -> None:
    raster = _raster(shape, bit_depth, seed=bit_depth + shape[0])
    spec = RasterSpec(*shape, raster.dtype.name, bit_depth, float(2**bit_depth - 1))
    encoded = Jpeg2000Codec().encode(raster, spec, target)
    theirs = _external_decode(tool, encoded.payload, spec, tmp_path)
    np.testing.assert_array_equal(theirs, encoded.reconstruction)
    if target.lossless:
        np.testing.assert_array_equal(theirs, raster)


@pytest.mark.parametrize("tool", sorted(DECODERS))
@pytest.mark.parametrize(
    ("shape", "bit_depth", "target"),
    [((1, 32, 32), 14, RateTarget(bpp=2.0)), ((10, 48, 48), 14, RateTarget(lossless=True))],
    ids=["fire-patch-2bpp", "10band-lossless"],
)
def test_a_rebuilt_codestream_is_standard(
    tool: str, shape: tuple[int, int, int], bit_depth: int, target: RateTarget, tmp_path: Path
) -> None:
    """Container v2 carries tile data only; what the ground rebuilds is the encoder's codestream
    byte for byte, and other decoders read it to the same pixels."""
    from shared.compression import compress_raster
    from shared.wire import unpack_container

    raster = _raster(shape, bit_depth, seed=7)
    spec = RasterSpec(*shape, raster.dtype.name, bit_depth, float(2**bit_depth - 1))
    scene = compress_raster(raster, codec="jpeg2000", target=target, bit_depth=bit_depth)
    container = unpack_container(scene.container)
    assert container.header.frame_elided
    assert container.payload == Jpeg2000Codec().encode(raster, spec, target).payload
    theirs = _external_decode(tool, container.payload, spec, tmp_path)
    np.testing.assert_array_equal(theirs, scene.reconstruction)
