"""Durable file operations: a file either exists whole with its final bytes, or not at all.

Both services (the onboard store, the ground's transfer store) and the CLI write through these,
so that a crash or ``kill -9`` at any instant never leaves half a file under its final name.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from shared.errors import StorageFullError


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename or unlink is durable only once its folder is)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file, fsync, rename, fsync of the folder.

    Raises:
        StorageFullError: the disk refused the write (ENOSPC, EDQUOT); nothing is left behind.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno in (28, 122):  # ENOSPC, EDQUOT
            raise StorageFullError(
                f"the disk is full writing {path}; free space (onboard: wait for deliveries "
                "to be acknowledged) and retry"
            ) from exc
        raise


def remove_durably(path: Path) -> None:
    """Delete ``path`` (if present) and make the deletion durable."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    fsync_dir(path.parent)


def clean_temporaries(folder: Path) -> int:
    """Remove half-written temporaries a crash left behind; returns how many."""
    removed = 0
    for tmp in folder.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)
        removed += 1
    if removed:
        fsync_dir(folder)
    return removed
