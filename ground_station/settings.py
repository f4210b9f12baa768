"""Ground station settings, read from ``GS_*`` environment variables when the app is built."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.errors import ConfigurationError
from shared.protocol.chunks import DEFAULT_CHUNK_BYTES
from shared.protocol.signing import link_key
from shared.protocol.tokens import ApiToken


class GroundSettings(BaseSettings):
    """Everything the ground station can be told.

    Attributes:
        data_dir: where the database (by default), transfers, containers and quicklooks live.
        database_url: any SQLAlchemy URL; default a SQLite file ``ground.db`` in ``data_dir``.
        link_key: the satellite's shared HMAC key (``GS_LINK_KEY``); required.
        link_key_id: the key id the satellite signs with.
        public_reads: GET routes of the query API, the metrics and the dashboard are open to
            anyone (``GS_PUBLIC_READS=true``; off by default). Otherwise a read needs the
            satellite's signature, a reader token or a dashboard session (``/signin``); a
            signature, when sent, is always verified. Writes are always signed.
        read_tokens: tokens that may read (``GS_READ_TOKENS``, a JSON list of ``{"name",
            "role", "sha256"}`` as ``eodl satellite token`` prints; any role reads), by
            ``Authorization: Bearer`` or by signing in to the dashboard once.
        session_hours: how long a dashboard sign-in lasts.
        max_skew_s: the oldest (or most future) signed timestamp accepted.
        max_chunk_bytes: the largest chunk body accepted (413 above it).
        max_transfer_bytes: the largest container a transfer may announce (413 above it).
        min_free_bytes: refuse writes (507) when the disk would fall below this.
        decode_timeout_s, decode_memory_mb: the worker process's limits (time, RLIMIT_AS).
        max_pixels, max_bands: decompression-bomb caps, checked before allocation.
        segmenter_dir: folder of segmenter checkpoints; the shipped ones by default.
        codec_checkpoint_dir: an extra folder of learned-codec checkpoints searched before
            ``EODL_CHECKPOINTS`` and the shipped ones (the weights hash must match the
            container's, or the transfer fails).
        device: ``auto`` (cuda when present), ``cpu`` or ``cuda``.
        processing_workers: transfers decoded at the same time (threads in the single
            process, the job engine's concurrency in a worker).
        decode_recycle_jobs: a long-lived decode worker is replaced after this many decodes
            (and after any failure).
        job_heartbeat_s, job_stalled_s: a processing worker (``--role worker``) reports every
            ``job_heartbeat_s``; the job of a worker silent for ``job_stalled_s`` goes back to
            the queue for another worker.
        segment_tile_px: scenes larger than this on a side are segmented window by window
            (with a 32-pixel halo), so segmentation memory is bounded by one window.
        panel_renders, panel_wait_s: at most this many transfer pages render their panels at
            once; a first view that waits longer than ``panel_wait_s`` for a slot gets 503 with
            ``Retry-After`` (rendered pages are cached files and never wait).
    """

    model_config = SettingsConfigDict(env_prefix="GS_", extra="ignore")

    data_dir: Path = Path("ground-data")
    database_url: str | None = None
    link_key: SecretStr | None = None
    link_key_id: str = "sat-1"
    public_reads: bool = False
    read_tokens: list[ApiToken] = Field(default_factory=list)
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    max_skew_s: float = Field(default=300.0, gt=0)
    max_chunk_bytes: int = Field(default=4 * DEFAULT_CHUNK_BYTES, ge=1)
    max_transfer_bytes: int = Field(default=256 * 1024 * 1024, ge=1)
    min_free_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    decode_timeout_s: float = Field(default=120.0, gt=0)
    decode_memory_mb: int = Field(default=6144, ge=256)
    max_pixels: int = Field(default=4096 * 4096, ge=1)
    max_bands: int = Field(default=16, ge=1)
    segmenter_dir: Path | None = None
    codec_checkpoint_dir: Path | None = None
    device: str = "auto"
    processing_workers: int = Field(default=1, ge=1, le=16)
    segment_tile_px: int = Field(default=512, ge=64, le=8192)
    panel_renders: int = Field(default=2, ge=1, le=32)
    panel_wait_s: float = Field(default=30.0, gt=0)
    decode_recycle_jobs: int = Field(default=200, ge=1)
    job_heartbeat_s: float = Field(default=10.0, gt=0)
    job_stalled_s: float = Field(default=30.0, gt=0)

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to ``sqlite:///<data_dir>/ground.db``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'ground.db').resolve()}"

    def link_keys(self) -> dict[str, bytes]:
        """Key id -> key bytes for ``verify_request``.

        Raises:
            ConfigurationError: no key is configured, it is shorter than 16 bytes, or it is the
                documentation's example key.
        """
        secret = None if self.link_key is None else self.link_key.get_secret_value()
        return {self.link_key_id: link_key(secret, "GS_LINK_KEY", "SAT_LINK_KEY")}

    def resolved_device(self) -> str:
        """``cuda`` or ``cpu``: ``auto`` picks cuda when torch sees a GPU."""
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigurationError(f"GS_DEVICE must be auto, cpu or cuda, got {self.device!r}")
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"


@lru_cache(maxsize=1)
def get_settings() -> GroundSettings:
    """The settings from the environment, read once (at start-up, never at import)."""
    return GroundSettings()
