"""Regenerate the golden container of wire format version 1: tests/golden/container_v1.bin.

The file freezes the format: tests compare what ``pack_container`` writes for the fixed inputs
below with the committed bytes, byte for byte. Regenerate it only for a deliberate format
change (which also needs a new format version):

    .venv/bin/python tests/golden/make_golden.py          # refuses to overwrite
    .venv/bin/python tests/golden/make_golden.py --force  # overwrite on purpose
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

from shared.codecs.base import ModelRef, RasterSpec
from shared.wire import pack_container, pack_mask

GOLDEN_PATH = Path(__file__).resolve().parent / "container_v1.bin"

GOLDEN_SPEC = RasterSpec(bands=10, height=8, width=8, dtype="uint16", bit_depth=14, scale=10000.0)
GOLDEN_MODEL = ModelRef(model_id=3, weights_prefix=bytes.fromhex("0123456789abcdef"))
GOLDEN_PAYLOAD = b"golden-payload:" + bytes(range(17))
GOLDEN_METADATA = {
    "scene_id": "golden-0001",
    "task": "building",
    "sensor": "sentinel-2-l2a",
    "created_at": "2026-01-01T00:00:00+00:00",
    "psnr_db": 38.25,
    "reconstruction_sha256": hashlib.sha256(b"golden reconstruction").hexdigest(),
}


def golden_mask() -> np.ndarray:
    """A fixed 8x8 checker-and-stripe mask, uint8 0/1."""
    rows, cols = np.indices((8, 8))
    return (((rows + cols) % 3 == 0) | (rows == 7)).astype(np.uint8)


def golden_bytes() -> bytes:
    """The golden container, built from the fixed inputs above."""
    return pack_container(
        codec="cheng2020-gmm",
        spec=GOLDEN_SPEC,
        model=GOLDEN_MODEL,
        payload=GOLDEN_PAYLOAD,
        metadata=GOLDEN_METADATA,
        sidecar=pack_mask(golden_mask()),
        lossless=False,
        quality=3,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="overwrite the committed file")
    args = parser.parse_args(argv)
    if GOLDEN_PATH.exists() and not args.force:
        print(
            f"{GOLDEN_PATH} exists; it freezes format version 1. Pass --force to overwrite it "
            "on purpose (a format change needs a new version).",
            file=sys.stderr,
        )
        return 1
    data = golden_bytes()
    GOLDEN_PATH.write_bytes(data)
    print(f"wrote {GOLDEN_PATH} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
