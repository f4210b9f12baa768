"""What the dashboard keeps between requests, held by one app's context (never by a module).

Two ground apps in one process (the tests build many) share nothing: each has its own chart
cache and its own panel locks.
"""

from __future__ import annotations

import threading
import zlib
from dataclasses import dataclass, field
from typing import Any

PANEL_LOCKS = 64  # a fixed pool (bounded memory): a transfer's first view renders once


@dataclass
class DashboardState:
    """The chart cache (redrawn only when its transfers change), the panel locks and the
    render slots: at most ``render_slots`` first renders of transfer pages run at once (each
    loads a product and draws PNGs in this process); later views are cached files."""

    charts: dict[str, tuple[tuple[Any, ...], bytes]] = field(default_factory=dict)
    charts_lock: threading.Lock = field(default_factory=threading.Lock)
    panel_locks: tuple[threading.Lock, ...] = field(
        default_factory=lambda: tuple(threading.Lock() for _ in range(PANEL_LOCKS))
    )

    render_slots: int = 2
    renders: threading.BoundedSemaphore = field(init=False)

    def __post_init__(self) -> None:
        self.renders = threading.BoundedSemaphore(self.render_slots)

    def panel_lock(self, transfer_id: str) -> threading.Lock:
        """The lock that serialises the first rendering of one transfer's panels."""
        return self.panel_locks[zlib.crc32(transfer_id.encode()) % len(self.panel_locks)]

    def cached_chart(self, name: str, fingerprint: tuple[Any, ...]) -> bytes | None:
        """The chart's PNG when it was drawn from the same transfers, else None."""
        with self.charts_lock:
            cached = self.charts.get(name)
        return cached[1] if cached is not None and cached[0] == fingerprint else None

    def keep_chart(self, name: str, fingerprint: tuple[Any, ...], png: bytes) -> None:
        """Remember a drawn chart with the fingerprint of the transfers it shows."""
        with self.charts_lock:
            self.charts[name] = (fingerprint, png)
