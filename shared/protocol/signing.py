"""HMAC-SHA256 request signing for the downlink (replay-protected, clock-skew bounded).

The signature covers a canonical string of the method, the path with its query, the timestamp,
a nonce and the SHA-256 of the body, so neither the body nor the target can be changed, and a
captured request cannot be replayed (the nonce) or stored for later (the timestamp).
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import re
import secrets
import threading
import time
from collections.abc import Mapping
from typing import Protocol

from shared.errors import AuthenticationError, ConfigurationError, IntegrityError

HEADER_KEY_ID = "X-EODL-Key-Id"
HEADER_TIMESTAMP = "X-EODL-Timestamp"
HEADER_NONCE = "X-EODL-Nonce"
HEADER_BODY_SHA256 = "X-EODL-Content-SHA256"
HEADER_SIGNATURE = "X-EODL-Signature"
SIGNED_HEADERS = (
    HEADER_KEY_ID,
    HEADER_TIMESTAMP,
    HEADER_NONCE,
    HEADER_BODY_SHA256,
    HEADER_SIGNATURE,
)

SCHEME = "EODL1-HMAC-SHA256"
DEFAULT_MAX_SKEW_S = 300.0
_NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{8,128}$")
_KEY_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


MIN_KEY_BYTES = 16
#: Keys printed in the repository's examples and docs: known to everyone, so never accepted.
PUBLISHED_KEYS = frozenset({"change-me-to-a-long-random-key"})
PLACEHOLDER_PREFIX = "change-me"


def link_key(secret: str | None, variable: str, peer: str) -> bytes:
    """The shared HMAC key from a setting, refused when it protects nothing.

    Args:
        secret: the setting's value.
        variable: the setting's name (``SAT_LINK_KEY``).
        peer: the other side's setting, named in the message.

    Raises:
        ConfigurationError: unset, shorter than :data:`MIN_KEY_BYTES`, or a published example
            or placeholder key.
    """
    hint = 'generate one: python -c "import secrets; print(secrets.token_urlsafe(32))"'
    if not secret:
        raise ConfigurationError(
            f"no link key: set {variable} to the key shared with the other side (the same "
            f"value as {peer}), at least {MIN_KEY_BYTES} characters; {hint}"
        )
    if secret in PUBLISHED_KEYS or secret.lower().startswith(PLACEHOLDER_PREFIX):
        raise ConfigurationError(
            f"{variable} is the example key from the documentation, which anyone can read; "
            f"set a secret one ({hint}) on both sides"
        )
    key = secret.encode()
    if len(key) < MIN_KEY_BYTES:
        raise ConfigurationError(
            f"{variable} is {len(key)} bytes; use at least {MIN_KEY_BYTES} ({hint})"
        )
    return key


def canonical_request(
    method: str, path: str, timestamp: str, nonce: str, body_sha256: str
) -> bytes:
    """The exact bytes that are signed: one field per line, method upper-cased."""
    return "\n".join([SCHEME, method.upper(), path, timestamp, nonce, body_sha256]).encode()


def _signature(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign_request(
    key: bytes,
    key_id: str,
    method: str,
    path: str,
    body: bytes,
    *,
    now: float | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Headers that authenticate one request.

    Args:
        key: the shared link key (at least 16 bytes).
        key_id: which key signed, sent in clear so the receiver can pick it.
        method: HTTP method.
        path: request path including its query string (``/v1/transfers?x=1``), as sent.
        body: the exact body bytes (``b""`` for none).
        now: Unix time to stamp (default: the clock).
        nonce: a fresh random token (default: 128 random bits).

    Returns:
        The five ``X-EODL-*`` headers to add to the request.

    Raises:
        ConfigurationError: the key is too short or the key id malformed.
    """
    if len(key) < 16:
        raise ConfigurationError("the link key must be at least 16 bytes; generate a longer one")
    if not _KEY_ID_RE.fullmatch(key_id):
        raise ConfigurationError(f"key id {key_id!r} must be 1-64 of [A-Za-z0-9._-]")
    timestamp = f"{(time.time() if now is None else now):.3f}"
    nonce = secrets.token_urlsafe(16) if nonce is None else nonce
    if not _NONCE_RE.fullmatch(nonce):
        raise ConfigurationError("a nonce must be 8-128 characters of [A-Za-z0-9_-]")
    body_sha256 = hashlib.sha256(body).hexdigest()
    message = canonical_request(method, path, timestamp, nonce, body_sha256)
    return {
        HEADER_KEY_ID: key_id,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_BODY_SHA256: body_sha256,
        HEADER_SIGNATURE: _signature(key, message),
    }


class NonceStore(Protocol):
    """Where accepted nonces are remembered: :class:`NonceCache` in memory, or a database
    shared by every receiver and surviving restarts (the ground's ``DbNonceStore``)."""

    def check_and_add(self, nonce: str, timestamp: float, *, now: float | None = None) -> bool:
        """Record ``nonce``; True when fresh, False when seen before (a replay)."""
        ...


class NonceCache:
    """Bounded, time-expiring memory of the nonces already accepted (replay protection).

    Entries expire once a request with their timestamp would be stale anyway. When the cache is
    full, the entry with the oldest timestamp is evicted and the *floor* rises to that timestamp:
    any request stamped at or before the floor is refused, so eviction never opens a replay
    window (it only shortens the acceptable skew under load). Thread-safe; in memory only.
    """

    def __init__(self, capacity: int = 100_000, ttl_s: float = 2 * DEFAULT_MAX_SKEW_S) -> None:
        if capacity < 1 or ttl_s <= 0:
            raise ConfigurationError("NonceCache needs capacity >= 1 and ttl_s > 0")
        self.capacity = capacity
        self.ttl_s = ttl_s
        self.floor = float("-inf")
        self._heap: list[tuple[float, str]] = []  # (request timestamp, nonce key)
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def __bool__(self) -> bool:  # an empty cache is still a cache (``nonces or NonceCache()``)
        return True

    def _pop_oldest(self) -> float:
        stamp, key = heapq.heappop(self._heap)
        self._seen.discard(key)
        return stamp

    def check_and_add(self, nonce: str, timestamp: float, *, now: float | None = None) -> bool:
        """Record ``nonce``; True when fresh, False when seen before or stamped below the floor."""
        now = time.time() if now is None else now
        with self._lock:
            while self._heap and self._heap[0][0] + self.ttl_s <= now:
                self._pop_oldest()
            if nonce in self._seen or timestamp <= self.floor:
                return False
            while len(self._seen) >= self.capacity:
                self.floor = max(self.floor, self._pop_oldest())
            if timestamp <= self.floor:
                return False
            heapq.heappush(self._heap, (timestamp, nonce))
            self._seen.add(nonce)
            return True


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _require(headers: dict[str, str], name: str) -> str:
    value = headers.get(name.lower())
    if not value:
        raise AuthenticationError(
            f"request is not signed: header {name} is missing; sign it with sign_request()"
        )
    return value


def verify_request(
    keys: Mapping[str, bytes],
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    nonces: NonceStore,
    *,
    now: float | None = None,
    max_skew_s: float = DEFAULT_MAX_SKEW_S,
) -> str:
    """Check a request's signature, freshness and uniqueness.

    Args:
        keys: key id -> shared key of every satellite allowed in.
        method: the request method as received.
        path: the request path as received, with its query.
        body: the request body as received.
        headers: the request headers (names case-insensitive).
        nonces: the receiver's replay memory; the nonce is recorded only once all else holds.
        now: Unix time of reception (default: the clock).
        max_skew_s: the largest accepted difference between the stamp and ``now``.

    Returns:
        The id of the key that signed.

    Raises:
        AuthenticationError: unsigned, unknown key, signature mismatch, stale or replayed.
        IntegrityError: the headers are authentic but the body differs from their digest.
    """
    h = _lower(headers)
    key_id = _require(h, HEADER_KEY_ID)
    stamp_text = _require(h, HEADER_TIMESTAMP)
    nonce = _require(h, HEADER_NONCE)
    claimed_sha = _require(h, HEADER_BODY_SHA256)
    signature = _require(h, HEADER_SIGNATURE)
    key = keys.get(key_id)
    if key is None:
        raise AuthenticationError(
            f"unknown key id {key_id!r}: configure this satellite's key on the ground"
        )
    expected = _signature(key, canonical_request(method, path, stamp_text, nonce, claimed_sha))
    if not hmac.compare_digest(expected, signature.lower()):
        raise AuthenticationError(
            "bad signature: the request was altered or signed with another key"
        )
    try:
        stamp = float(stamp_text)
    except ValueError:
        raise AuthenticationError(f"timestamp {stamp_text!r} is not Unix seconds") from None
    now = time.time() if now is None else now
    if not abs(now - stamp) <= max_skew_s:
        raise AuthenticationError(
            f"stale request: stamped {now - stamp:.0f} s from the ground's clock (limit "
            f"{max_skew_s:.0f} s); check the satellite's clock and resend"
        )
    # The headers are authentic from here on: a body that differs from the digest they
    # sign was damaged in transit (TCP misses some corruption). That is an integrity
    # fault the sender fixes by resending, not an authentication failure.
    if not hmac.compare_digest(claimed_sha, hashlib.sha256(body).hexdigest()):
        raise IntegrityError(
            "body does not match its signed SHA-256: damaged in transit; resend it"
        )
    if not nonces.check_and_add(f"{key_id}:{nonce}", stamp, now=now):
        raise AuthenticationError("replayed request: this nonce was already used; sign afresh")
    return key_id
