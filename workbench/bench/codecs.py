"""``eodl bench codecs``: encode and decode throughput per codec and sensor profile.

Each (codec, profile) case runs in its own Python process (``python -m workbench.bench.codecs
CASE_JSON``) so that its peak resident memory (``ru_maxrss``, torch's import included) is its
own. By default learned codecs are timed with untrained weights at a small width made by
``init_checkpoint`` in a temporary folder (coding cost depends on the shapes, not on
training); ``shipped`` times the trained checkpoints shipped for each profile's task instead
(the onboard figure: issue 17's goal is read there), skipping learned codecs that ship none for
it. Learned coding pins one torch thread (bit-exact decoding); ``threads`` applies to the
references and to OpenJPEG.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shared.codecs.base import RasterSpec, RateTarget, to_unit
from shared.codecs.registry import all_codecs, codec_info, get_codec
from shared.errors import CodecError, ConfigurationError
from shared.sensors.profiles import PROFILES, get_profile
from workbench.bench import references
from workbench.datasets.generate import generate_scene

QUALITY = 3
CASE_TIMEOUT_S = 900
UNTRAINED_NOTE = (
    "learned codecs use UNTRAINED weights at width N={n}; timings depend on shapes, not "
    "training (--shipped times the trained checkpoints shipped per task)"
)


@dataclass(frozen=True)
class BenchCase:
    """One measurement: a codec on one generated scene of a profile."""

    codec: str
    profile: str
    threads: int = 1
    repeats: int = 3
    width: int = 16
    seed: int = 0
    shipped: bool = False


def default_cases(
    quick: bool,
    threads: int,
    width: int,
    codecs: list[str] | None = None,
    profiles: list[str] | None = None,
    shipped: bool = False,
) -> list[BenchCase]:
    """The cases of a run: every codec x profile, or a two-case smoke run with ``quick``;
    with ``shipped``, learned codecs only where a trained checkpoint ships for the task."""
    names = codecs or (["jpeg2000", "cheng2020-gmm"] if quick else [c.name for c in all_codecs()])
    tasks = profiles or (["fire"] if quick else list(PROFILES))
    for name in names:
        if name not in {c.name for c in all_codecs()}:
            raise ConfigurationError(f"unknown codec {name!r}; see `eodl codecs`")
    for task in tasks:
        get_profile(task)
    repeats = 1 if quick else 3
    return [
        BenchCase(n, t, threads, repeats, width, shipped=shipped)
        for n in names
        for t in tasks
        if not shipped or shipped_widths(n, t) is not None or codec_info(n).kind == "classical"
    ]


def shipped_widths(codec: str, task: str) -> tuple[int, int] | None:
    """(N, M) of the trained checkpoint a learned codec ships for the task, or None."""
    from shared.codecs.learned.checkpoint import CheckpointStore

    if codec_info(codec).kind != "learned":
        return None
    found = [
        c
        for c in CheckpointStore().for_task(task).candidates(codec, get_profile(task).bands)
        if c.manifest.trained and c.manifest.task in (task, None)
    ]
    return (found[0].manifest.N, found[0].manifest.M) if found else None


def run_cases(cases: list[BenchCase]) -> list[dict[str, Any]]:
    """Run each case in a fresh process and return its result rows (see :func:`measure`)."""
    rows = []
    for case in cases:
        command = [sys.executable, "-m", "workbench.bench.codecs", json.dumps(asdict(case))]
        try:
            done = subprocess.run(
                command, check=True, capture_output=True, text=True, timeout=CASE_TIMEOUT_S
            )
        except subprocess.CalledProcessError as exc:
            tail = exc.stderr.strip().splitlines()[-1:] or ["no output"]
            raise CodecError(
                f"benchmark of {case.codec} on {case.profile} failed: {tail[0]}"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise CodecError(
                f"benchmark of {case.codec} on {case.profile} ran past {CASE_TIMEOUT_S} s; "
                "use --quick or fewer codecs"
            ) from exc
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return rows


def measure(case: BenchCase) -> dict[str, Any]:
    """Time one case in this process; the row of ``eodl bench codecs --json``."""
    profile = get_profile(case.profile)
    raster = generate_scene(case.profile, case.seed).image
    spec = RasterSpec(
        profile.bands, *raster.shape[1:], profile.dtype, profile.bit_depth, profile.global_max
    )
    with tempfile.TemporaryDirectory(prefix="eodl-bench-") as folder:
        codec, target = _codec(case, profile.bands, Path(folder))
        encode_s, decode_s, exact = _time_codec(codec, raster, spec, target, case.repeats)
        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        timed = _references(case, raster, spec)
    megapixels = spec.height * spec.width / 1e6
    row: dict[str, Any] = {
        "codec": case.codec,
        "profile": case.profile,
        "shape": list(raster.shape),
        "device": "cpu",
        "threads": case.threads,
        "encode_mpix_s": megapixels / encode_s,
        "decode_mpix_s": megapixels / decode_s,
        "encode_msamples_s": megapixels * spec.bands / encode_s,
        "decode_msamples_s": megapixels * spec.bands / decode_s,
        "peak_rss_mb": peak_rss_mb,
        "exact": exact,
        "untrained": codec.kind == "learned" and not case.shipped,
        "widths": _widths(case),
        "reference": None,
    }
    row["references"] = [_reference_row(r, megapixels, encode_s, decode_s) for r in timed]
    row["reference"] = row["references"][0] if timed else None
    return row


def _widths(case: BenchCase) -> list[int] | None:
    """[N, M] of the learned model timed; None for a classical codec."""
    if codec_info(case.codec).kind == "classical":
        return None
    if case.shipped:
        return list(shipped_widths(case.codec, case.profile) or ())
    return [case.width, case.width]


def _codec(case: BenchCase, bands: int, folder: Path) -> tuple[Any, RateTarget]:
    if codec_info(case.codec).kind == "classical":  # jpeg2000 takes threads, jpeg-xl ignores it
        return get_codec(case.codec, threads=case.threads), RateTarget(lossless=True)
    import torch

    from shared.codecs.learned.checkpoint import CheckpointStore, init_checkpoint

    torch.set_num_threads(case.threads)  # learned coding itself pins one thread
    if case.shipped:
        store = CheckpointStore().for_task(case.profile)
        return get_codec(case.codec, checkpoints=store), RateTarget(quality=QUALITY)
    init_checkpoint(case.codec, bands, QUALITY, folder / case.codec, seed=0, N=case.width)
    return get_codec(case.codec, checkpoints=CheckpointStore([folder])), RateTarget(quality=QUALITY)


def _time_codec(
    codec: Any, raster: np.ndarray, spec: RasterSpec, target: RateTarget, repeats: int
) -> tuple[float, float, bool]:
    """Median encode and decode seconds; exact: every decode equals the encoder's reconstruction."""
    result = codec.encode(raster, spec, target)  # warm-up: loads weights, first-call costs
    encode_s, decode_s, exact = [], [], True
    for _ in range(repeats):
        start = time.perf_counter()
        result = codec.encode(raster, spec, target)
        encode_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        decoded = codec.decode(result.payload, spec, result.model)
        decode_s.append(time.perf_counter() - start)
        exact = exact and bool(np.array_equal(decoded, result.reconstruction))
    return _median(encode_s), _median(decode_s), exact


def _references(
    case: BenchCase, raster: np.ndarray, spec: RasterSpec
) -> list[references.ReferenceTiming]:
    """OpenJPEG and Grok (those installed) for jpeg2000; CompressAI's stock model for learned
    codecs; none for the other classical ones (jpeg-xl calls libjxl itself, the spectral one
    is OpenJPEG behind a transform)."""
    if case.codec != "jpeg2000" and codec_info(case.codec).kind == "classical":
        return []
    if case.codec == "jpeg2000":
        from shared.codecs.j2k_openjpeg import max_resolutions
        from shared.codecs.jpeg2000 import quantise

        levels = max_resolutions(spec.height, spec.width, 6)
        samples = quantise(raster, spec)
        return [
            references.jpeg2000_tool_reference(
                name, samples, spec.bit_depth, levels, case.threads, case.repeats
            )
            for name in references.TOOLS
            if references.tool_available(name)
        ]
    import torch

    from shared.codecs.learned.codec import BLOCK, _pad

    x = torch.from_numpy(_pad(to_unit(raster, spec), BLOCK)).unsqueeze(0)
    width = (_widths(case) or [case.width])[0]  # CompressAI's model at the timed N
    return [
        references.compressai_reference(case.codec, spec.bands, QUALITY, width, x, case.repeats)
    ]


def _reference_row(
    reference: references.ReferenceTiming, megapixels: float, encode_s: float, decode_s: float
) -> dict[str, Any]:
    return {
        "name": reference.name,
        "encode_mpix_s": megapixels / reference.encode_s,
        "decode_mpix_s": megapixels / reference.decode_s,
        "encode_ratio": reference.encode_s / encode_s,  # > 1: ours is faster
        "decode_ratio": reference.decode_s / decode_s,
        "exact": reference.exact,
    }


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def main(argv: list[str]) -> None:
    """Worker entry: measure the case given as JSON and print its row as one JSON line."""
    row = measure(BenchCase(**json.loads(argv[0])))
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
