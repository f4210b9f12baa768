"""Files of the ground station: chunks, assembled containers and quicklooks, per transfer.

Layout under ``<data_dir>/transfers/<transfer_id>/``: ``chunks/<index>.chunk`` while receiving,
``container.eodl`` once committed, ``quicklook.png`` and ``mask.png`` once processed. Every
file is written to a temporary name, fsynced and renamed, so a crash never leaves half a chunk.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

from shared.durable import atomic_write, fsync_dir
from shared.errors import ConflictError, IntegrityError, StorageFullError
from shared.protocol.messages import is_valid_id

CONTAINER_NAME = "container.eodl"
QUICKLOOK_NAME = "quicklook.png"
MASK_NAME = "mask.png"
_CHUNK_SUFFIX = ".chunk"
_READ_BLOCK = 1024 * 1024


class TransferStore:
    """The per-transfer folders under ``root`` (``<data_dir>/transfers``)."""

    def __init__(self, root: Path, min_free_bytes: int = 0) -> None:
        self.root = Path(root)
        self.min_free_bytes = min_free_bytes
        self.root.mkdir(parents=True, exist_ok=True)

    def folder(self, transfer_id: str) -> Path:
        """The transfer's folder; the id is re-checked so no caller can escape ``root``."""
        if not is_valid_id(transfer_id):
            raise ConflictError(f"transfer id {transfer_id!r} is not a safe folder name")
        return self.root / transfer_id

    def _chunks(self, transfer_id: str) -> Path:
        return self.folder(transfer_id) / "chunks"

    def container_path(self, transfer_id: str) -> Path:
        """Where the transfer's assembled container lives (once committed)."""
        return self.folder(transfer_id) / CONTAINER_NAME

    def check_free(self, incoming_bytes: int) -> None:
        """Refuse a write that would leave less than ``min_free_bytes`` on the disk.

        Raises:
            StorageFullError: not enough room; nothing was deleted to make some.
        """
        free = shutil.disk_usage(self.root).free
        if free - incoming_bytes < self.min_free_bytes:
            raise StorageFullError(
                f"only {free} bytes free on the ground store, {incoming_bytes} more asked and "
                f"{self.min_free_bytes} kept in reserve; free space or lower GS_MIN_FREE_BYTES"
            )

    def write_chunk(self, transfer_id: str, index: int, data: bytes) -> bool:
        """Store one verified chunk atomically.

        Returns:
            True when stored now, False when an identical chunk was already there.

        Raises:
            ConflictError: a different chunk with this index is already stored.
            StorageFullError: no room for it.
        """
        folder = self._chunks(transfer_id)
        path = folder / f"{index:08d}{_CHUNK_SUFFIX}"
        if path.exists():
            if path.read_bytes() != data:
                raise ConflictError(
                    f"chunk {index} of {transfer_id} is already stored with other bytes; "
                    "a transfer id must always carry the same container"
                )
            return False
        self.check_free(len(data))
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
        return True

    def received(self, transfer_id: str) -> list[int]:
        """Indices of the chunks stored so far, sorted.

        A commit may remove the chunk folder while this reads it (a listing races the sender's
        commit): a vanished folder reads as no chunks, never as an error.
        """
        try:
            names = [p for p in self._chunks(transfer_id).iterdir() if p.suffix == _CHUNK_SUFFIX]
        except FileNotFoundError:
            return []
        return sorted(int(p.stem) for p in names if p.stem.isdigit())

    def assemble(self, transfer_id: str, count: int, total_bytes: int, sha256: str) -> Path:
        """Concatenate chunks ``0..count-1`` into the container, verify and fsync it.

        Raises:
            IntegrityError: the assembled bytes' size or SHA-256 differ from the announced ones;
                the chunks are dropped so that the sender uploads them afresh.
            StorageFullError: no room for the container.
        """
        self.check_free(total_bytes)
        target = self.container_path(transfer_id)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        digest, size = hashlib.sha256(), 0
        with open(tmp, "wb") as out:
            for index in range(count):
                data = (self._chunks(transfer_id) / f"{index:08d}{_CHUNK_SUFFIX}").read_bytes()
                digest.update(data)
                size += len(data)
                out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if size != total_bytes or digest.hexdigest() != sha256:
            tmp.unlink()
            self.drop_chunks(transfer_id)
            raise IntegrityError(
                f"assembled container of {transfer_id} is {size} bytes with SHA-256 "
                f"{digest.hexdigest()}, but {total_bytes} bytes with {sha256} were announced; "
                "the chunks were dropped: upload them again"
            )
        os.replace(tmp, target)
        fsync_dir(target.parent)
        return target

    def drop_chunks(self, transfer_id: str) -> None:
        """Delete the chunk files (after assembly, or after a failed one)."""
        shutil.rmtree(self._chunks(transfer_id), ignore_errors=True)

    def read_container(self, transfer_id: str) -> bytes:
        """The committed container's bytes."""
        return self.container_path(transfer_id).read_bytes()

    def artefact(self, transfer_id: str, name: str) -> Path:
        """Path of a processing artefact (``quicklook.png``, ``mask.png``)."""
        return self.folder(transfer_id) / name
