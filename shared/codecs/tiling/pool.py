"""Tile work in parallel: a small pool of worker processes, each coding one tile at a time.

Processes, not threads: the learned coder runs under one process-wide lock with torch pinned to
one thread (``shared.codecs.learned.coding``), so threads would take turns. Each worker holds
one codec and one tile's activations at a time, which bounds memory per worker.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Any, TypeVar

from shared.codecs.base import Codec
from shared.codecs.registry import codec_info, open_codec
from shared.codecs.tiling.grid import StartMethod, TilingPolicy
from shared.errors import CodecError

_Job = TypeVar("_Job")
_Result = TypeVar("_Result")
_WORKER_CODEC: dict[str, Codec] = {}  # filled in each pool process by _start_worker


def map_tiles(
    task: Callable[[Codec, _Job], _Result],
    jobs: Sequence[_Job],
    codec: str,
    checkpoints: Any,
    policy: TilingPolicy,
) -> list[_Result]:
    """Run ``task`` on every job, in this process or in a pool of worker processes.

    A forked worker inherits ``checkpoints`` (and the weights it cached); a spawned one gets
    the store's search roots and opens its own. A daemonic process (e.g. a decode child of the
    ground's forkserver) may not have children, so it runs the jobs itself, one at a time.
    """
    if policy.workers <= 1 or len(jobs) <= 1 or multiprocessing.current_process().daemon:
        engine = open_codec(codec, checkpoints)
        return [task(engine, job) for job in jobs]
    method = start_method_for(policy.start_method)
    store: Any = checkpoints
    if method == "spawn" and checkpoints is not None:
        store = [str(root) for root in checkpoints.roots]
    try:
        with ProcessPoolExecutor(
            max_workers=min(policy.workers, len(jobs)),
            mp_context=multiprocessing.get_context(method),
            initializer=_start_worker,
            initargs=(codec, store),
        ) as pool:
            return list(pool.map(partial(_in_worker, task), jobs))
    except BrokenProcessPool as exc:
        raise CodecError(
            f"a {codec} tile worker process died: {exc} It crashed on a corrupt tile, hit a "
            "memory cap, or (spawned) could not import the calling script, which then needs "
            "an `if __name__ == '__main__':` guard; or use TilingPolicy(workers=1)"
        ) from exc


def start_method_for(asked: StartMethod) -> str:
    """The start method ``asked`` resolves to here: ``auto`` forks only a single-threaded caller."""
    if asked != "auto":
        return asked
    forkable = "fork" in multiprocessing.get_all_start_methods()
    return "fork" if forkable and threading.active_count() == 1 else "spawn"


def _start_worker(codec: str, store: Any) -> None:
    """Pool initializer: one torch thread (as the coder uses; fork-safe) and the codec."""
    if codec_info(codec).capabilities.weights:  # a torch model: one thread, as the coder
        import torch

        torch.set_num_threads(1)
    if isinstance(store, list):
        from shared.codecs.learned.checkpoint import CheckpointStore

        store = CheckpointStore([*store])
    _WORKER_CODEC["engine"] = open_codec(codec, store)


def _in_worker(task: Callable[[Codec, _Job], _Result], job: _Job) -> _Result:
    return task(_WORKER_CODEC["engine"], job)
