"""Progress bars for training: tqdm with the running loss, bpp, PSNR and F1, on rank 0 only."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Progress(Generic[T]):
    """A tqdm bar over one epoch's batches that shows named running figures.

    The bar writes to stderr so that ``--json`` output on stdout stays one clean object.
    """

    def __init__(
        self, items: Iterable[T], desc: str, enabled: bool, total: int | None = None
    ) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(
            items,
            desc=desc,
            total=total,
            disable=not enabled,
            file=sys.stderr,
            leave=False,
            dynamic_ncols=True,
        )

    def __iter__(self) -> Iterator[T]:
        return iter(self._bar)

    def show(self, **figures: float) -> None:
        """Update the bar's postfix, e.g. ``show(loss=0.1, bpp=0.4, psnr_db=38.2)``."""
        self._bar.set_postfix({k: f"{v:.4g}" for k, v in figures.items()}, refresh=False)

    def close(self) -> None:
        self._bar.close()


def log_line(enabled: bool, message: str) -> None:
    """One line of epoch summary on stderr (rank 0 only)."""
    if enabled:
        print(message, file=sys.stderr, flush=True)
