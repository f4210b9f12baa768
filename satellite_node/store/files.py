"""Where the store keeps a scene's files: the raw raster and mask, and the container versions."""

from __future__ import annotations

from pathlib import Path

from shared.durable import remove_durably


class StoreFiles:
    """The store's two folders under ``data_dir`` (created if needed)."""

    def __init__(self, data_dir: Path) -> None:
        self.incoming_dir = data_dir / "incoming"
        self.containers_dir = data_dir / "containers"
        for folder in (data_dir, self.incoming_dir, self.containers_dir):
            folder.mkdir(parents=True, exist_ok=True)

    def raster_path(self, scene_id: str) -> Path:
        """The raw raster, as uploaded (``.npy``)."""
        return self.incoming_dir / f"{scene_id}.raster.npy"

    def mask_path(self, scene_id: str) -> Path:
        """The truth mask, when one was uploaded."""
        return self.incoming_dir / f"{scene_id}.mask.npy"

    def container_path(self, scene_id: str, version: int = 1) -> Path:
        """The file of a scene's container; a re-encode (version > 1) gets a new name, so the
        row always names a complete file."""
        suffix = "" if version <= 1 else f".v{version}"
        return self.containers_dir / f"{scene_id}{suffix}.eodl"

    def release_raw(self, scene_id: str) -> None:
        """Delete the raw raster and mask (durably: the folder is synced)."""
        remove_durably(self.raster_path(scene_id))
        remove_durably(self.mask_path(scene_id))
