"""The onboard store's SQLite schema (the states are in :mod:`satellite_node.store.states`)."""

from __future__ import annotations

#: Columns added after the first release, with their DDL (an older store upgrades in place).
ADDED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("raw_kept", "INTEGER NOT NULL DEFAULT 0"),
    ("container_version", "INTEGER NOT NULL DEFAULT 1"),
    ("uploader", "TEXT"),
    ("queued_at", "REAL"),
    ("patch_shape", "TEXT"),  # "32x32": the raster is a grid of patches sent together
    ("georef_json", "TEXT"),  # where the scene lies (shared.wire.georef.Georef.to_dict)
    ("georef_note", "TEXT"),  # what intake said about it (or why there is none)
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS scenes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    scene_id TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    reason TEXT,
    task TEXT NOT NULL,
    codec TEXT NOT NULL,
    codec_used TEXT,
    rate_json TEXT NOT NULL,
    priority INTEGER NOT NULL,
    raster_name TEXT NOT NULL,
    has_mask INTEGER NOT NULL,
    raw_bytes INTEGER NOT NULL,
    stored_bytes INTEGER NOT NULL,
    container_bytes INTEGER,
    container_sha256 TEXT,
    header_json TEXT,
    bpp REAL,
    payload_bpp REAL,
    bits_per_sample REAL,
    psnr_db REAL,
    transfer_id TEXT,
    chunk_bytes INTEGER,
    receipt_json TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    delivered_at REAL,
    raw_kept INTEGER NOT NULL DEFAULT 0,
    container_version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS scenes_by_state ON scenes (state, priority, seq);
"""
