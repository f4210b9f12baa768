"""A request the sender does not wait for: a transfer opened ahead, or one being committed.

On a distant link each request is a round trip (600 ms through a relay in geostationary
orbit); made on the sender's own thread, each would leave the link idle for that long.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from satellite_node.link.emulator import LinkInterruptedError

ResultT = TypeVar("ResultT")
_TICK_S = 0.05


class Pending(Generic[ResultT]):
    """``work()`` running on a daemon thread of its own; its result or its error once done."""

    def __init__(self, name: str, work: Callable[[], ResultT]) -> None:
        self._work = work
        self._done = threading.Event()
        self._result: ResultT | None = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, name=name, daemon=True).start()

    @property
    def done(self) -> bool:
        """True once ``work()`` returned or raised."""
        return self._done.is_set()

    def wait(self, stop: threading.Event) -> ResultT:
        """The result of ``work()``, once it is there.

        Raises:
            LinkInterruptedError: ``stop`` was set first (``stopped=True``).
            BaseException: what ``work()`` raised.
        """
        while not self._done.wait(_TICK_S):
            if stop.is_set():
                raise LinkInterruptedError("the sender is stopping", stopped=True)
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]  # set when no error was

    def _run(self) -> None:
        try:
            self._result = self._work()
        except BaseException as exc:  # handed to whoever waits
            self._error = exc
        finally:
            self._done.set()
