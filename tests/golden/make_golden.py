"""Regenerate the golden containers: tests/golden/container_v1.bin and container_v2.bin.

The files freeze the formats: tests compare what ``pack_container`` writes for the fixed inputs
below with the committed bytes, byte for byte. A file that exists is never rewritten without
``--force``: regenerate one only for a deliberate format change (which also needs a new format
version). Version 2 has two files: a learned container with every optional field
(container_v2.bin) and the smallest case, a 32x32 JPEG 2000 patch whose main header the ground
rebuilds (container_v2_j2k.bin). A third freezes the patch directory: four such patches in
one container, a 2x2 grid (container_v2_patches.bin). A fourth adds their georeference: an
EPSG code, a north-up transform, the acquisition time and each patch's origin
(container_v2_georef.bin).

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
from shared.wire.georef import Georef

GOLDEN_PATH = Path(__file__).resolve().parent / "container_v1.bin"
GOLDEN_PATHS = {
    1: GOLDEN_PATH,
    2: GOLDEN_PATH.with_name("container_v2.bin"),
    3: GOLDEN_PATH.with_name("container_v2_j2k.bin"),  # key 3: the JPEG 2000 case of version 2
    4: GOLDEN_PATH.with_name("container_v2_patches.bin"),  # key 4: four patches in one
    5: GOLDEN_PATH.with_name("container_v2_georef.bin"),  # key 5: key 4 with a georeference
}
GOLDEN_PATCHES_SPEC = RasterSpec(
    bands=1, height=64, width=64, dtype="uint16", bit_depth=14, scale=16383
)
GOLDEN_J2K_SPEC = RasterSpec(
    bands=1, height=32, width=32, dtype="uint16", bit_depth=14, scale=16383
)

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


def golden_j2k_samples(patch: int = 0) -> np.ndarray:
    """A fixed 32x32 14-bit ramp with a hot spot (moved for each ``patch``), (1, 32, 32)."""
    rows, cols = np.indices((32, 32))
    image = 4000 + 60 * rows + 35 * cols
    image[12 + 4 * patch : 15 + 4 * patch, 20 - 5 * patch : 23 - 5 * patch] = 15000
    return image[np.newaxis].astype(np.uint16)


def golden_j2k_codestream(patch: int = 0) -> bytes:
    """OpenJPEG's codestream of the ramp at 2 bpp (9/7, 4 resolutions): the v2 J2K payload."""
    from shared.codecs.j2k_codestream import strip_comments
    from shared.codecs.j2k_openjpeg import EncoderSettings, encode_codestream

    settings = EncoderSettings(precision=14, irreversible=True, ratio=7.0, resolutions=4)
    return strip_comments(encode_codestream(golden_j2k_samples(patch), settings))


GOLDEN_GEOREF = Georef(
    crs="EPSG:32610",
    transform=(20.0, 0.0, 478880.0, 0.0, -20.0, 6439940.0),
    acquired="2023-05-14T19:20:00Z",
    patch_origins=((0, 0), (0, 32), (96, 64), (128, 352)),
)


def golden_bytes(version: int = 1) -> bytes:
    """The golden container of ``version`` (3: version 2's JPEG 2000 case) from the inputs above."""
    if version in (4, 5):
        from shared.wire.patches import join_patches

        return pack_container(
            codec="jpeg2000",
            spec=GOLDEN_PATCHES_SPEC,
            model=ModelRef(),
            payload=join_patches([golden_j2k_codestream(k) for k in range(4)]),
            metadata={},
            rate_bpp=2.0,
            patch_shape=(32, 32),
            georef=GOLDEN_GEOREF if version == 5 else None,
        )
    if version == 3:
        return pack_container(
            codec="jpeg2000",
            spec=GOLDEN_J2K_SPEC,
            model=ModelRef(),
            payload=golden_j2k_codestream(),
            metadata={},
            rate_bpp=2.0,
        )
    metadata = GOLDEN_METADATA if version == 1 else {"scene_id": "golden-0001", "note": "v2"}
    return pack_container(
        codec="cheng2020-gmm",
        spec=GOLDEN_SPEC,
        model=GOLDEN_MODEL,
        payload=GOLDEN_PAYLOAD,
        metadata=metadata,
        sidecar=pack_mask(golden_mask()),
        lossless=False,
        quality=3,
        version=min(version, 2),
        rate_bpp=0.25,
        digest=str(GOLDEN_METADATA["reconstruction_sha256"]),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="overwrite the committed file")
    args = parser.parse_args(argv)
    status = 0
    for key, path in GOLDEN_PATHS.items():
        if path.exists() and not args.force:
            print(
                f"{path} exists; it freezes a format version. Pass --force to overwrite it on "
                "purpose (a format change needs a new version).",
                file=sys.stderr,
            )
            status = 1
            continue
        data = golden_bytes(key)
        path.write_bytes(data)
        print(f"wrote {path} ({len(data)} bytes)")
    return status


if __name__ == "__main__":
    sys.exit(main())
