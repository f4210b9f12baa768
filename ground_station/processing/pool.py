"""A pool of long-lived, memory-capped decode workers.

Each worker is a process forked from the preloaded forkserver of
:mod:`ground_station.processing.decode` (torch and CompressAI imported once). It caps its own
address space, pins one thread and hides CUDA once, then decodes requests one after another,
so a container costs a decode, not a fork. A worker is replaced after a crash, after a
timeout (it is killed) and after ``recycle_after`` decodes, which bounds what a long-lived
process can accumulate (heap fragmentation under ``RLIMIT_AS``, a leaked model).

The pool is as wide as the processing threads that use it; each call takes a free worker, or
starts one. ``run_decode_worker`` (one fresh child per container) stays for one-off decodes.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from ground_station.processing.decode import (
    STDERR_NAME,
    DecodeOutcome,
    WorkerFailure,
    WorkerLimits,
    collect_outcome,
    decode_request,
    forkserver,
    isolate_child,
    timeout_failure,
)
from ground_station.processing.worker import cap_memory, run_request

log = logging.getLogger(__name__)
DEFAULT_RECYCLE_AFTER = 200


def _serve(connection: Connection, memory_mb: int) -> None:
    """The worker's loop: one request in, one exit code out, until the pipe closes."""
    isolate_child()
    cap_memory(memory_mb)
    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError):  # the pool (or the process that held it) is gone
            return
        log_fd = os.open(
            Path(request["out_dir"]) / STDERR_NAME, os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        )
        os.dup2(log_fd, 2)
        os.close(log_fd)
        connection.send(run_request(request, cap=False))


@dataclass
class _Worker:
    process: BaseProcess
    connection: Connection
    jobs: int = 0

    def stop(self, kill: bool = False) -> None:
        if kill and self.process.is_alive():
            self.process.kill()
        self.connection.close()
        self.process.join(5.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.process.close()


@dataclass
class DecodePool:
    """Long-lived decode workers under ``limits``; thread-safe."""

    limits: WorkerLimits
    recycle_after: int = DEFAULT_RECYCLE_AFTER
    _idle: list[_Worker] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    started: int = 0  # workers started so far (a figure for tests and benchmarks)

    def decode(self, container: Path, out_dir: Path) -> DecodeOutcome:
        """Decode ``container`` in a pooled worker; files go to ``out_dir``.

        Raises:
            WorkerFailure: the worker refused the container (``error``), died (``crash``, it is
                replaced) or ran past the time limit (``timeout``, it is killed and replaced).
        """
        out_dir.mkdir(parents=True, exist_ok=True)
        worker = self._take()
        try:
            worker.connection.send(decode_request(container, out_dir, self.limits))
            if not worker.connection.poll(self.limits.timeout_s):
                worker.stop(kill=True)
                raise timeout_failure(self.limits)
            code = worker.connection.recv()
        except (EOFError, OSError, BrokenPipeError):
            worker.process.join(1.0)
            exit_code = worker.process.exitcode
            worker.stop(kill=True)
            return collect_outcome(out_dir, exit_code if exit_code else -signal.SIGKILL)
        except WorkerFailure:
            raise
        except BaseException:  # interrupted while waiting: the worker's state is unknown
            worker.stop(kill=True)
            raise
        worker.jobs += 1
        if code == 0:
            self._give_back(worker)
        else:  # a refused container may have left the worker anywhere: start afresh
            worker.stop()
        return collect_outcome(out_dir, code)

    def warm(self) -> None:
        """Start one worker now (the forkserver's imports included), so the first decode
        does not pay for them."""
        self._give_back(self._take())

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.process.is_alive() and not worker.connection.poll(0):
                    return worker  # an idle worker has nothing to say unless it died (EOF)
                worker.stop()
            self.started += 1
        receiver, sender = forkserver().Pipe(duplex=True)
        process = forkserver().Process(
            target=_serve, args=(sender, self.limits.memory_mb), daemon=True
        )
        process.start()
        sender.close()
        return _Worker(process, receiver)

    def _give_back(self, worker: _Worker) -> None:
        if worker.jobs >= self.recycle_after:
            log.debug("recycling a decode worker after %d decodes", worker.jobs)
            worker.stop()
            return
        with self._lock:
            self._idle.append(worker)

    def close(self) -> None:
        """Stop the idle workers (a busy one stops when its decode returns and is dropped)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()

    def pids(self) -> list[int]:
        """The idle workers' process ids (for tests)."""
        with self._lock:
            return [w.process.pid for w in self._idle if w.process.pid is not None]
