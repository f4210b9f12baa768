"""Satellite node settings, read from ``SAT_*`` environment variables when the app is built."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import httpx
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from satellite_node.link.profile import LinkProfile
from shared.errors import ConfigurationError
from shared.protocol.chunks import DEFAULT_CHUNK_BYTES
from shared.protocol.signing import link_key
from shared.protocol.tokens import ApiToken, TokenTable


class SatelliteSettings(BaseSettings):
    """Everything the satellite node can be told.

    Attributes:
        data_dir: the onboard store (database, rasters awaiting compression, containers).
        ground_url: base URL of the ground station's protocol routes.
        link_key: the shared HMAC key (``SAT_LINK_KEY``), the same as the ground's ``GS_LINK_KEY``.
        link_key_id: the key id sent with every signed request.
        api_tokens: who may call the REST API (``SAT_API_TOKENS``, a JSON list of ``{"name",
            "role", "sha256"}``; roles reader, uploader, operator; see
            :mod:`satellite_node.auth`). Without any, the node refuses to start.
        insecure_no_auth: serve the API to anyone, without tokens (local development only:
            ``SAT_INSECURE_NO_AUTH=true``; logged as a warning at start-up).
        capacity_bytes: the most bytes the store holds; new scenes beyond it get 507.
        max_upload_bytes: the largest raster or mask file accepted (413 above it).
        link_rate_bps, link_latency_s: the emulated link's rate and one-way latency.
        pass_period_s, pass_duration_s: periodic passes; neither means the link is always up.
        chunk_bytes: chunk size; by default about one second of link time, within
            ``[min_chunk_bytes, max_chunk_bytes]`` (the ground refuses chunks above its limit).
        request_timeout_s, connect_timeout_s: httpx timeouts of every request to the ground
            (the read timeout is raised above the gap between passes; see ``http_timeout``).
        backoff_cap_s: the longest wait between two retries inside a pass.
        default_bpp: the rate target when an upload gives none of bpp, quality, lossless.
        checkpoints_dir: folder of learned-codec checkpoints (``auto`` and learned codecs).
        alarm_passes: a scene undelivered after more than this many passes raises the overdue
            alarm on /metrics (``eodl_sat_overdue_alarm``).
        roi: ``auto`` runs the task's ROI detector (fire, cloud) on the raw scene and codes what
            it finds at higher fidelity when the codec takes an ROI; ``off`` (default) never
            does: at equal total bytes ROI coding lowered PSNR inside the ROI on most of the
            budgets `eodl experiment roi` measured (docs/results/roi.md), so it is opt-in.
        plan: ``apply`` (default) makes the pass plan act: scenes it defers are held onboard,
            scenes it plans at a lower rate are re-encoded from the kept raw raster, and the
            plan is reported to the ground once per pass; ``advise`` only shows it at /v1/plan.
            The default acts because it costs nothing when the pass can carry everything (the
            asked rates go, unchanged) and, when it cannot, sends what fits, alerts first, at
            the rates that keep the most expected F1, instead of starting transfers the pass
            cannot finish.
        raw_keep_bytes: with ``plan=apply``, raw rasters of queued scenes are kept (for
            re-encoding at the planned rate) until delivery, at most this many bytes in all;
            beyond it a scene's raw raster is released at compression, as in ``advise``.
        run_sender, run_worker: start the downlink sender / compression worker in the lifespan.
    """

    model_config = SettingsConfigDict(env_prefix="SAT_", extra="ignore")

    data_dir: Path = Path("satellite-data")
    ground_url: str = "http://127.0.0.1:8001"
    link_key: SecretStr | None = None
    link_key_id: str = "sat-1"
    api_tokens: list[ApiToken] = Field(default_factory=list)
    insecure_no_auth: bool = False
    capacity_bytes: int = Field(default=2 * 1024**3, ge=1)
    max_upload_bytes: int = Field(default=256 * 1024**2, ge=1)
    link_rate_bps: float = Field(default=2_000_000.0, gt=0)
    link_latency_s: float = Field(default=0.0, ge=0)
    pass_period_s: float | None = Field(default=None, gt=0)
    pass_duration_s: float | None = Field(default=None, gt=0)
    chunk_bytes: int | None = Field(default=None, ge=1)
    min_chunk_bytes: int = Field(default=16 * 1024, ge=1)
    max_chunk_bytes: int = Field(default=4 * DEFAULT_CHUNK_BYTES, ge=1)
    request_timeout_s: float = Field(default=30.0, gt=0)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    backoff_cap_s: float = Field(default=2.0, gt=0)
    default_bpp: float = Field(default=1.0, gt=0)
    checkpoints_dir: Path | None = None
    alarm_passes: int = Field(default=3, ge=0)
    roi: Literal["auto", "off"] = "off"
    plan: Literal["apply", "advise"] = "apply"
    raw_keep_bytes: int = Field(default=256 * 1024**2, ge=0)
    run_sender: bool = True
    run_worker: bool = True

    def link_key_bytes(self) -> bytes:
        """The signing key.

        Raises:
            ConfigurationError: no key is set, it is shorter than 16 bytes, or it is the
                documentation's example key.
        """
        secret = None if self.link_key is None else self.link_key.get_secret_value()
        return link_key(secret, "SAT_LINK_KEY", "GS_LINK_KEY")

    def token_table(self) -> TokenTable | None:
        """The API's tokens; None when authentication is switched off on purpose.

        Raises:
            ConfigurationError: no token is configured and ``insecure_no_auth`` is off, or a
                token names an unknown role.
        """
        if self.insecure_no_auth:
            return None
        if not self.api_tokens:
            raise ConfigurationError(
                "no API tokens: set SAT_API_TOKENS to a JSON list of tokens (make one with "
                "`eodl satellite token --name NAME --role uploader|operator|reader`), or set "
                "SAT_INSECURE_NO_AUTH=true to serve the API to anyone (local development only)"
            )
        return TokenTable(self.api_tokens)

    def link_profile(self) -> LinkProfile:
        """The link profile the settings describe.

        Raises:
            ConfigurationError: the pass settings contradict each other.
        """
        try:
            return LinkProfile(
                rate_bps=self.link_rate_bps,
                latency_s=self.link_latency_s,
                pass_period_s=self.pass_period_s,
                pass_duration_s=self.pass_duration_s,
            )
        except ValueError as exc:
            raise ConfigurationError(f"invalid link settings: {exc}") from exc

    def http_timeout(self) -> httpx.Timeout:
        """Timeouts of every request to the ground: explicit, and longer than a pass gap, so a
        request stalled by a link outage completes when the link returns rather than dying."""
        gap = 0.0
        if self.pass_period_s is not None and self.pass_duration_s is not None:
            gap = self.pass_period_s - self.pass_duration_s
        read = max(self.request_timeout_s, gap + 5.0) if gap > 0 else self.request_timeout_s
        return httpx.Timeout(read, connect=self.connect_timeout_s)

    def chunk_bytes_for(self, rate_bps: float) -> int:
        """The chunk size for a new transfer: the setting, or about one second of link time."""
        if self.chunk_bytes is not None:
            return min(self.chunk_bytes, self.max_chunk_bytes)
        one_second = int(rate_bps / 8) // 4096 * 4096
        return max(self.min_chunk_bytes, min(self.max_chunk_bytes, one_second))


@lru_cache(maxsize=1)
def get_settings() -> SatelliteSettings:
    """The settings from the environment, read once (at start-up, never at import)."""
    return SatelliteSettings()
