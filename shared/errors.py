"""The project's one error tree.

Every domain error subclasses :class:`EODownlinkError` and, where natural, a builtin, so callers
may catch either. Messages say what was wrong and how to fix it. Adapters (glymur, CompressAI,
httpx, torch) translate foreign exceptions into these at their boundary.
"""

from __future__ import annotations


class EODownlinkError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigurationError(EODownlinkError, ValueError):
    """A setting, option or argument is invalid."""


class UndefinedDeltaError(ConfigurationError):
    """A Bjontegaard delta means nothing for these curves (too few or non-monotone points, or
    too little overlap); reports print "n/a" with this reason instead of a number."""


class UnknownNameError(ConfigurationError, KeyError):
    """A registry lookup failed; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InvalidRasterError(EODownlinkError, ValueError):
    """A raster does not fit what was asked of it (shape, dtype, NaNs, band count, size)."""


class CodecError(EODownlinkError, RuntimeError):
    """A codec failed to encode or decode."""


class RateTargetError(ConfigurationError):
    """A rate target (bpp, quality, lossless) is missing, contradictory or out of range."""


class CheckpointError(EODownlinkError, FileNotFoundError):
    """A checkpoint is missing, unreadable, or does not match its manifest."""


class WeightsMismatchError(CheckpointError):
    """A container names model weights whose hash differs from the local checkpoint."""


class ContainerError(EODownlinkError, ValueError):
    """A container is malformed: bad magic, unknown version, bad checksum, truncated."""


class ResourceLimitError(EODownlinkError, ValueError):
    """Declared sizes exceed the configured caps (decompression-bomb guard)."""


class DatasetError(EODownlinkError, ValueError):
    """A dataset folder or file is missing or malformed."""


class AuthenticationError(EODownlinkError, PermissionError):
    """A request is unsigned, badly signed, stale or replayed (HTTP 401)."""


class ForbiddenError(AuthenticationError):
    """An authenticated caller lacks the role a request needs (HTTP 403)."""


class QuotaExceededError(EODownlinkError):
    """A caller is over one of its quotas (HTTP 429); ``retry_after_s`` when it is known."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class BusyError(EODownlinkError):
    """The service is at its concurrency limit for this work (HTTP 503, retry later)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class NotFoundError(EODownlinkError, LookupError):
    """A scene, transfer or resource does not exist (HTTP 404)."""


class ConflictError(EODownlinkError, ValueError):
    """A request contradicts the stored state, e.g. a transfer id reused for other bytes (409)."""


class IntegrityError(EODownlinkError, ValueError):
    """A checksum (CRC32C, SHA-256) does not match the bytes received (HTTP 422)."""


class PayloadTooLargeError(ResourceLimitError):
    """An upload or chunk exceeds the configured size limit (HTTP 413)."""


class StorageFullError(EODownlinkError, OSError):
    """The store has no room for more data (HTTP 507); nothing was dropped to make room."""


class LinkError(EODownlinkError, ConnectionError):
    """The downlink could not reach the ground (translated from httpx errors)."""
