"""The typed view of one scene row, and of a scene the store admits."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from satellite_node.store.states import SceneState


@dataclass(frozen=True)
class NewScene:
    """A validated upload in the store's own format: what :meth:`SceneStore.admit` takes.

    Attributes:
        raster, mask: ``.npy`` bytes (no pickles) of the (C, H, W) raster and (H, W) mask.
        rate: the rate target as JSON fields (``bpp``, ``quality``, ``lossless``).
        uploader: the name of the API token that uploaded it (None without authentication).
        patch_shape: (height, width) when the raster is a grid of patches to send together
            in one container (:func:`shared.codecs.patches.stack_patches`).
        georef, georef_note: the scene's georeference (:meth:`Georef.to_dict`), or None, and
            what intake said about it.
    """

    task: str
    codec: str
    rate: dict[str, Any]
    priority: int
    raster_name: str
    raster: bytes = field(repr=False)
    mask: bytes | None = field(default=None, repr=False)
    uploader: str | None = None
    patch_shape: tuple[int, int] | None = None
    georef: dict[str, Any] | None = None
    georef_note: str | None = None

    @property
    def size(self) -> int:
        """Bytes the scene takes in the store before compression."""
        return len(self.raster) + len(self.mask or b"")


@dataclass(frozen=True)
class SceneRecord:
    """One scene as the store holds it."""

    seq: int
    scene_id: str
    state: SceneState
    reason: str | None
    task: str
    codec: str
    codec_used: str | None
    rate: dict[str, Any]
    priority: int
    raster_name: str
    has_mask: bool
    raw_bytes: int
    stored_bytes: int
    container_bytes: int | None
    container_sha256: str | None
    header: dict[str, Any] | None
    bpp: float | None
    payload_bpp: float | None
    bits_per_sample: float | None
    psnr_db: float | None
    transfer_id: str | None
    chunk_bytes: int | None
    receipt: dict[str, Any] | None
    attempts: int
    created_at: float
    updated_at: float
    delivered_at: float | None
    raw_kept: bool = False
    container_version: int = 1
    uploader: str | None = None
    queued_at: float | None = None
    patch_shape: tuple[int, int] | None = None
    georef: dict[str, Any] | None = None
    georef_note: str | None = None


@dataclass(frozen=True)
class ContainerInfo:
    """What compression produced for one scene."""

    container: bytes = field(repr=False)
    sha256: str
    codec_used: str
    bpp: float
    payload_bpp: float
    bits_per_sample: float
    psnr_db: float | None
    header: dict[str, Any]

    #: The scene columns a container sets (``UPDATE ... SET`` fragment, see :meth:`values`).
    COLUMNS = (
        "codec_used = ?, container_bytes = ?, container_sha256 = ?, header_json = ?, bpp = ?, "
        "payload_bpp = ?, bits_per_sample = ?, psnr_db = ?, transfer_id = ?"
    )

    def values(self, transfer_id: str) -> tuple[Any, ...]:
        """The values of :attr:`COLUMNS`, in order."""
        return (
            self.codec_used,
            len(self.container),
            self.sha256,
            json.dumps(self.header),
            self.bpp,
            self.payload_bpp,
            self.bits_per_sample,
            self.psnr_db,
            transfer_id,
        )


def _json(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def record_from_row(row: sqlite3.Row) -> SceneRecord:
    """Build a :class:`SceneRecord` from a ``SELECT *`` row of the scenes table."""
    return SceneRecord(
        seq=row["seq"],
        scene_id=row["scene_id"],
        state=SceneState(row["state"]),
        reason=row["reason"],
        task=row["task"],
        codec=row["codec"],
        codec_used=row["codec_used"],
        rate=json.loads(row["rate_json"]),
        priority=row["priority"],
        raster_name=row["raster_name"],
        has_mask=bool(row["has_mask"]),
        raw_bytes=row["raw_bytes"],
        stored_bytes=row["stored_bytes"],
        container_bytes=row["container_bytes"],
        container_sha256=row["container_sha256"],
        header=_json(row["header_json"]),
        bpp=row["bpp"],
        payload_bpp=row["payload_bpp"],
        bits_per_sample=row["bits_per_sample"],
        psnr_db=row["psnr_db"],
        transfer_id=row["transfer_id"],
        chunk_bytes=row["chunk_bytes"],
        receipt=_json(row["receipt_json"]),
        attempts=row["attempts"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        delivered_at=row["delivered_at"],
        raw_kept=bool(row["raw_kept"]),
        container_version=int(row["container_version"]),
        uploader=row["uploader"],
        queued_at=row["queued_at"],
        patch_shape=_patch_shape(row["patch_shape"]),
        georef=_json(row["georef_json"]),
        georef_note=row["georef_note"],
    )


def patch_shape_text(shape: tuple[int, int] | None) -> str | None:
    """The ``patch_shape`` column's value: ``"32x32"``, or None for one scene."""
    return None if shape is None else f"{shape[0]}x{shape[1]}"


def _patch_shape(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    height, width = text.split("x")
    return int(height), int(width)
