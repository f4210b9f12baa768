"""Fuzzing, bounded for CI (guarantees 3 and 6): the container parser (hypothesis in process,
atheris in a subprocess) and each codec's decode path (atheris in a subprocess, so a segfault
is caught and reported with its input); a decode that overruns the worker's limits fails one
transfer, increments a counter and leaves the ground serving. Longer runs:
``tests/fuzz/README.md``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rel_support import REPO_ROOT, SignedClient, fire_container, ground_app, wait_for

from shared.errors import EODownlinkError
from shared.wire import read_header, unpack_container

FUZZ_DIR = REPO_ROOT / "tests/fuzz"
SEED_CONTAINER = fire_container(0)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut=st.integers(0, len(SEED_CONTAINER)),
    patch=st.binary(max_size=16),
    at=st.integers(0, len(SEED_CONTAINER)),
)
def test_parser_refuses_every_mutation_with_a_domain_error(cut: int, patch: bytes, at: int) -> None:
    blob = SEED_CONTAINER[:at] + patch + SEED_CONTAINER[at + len(patch) :]
    for candidate in (blob, blob[:cut], patch):
        try:
            header = read_header(candidate)
            container = unpack_container(candidate)
        except EODownlinkError:
            continue
        # whatever parses must be the seed itself (the checksum covers every byte)
        assert candidate == SEED_CONTAINER
        assert header.total_bytes == len(candidate)
        assert header.frame_elided or len(container.payload) == header.payload_bytes


def _atheris(harness: str, runs: int, codec: str | None, tmp_path: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    env["TMPDIR"] = str(tmp_path)  # libFuzzer exits without cleanup: its temp files go here
    if codec:
        env["EODL_FUZZ_CODEC"] = codec
    command = [sys.executable, str(FUZZ_DIR / harness), f"-runs={runs}", "-max_total_time=20"]
    command += ["-seed=1", f"-artifact_prefix={tmp_path}/"]
    # Through a shell that forks it: a process exec'd straight from this one starts with this
    # process's peak RSS as its own (Linux carries the forked copy's high-water mark into
    # ru_maxrss), and libFuzzer's -rss_limit_mb reads ru_maxrss; late in the suite pytest holds
    # over 2 GB, and a harness at 0.8 GiB "ran out of memory" at its first input.
    shell = ["/bin/sh", "-c", '"$@"; exit $?', "sh"]
    done = subprocess.run(
        shell + command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    output = done.stdout + done.stderr
    crashes = list(tmp_path.glob("crash-*")) + list(tmp_path.glob("timeout-*"))
    assert done.returncode == 0 and not crashes, (
        f"{harness} ({codec}) exited {done.returncode}; inputs {crashes}; tail:\n{output[-3000:]}"
    )
    return output


@pytest.mark.parametrize(
    ("harness", "codec", "runs"),
    [
        ("fuzz_container.py", None, 3000),
        ("fuzz_decode.py", "jpeg2000", 500),
        ("fuzz_decode.py", "learned", 300),
    ],
)
def test_atheris_bounded_run_finds_no_crash(
    harness: str, codec: str | None, runs: int, tmp_path: Path
) -> None:
    output = _atheris(harness, runs, codec, tmp_path)
    done = re.search(r"Done (\d+) runs in (\d+) second", output)
    assert done is not None, output[-2000:]
    print(
        f"\natheris {harness} {codec or ''}: {done.group(1)} runs in {done.group(2)} s, 0 crashes"
    )


def _slow_container() -> bytes:
    """A 512 x 512 cloud scene from the shipped learned codec: its entropy decoding takes a
    second or so even in a warm decode worker, far past a 0.05 s limit (a 32x32 JPEG 2000
    patch decodes within it once the worker is warm)."""
    from satellite_node.codec_choice import open_checkpoints
    from shared.codecs.base import RateTarget
    from shared.compression import compress_raster
    from workbench.datasets.generate import generate_scene

    scene = generate_scene("cloud", 5)
    raster = np.tile(scene.image, (1, 2, 2))
    compressed = compress_raster(
        raster, codec="cheng2020-gmm", target=RateTarget(quality=6), scale=16383.0,
        bit_depth=14, checkpoints=open_checkpoints(None).for_task("cloud"),
    )  # fmt: skip
    return bytes(compressed.container)


def test_a_decode_over_its_time_limit_fails_one_transfer_and_counts(tmp_path: Path) -> None:
    import hashlib
    import json

    from shared.protocol.chunks import HEADER_CHUNK_CRC32C, chunk_bounds, chunk_count, crc32c_hex

    app = ground_app(tmp_path / "ground", decode_timeout_s=0.05)
    with TestClient(app) as client:
        ground = SignedClient(client)
        data = _slow_container()
        headers = {"Content-Type": "application/json"}
        assert (
            ground.request(
                "POST", "/v1/transfers", ground.create_body("t-slow", data), **headers
            ).status_code
            == 201
        )
        for index in range(chunk_count(len(data), 1024)):
            start, stop = chunk_bounds(index, len(data), 1024)
            body = data[start:stop]
            ground.request(
                "PUT",
                f"/v1/transfers/t-slow/chunks/{index}",
                body,
                **{HEADER_CHUNK_CRC32C: crc32c_hex(body)},
            )
        commit = json.dumps({"sha256": hashlib.sha256(data).hexdigest()}).encode()
        assert (
            ground.request("POST", "/v1/transfers/t-slow/commit", commit, **headers).status_code
            == 200
        )
        view = wait_for(
            lambda: (
                (v := client.get("/v1/transfers/t-slow").json())["state"] in ("processed", "failed")
                and v
            ),
            60,
            "the over-long decode to fail",
        )
        metrics = client.get("/metrics").text
        assert client.get("/healthz").status_code == 200  # the service is still up
    counted = [
        line
        for line in metrics.splitlines()
        if line.startswith("eodl_ground_worker_failures_total")
    ]
    print(f"\nworker limit: state {view['state']}, reason {view.get('reason')!r}; {counted}")
    assert view["state"] == "failed" and view.get("reason")
    # a time-limit failure, not a crash counted as one: the reason and the counter say so
    assert "ran past the 0.05 s limit" in view["reason"], view
    timeouts = [line for line in counted if 'kind="timeout"' in line]
    assert timeouts and not timeouts[0].endswith(" 0.0"), counted
    crashes = [line for line in counted if 'kind="crash"' in line]
    assert all(line.endswith(" 0.0") for line in crashes), counted
