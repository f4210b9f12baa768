"""Upload rate limits per API token: two token buckets (uploads, bytes) refilled each minute.

A bucket holds a minute's allowance and refills continuously; an upload takes one upload and
its declared size (``Content-Length``) at once, or is refused with the seconds until it would
fit. The buckets live with the app (one :class:`UploadRates` per app), not in module globals.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from shared.errors import QuotaExceededError
from shared.protocol.tokens import ApiToken

MINUTE_S = 60.0


@dataclass
class _Bucket:
    capacity: float
    level: float
    at: float

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.at) * self.capacity / MINUTE_S)
        self.at = now

    def wait_s(self, amount: float) -> float:
        """Seconds until ``amount`` fits (0 when it does now)."""
        if amount > self.capacity:
            return float("inf")
        return max(0.0, (amount - self.level) * MINUTE_S / self.capacity)


class UploadRates:
    """Every token's upload buckets.

    Args:
        clock: seconds, monotonic (tests pass a controlled one).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, token: ApiToken, nbytes: int) -> None:
        """Charge one upload of ``nbytes`` to ``token``.

        Raises:
            QuotaExceededError: over the token's uploads or bytes per minute (nothing is
                charged); ``retry_after_s`` says when it would fit, None when it never can.
        """
        limits = {"uploads": (token.uploads_per_minute, 1.0)}
        limits["bytes"] = (token.upload_bytes_per_minute, float(nbytes))
        with self._lock:
            now = self.clock()
            charged = []
            for kind, (per_minute, amount) in limits.items():
                if per_minute is None:
                    continue
                bucket = self._bucket(token.name, kind, per_minute, now)
                wait = bucket.wait_s(amount)
                if wait > 0:
                    raise _over(token, kind, per_minute, wait)
                charged.append((bucket, amount))
            for bucket, amount in charged:
                bucket.level -= amount

    def _bucket(self, name: str, kind: str, per_minute: int, now: float) -> _Bucket:
        bucket = self._buckets.get((name, kind))
        if bucket is None or bucket.capacity != per_minute:
            bucket = self._buckets[(name, kind)] = _Bucket(float(per_minute), per_minute, now)
        bucket.refill(now)
        return bucket


def _over(token: ApiToken, kind: str, per_minute: int, wait_s: float) -> QuotaExceededError:
    if wait_s == float("inf"):
        return QuotaExceededError(
            f"this upload alone is more than token {token.name!r}'s {per_minute} {kind} per "
            "minute: split the scene, or ask the operator for a larger quota"
        )
    return QuotaExceededError(
        f"token {token.name!r} is over its {per_minute} {kind} per minute; retry in {wait_s:.0f} s",
        retry_after_s=wait_s,
    )
