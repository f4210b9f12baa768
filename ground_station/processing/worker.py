"""The decode worker: a separate process with a memory cap, so a crash or a bomb costs one
transfer, never the service.

The ground forks one per container from a preloaded server (see
:mod:`ground_station.processing.decode`); ``python -m ground_station.processing.worker
REQUEST_JSON`` runs the same request standalone.
The request names the container file, an output folder and the limits. The worker caps its
address space (``RLIMIT_AS``) before it decodes with
:func:`shared.compression.decompress_container`, and writes ``raster.npy``, ``truth.npy`` (when
the sidecar carried a mask) and ``result.json``. A domain error is written to ``result.json``
as ``{"error", "detail"}`` with exit code 3; anything else is a crash. The decoders' temporary
files (OpenJPEG works through files) go under the output folder, which the ground removes
after each transfer: a worker killed mid-decode (its time limit) leaves nothing in ``/tmp``.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

EXIT_DOMAIN_ERROR = 3
RESULT_NAME = "result.json"
RASTER_NAME = "raster.npy"
TRUTH_NAME = "truth.npy"
SCRATCH_NAME = "tmp"  # the decoders' temporary files, inside the output folder


def cap_memory(megabytes: int) -> None:
    """Limit this process's address space (decoders allocate what headers declare)."""
    limit = megabytes * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _decode(request: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    from shared.codecs.base import DecodeLimits
    from shared.compression import decompress_container

    out = Path(request["out_dir"])
    data = Path(request["container"]).read_bytes()
    limits = DecodeLimits(**request["limits"])
    checkpoints = None
    if request.get("checkpoint_dirs"):
        from shared.codecs.learned.checkpoint import CheckpointStore

        checkpoints = CheckpointStore([Path(d) for d in request["checkpoint_dirs"]])
    started = time.perf_counter()
    scene = decompress_container(data, limits=limits, checkpoints=checkpoints)
    decode_ms = (time.perf_counter() - started) * 1000.0
    np.save(out / RASTER_NAME, scene.raster, allow_pickle=False)
    if scene.truth_mask is not None:
        np.save(out / TRUTH_NAME, np.asarray(scene.truth_mask), allow_pickle=False)
    container = scene.container
    return {
        "header": container.header.to_dict(),
        "metadata": container.metadata,
        "payload_bytes": len(container.payload),
        "container_bytes": len(data),
        "sidecar_bytes": len(container.sidecar or b""),
        "rate_bytes": container.header.rate_bytes,  # what counts in bpp: all but the sidecar
        "digest_matches": scene.digest_matches,  # None: the container carries no check
        "has_truth": scene.truth_mask is not None,
        "decode_ms": decode_ms,
    }


def main(argv: list[str]) -> int:
    """Entry point; returns the process exit code."""
    return run_request(json.loads(argv[0]))


def run_request(request: dict[str, Any], cap: bool = True) -> int:
    """Cap memory (unless the caller did), decode the request's container and write its files;
    returns the exit code."""
    if cap:
        cap_memory(int(request["memory_mb"]))
    out = Path(request["out_dir"])
    from shared.errors import EODownlinkError

    scratch, previous = out / SCRATCH_NAME, tempfile.tempdir
    scratch.mkdir(exist_ok=True)
    tempfile.tempdir = str(scratch)  # this process decodes one request at a time
    try:
        result = _decode(request)
    except EODownlinkError as exc:
        error = {"error": type(exc).__name__, "detail": str(exc)}
        (out / RESULT_NAME).write_text(json.dumps(error))
        return EXIT_DOMAIN_ERROR
    except MemoryError:
        error = {"error": "MemoryError", "detail": "decode exceeded the worker's memory cap"}
        (out / RESULT_NAME).write_text(json.dumps(error))
        return EXIT_DOMAIN_ERROR
    finally:
        tempfile.tempdir = previous
    (out / RESULT_NAME).write_text(json.dumps(result, allow_nan=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
