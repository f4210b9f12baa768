"""The JSON bodies of the ``/v1`` protocol routes (pydantic v2).

Ids are validated here, once, for both sides: a transfer or scene id is 1-128 characters of
``[A-Za-z0-9._-]`` starting with a letter or digit, so it can name a folder without traversal.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_ID_RE = re.compile(ID_PATTERN)
SHA256_PATTERN = r"^[0-9a-f]{64}$"

TransferState = Literal["receiving", "committed", "processing", "processed", "failed"]
TRANSFER_STATES: tuple[str, ...] = ("receiving", "committed", "processing", "processed", "failed")
#: The key of ``TransferCreate.header`` under which the satellite reports what a version-2
#: container leaves out: the onboard PSNR (``psnr_db``, ``exact``), sensor, priority, rate
#: target and codec choice.
ONBOARD_KEY = "onboard"


def is_valid_id(value: str) -> bool:
    """True when ``value`` is a safe transfer or scene id."""
    return bool(_ID_RE.fullmatch(value))


def _check_id(value: str) -> str:
    if not is_valid_id(value):
        raise ValueError(
            f"id {value!r} is invalid: use 1-128 characters of [A-Za-z0-9._-], starting with a "
            "letter or digit"
        )
    return value


SafeId = Annotated[str, AfterValidator(_check_id)]
Sha256Hex = Annotated[str, Field(pattern=SHA256_PATTERN, description="lowercase hex SHA-256")]


class _Body(BaseModel):
    """A request body: unknown fields are refused, so a typo cannot pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Answer(BaseModel):
    """A response body: unknown fields are ignored, so the ground may add some later."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class TransferCreate(_Body):
    """``POST /v1/transfers``: announce a container before its chunks."""

    transfer_id: SafeId
    scene_id: SafeId
    total_bytes: int = Field(ge=1, le=2**62)
    sha256: Sha256Hex
    chunk_bytes: int = Field(ge=1, le=2**62)
    #: 0 (least urgent) .. 9 (an alert); the ground processes higher values first.
    priority: int = Field(default=0, ge=0, le=9)
    task: str = Field(min_length=1, max_length=64)
    codec: str = Field(min_length=1, max_length=64)
    header: dict[str, Any] = Field(default_factory=dict)


class Receipt(_Answer):
    """Custody receipt: the container is verified and stored durably; the sender may delete."""

    transfer_id: SafeId
    scene_id: SafeId
    sha256: Sha256Hex
    total_bytes: int
    receipt_id: str
    committed_at: str


class TransferStatus(_Answer):
    """``GET /v1/transfers/{id}`` (protocol view) and the answer to create."""

    transfer_id: SafeId
    scene_id: SafeId
    state: TransferState
    total_bytes: int
    chunk_bytes: int
    chunk_count: int
    received_chunks: int
    missing: list[tuple[int, int]]
    reason: str | None = None
    receipt: Receipt | None = None


class ChunkAck(_Answer):
    """``PUT /v1/transfers/{id}/chunks/{n}``: the chunk is stored (or was already)."""

    transfer_id: SafeId
    index: int
    status: Literal["stored", "duplicate"]


class CommitRequest(_Body):
    """``POST /v1/transfers/{id}/commit``: the SHA-256 the sender computed."""

    sha256: Sha256Hex


class ErrorBody(_Answer):
    """Every 4xx/5xx JSON body: the error class and what was wrong / how to fix it."""

    error: str
    detail: str
