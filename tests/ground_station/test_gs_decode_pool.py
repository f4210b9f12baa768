"""The pool of long-lived decode workers: one process decodes container after container, the
same bytes as an in-process decode; a worker is replaced after a crash, a timeout, a refused
container and after its quota of decodes, and the next decode does not notice."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from gs_support import decode_limits, make_scene

from ground_station.processing.decode import WorkerFailure
from ground_station.processing.pool import DecodePool
from shared.compression import decompress_container


@pytest.fixture
def container(tmp_path: Path) -> Path:
    path = tmp_path / "scene.eodl"
    path.write_bytes(make_scene("cloud", side=64, seed=3).data)
    return path


def test_one_worker_decodes_one_container_after_another(container: Path, tmp_path: Path) -> None:
    expected = decompress_container(container.read_bytes()).raster
    pool = DecodePool(decode_limits())
    try:
        pids = set()
        for attempt in range(3):
            outcome = pool.decode(container, tmp_path / f"out-{attempt}")
            assert np.array_equal(outcome.raster, expected)
            assert outcome.result["digest_matches"] is True
            pids.update(pool.pids())
        assert pool.started == 1 and len(pids) == 1
    finally:
        pool.close()


def test_a_worker_is_recycled_after_its_quota(container: Path, tmp_path: Path) -> None:
    pool = DecodePool(decode_limits(), recycle_after=2)
    try:
        for attempt in range(5):
            pool.decode(container, tmp_path / f"out-{attempt}")
        assert pool.started == 3  # decodes 1-2, 3-4, 5
    finally:
        pool.close()


def test_a_killed_worker_costs_one_decode_and_is_replaced(container: Path, tmp_path: Path) -> None:
    pool = DecodePool(decode_limits())
    try:
        pool.decode(container, tmp_path / "first")
        (pid,) = pool.pids()
        os.kill(pid, signal.SIGKILL)  # dies between decodes: found dead and replaced
        time.sleep(0.5)
        assert pool.decode(container, tmp_path / "second").result["digest_matches"] is True
        assert pool.started == 2 and pool.pids() != [pid]
    finally:
        pool.close()


def test_timeout_and_refusal_replace_the_worker(container: Path, tmp_path: Path) -> None:
    slow = DecodePool(decode_limits(timeout_s=0.001))
    with pytest.raises(WorkerFailure) as failed:
        slow.decode(container, tmp_path / "slow")
    assert failed.value.kind == "timeout" and "GS_DECODE_TIMEOUT_S" in failed.value.reason
    assert slow.pids() == []  # killed, not given back
    pool = DecodePool(decode_limits())
    try:
        garbage = tmp_path / "garbage.eodl"
        garbage.write_bytes(b"EODL" + bytes(200))
        with pytest.raises(WorkerFailure) as refused:
            pool.decode(garbage, tmp_path / "garbage")
        assert refused.value.kind == "error"
        assert pool.pids() == []  # a refusal starts afresh
        assert pool.decode(container, tmp_path / "after").result["digest_matches"] is True
    finally:
        pool.close()
