"""Reference implementations timed beside ours on the same pixels.

- Learned codecs: CompressAI's stock model of the same architecture and widths, with its first
  and last layers adapted to the band count exactly as ours (``build_model`` does that for the
  stock architectures; cheng2020-gmm's stock counterpart is ``Cheng2020Attention``, the single
  Gaussian model whose ``compress``/``decompress`` run CompressAI's sequential context loop).
- JPEG 2000: OpenJPEG's ``opj_compress``/``opj_decompress`` and Grok's ``grk_compress``/
  ``grk_decompress`` command-line tools, lossless, on the same integer samples as raw files.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shared.errors import CodecError

#: The CompressAI architecture timed beside each of ours.
STOCK_ARCHITECTURE = {"cheng2020-gmm": "cheng2020-attn"}
TOOLS = {"openjpeg": ("opj_compress", "opj_decompress"), "grok": ("grk_compress", "grk_decompress")}
TOOL_TIMEOUT_S = 300


@dataclass(frozen=True)
class ReferenceTiming:
    """Median seconds of one reference, and whether it gave back what it was given.

    Attributes:
        name: e.g. ``compressai:cheng2020-attn`` or ``openjpeg``.
        encode_s, decode_s: median wall seconds.
        exact: lossless references: decoded samples equal the input; CompressAI: decoding
            twice gave the same pixels.
    """

    name: str
    encode_s: float
    decode_s: float
    exact: bool


def compressai_reference(
    architecture: str, bands: int, quality: int, n: int, x: Any, repeats: int
) -> ReferenceTiming:
    """Time CompressAI's own compress/decompress of the stock model on padded pixels.

    Shape:
        x: (1, bands, H, W) float32 torch tensor in [0, 1], H and W multiples of 64.
    """
    import torch

    from shared.codecs.learned.architectures import build_model

    stock = STOCK_ARCHITECTURE.get(architecture, architecture)
    torch.manual_seed(0)
    model = build_model(stock, bands, quality, N=n).eval()
    model.update(force=True)
    encode_s, decode_s, outputs = [], [], []
    with torch.no_grad():
        for _ in range(repeats):
            start = time.perf_counter()
            out = model.compress(x)
            encode_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            x_hat = model.decompress(out["strings"], out["shape"])["x_hat"]
            decode_s.append(time.perf_counter() - start)
            outputs.append(x_hat)
    exact = all(torch.equal(outputs[0], o) for o in outputs)
    return ReferenceTiming(f"compressai:{stock}", _median(encode_s), _median(decode_s), exact)


def tool_available(name: str) -> bool:
    """Whether both command-line tools of a JPEG 2000 reference are on PATH."""
    return all(shutil.which(tool) for tool in TOOLS[name])


def jpeg2000_tool_reference(
    name: str, samples: np.ndarray, bit_depth: int, resolutions: int, threads: int, repeats: int
) -> ReferenceTiming:
    """Time a JPEG 2000 command-line codec, lossless, on raw little-endian samples.

    Shape:
        samples: (C, H, W) uint8 or uint16 integer samples, as our codec puts in the codestream.

    Raises:
        CodecError: the tool is missing or failed.
    """
    if not tool_available(name):
        raise CodecError(f"{name} tools {TOOLS[name]} are not installed; apt-get install them")
    compress, decompress = TOOLS[name]
    bands, height, width = samples.shape
    dtype = "<u2" if bit_depth > 8 else "u1"
    thread_flag = ["-threads", str(threads)] if name == "openjpeg" else ["-H", str(threads)]
    with tempfile.TemporaryDirectory(prefix="eodl-bench-") as folder:
        raw, j2k, back = (Path(folder) / f for f in ("in.rawl", "out.j2k", "back.rawl"))
        raw.write_bytes(np.ascontiguousarray(samples, dtype=dtype).tobytes())
        layout = f"{width},{height},{bands},{bit_depth},u"
        encode_cmd = [
            compress,
            "-i",
            str(raw),
            "-o",
            str(j2k),
            "-F",
            layout,
            "-n",
            str(resolutions),
            *thread_flag,
        ]
        decode_cmd = [decompress, "-i", str(j2k), "-o", str(back), *thread_flag]
        encode_s = [_run_tool(encode_cmd) for _ in range(repeats)]
        decode_s = [_run_tool(decode_cmd) for _ in range(repeats)]
        decoded = np.frombuffer(back.read_bytes(), dtype=dtype)
    exact = decoded.size == samples.size and bool(np.array_equal(decoded, samples.ravel()))
    return ReferenceTiming(name, _median(encode_s), _median(decode_s), exact)


def _run_tool(command: list[str]) -> float:
    start = time.perf_counter()
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=TOOL_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as exc:
        raise CodecError(f"{command[0]} failed: {exc}; check the tool's installation") from exc
    return time.perf_counter() - start


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]
