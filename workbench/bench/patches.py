"""``eodl bench patches``: what a small scene costs on the link alone, and sent with its pass.

A 32x32 fire patch sent alone is one container and one transfer: its announcement (the
``POST /v1/transfers`` body, with the container header and the onboard figures the satellite
sends), three requests (create, one chunk, commit), each charged ``REQUEST_OVERHEAD_BYTES`` of
HTTP headers as the link emulation charges them, and the commit body. Sent together, ``count``
patches share one of each; a patch then costs its coded data, its 1-2 byte length in the patch
directory, and its share of the rest. PSNR is pooled over all patches either way (each patch
is coded alike either way). Measured on generated fire scenes; nothing is asserted.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from shared.codecs.base import RateTarget
from shared.compression import CompressedScene, compress_patches, compress_raster
from shared.metrics.distortion import psnr_db
from shared.protocol.chunks import REQUEST_OVERHEAD_BYTES
from shared.protocol.messages import ONBOARD_KEY, CommitRequest, TransferCreate
from shared.sensors.profiles import get_profile
from workbench.datasets.generate import generate_scene

CASES: tuple[tuple[str, RateTarget], ...] = (
    ("jpeg2000", RateTarget(bpp=2.0)),
    ("cheng2020-gmm", RateTarget(bpp=1.0)),
)
REQUESTS_PER_TRANSFER = 3  # create, one chunk (a pass's patches fit one), commit


@dataclass(frozen=True)
class PatchRow:
    """Mean bytes per patch for one codec, target and group size (1: sent alone)."""

    codec: str
    target: str
    together: int
    container_bytes: float
    link_bytes: float
    psnr: float

    @property
    def link_bpp(self) -> float:
        """Link bytes per patch in bits per pixel of a 32x32 patch."""
        return 8.0 * self.link_bytes / (32 * 32)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "link_bpp": self.link_bpp}


def link_bytes(scene: CompressedScene, codec: str) -> int:
    """Everything one transfer of ``scene`` puts on the link, as the satellite sends it."""
    container = scene.container
    onboard = {"sensor": "goes-abi-mwir", "priority": "normal", "psnr_db": scene.psnr_db}
    announcement = TransferCreate(
        transfer_id="0" * 32,
        scene_id="0" * 32,
        total_bytes=len(container),
        sha256=hashlib.sha256(container).hexdigest(),
        chunk_bytes=16384,
        task="fire",
        codec=codec,
        header={**scene.header.to_dict(), ONBOARD_KEY: onboard},
    )
    commit = CommitRequest(sha256=hashlib.sha256(container).hexdigest())
    bodies = len(announcement.model_dump_json()) + len(commit.model_dump_json())
    return scene.header.rate_bytes + bodies + REQUESTS_PER_TRANSFER * REQUEST_OVERHEAD_BYTES


def measure(codec: str, target: RateTarget, count: int) -> list[PatchRow]:
    """``count`` generated fire patches sent alone, then together."""
    profile = get_profile("fire")
    options: dict[str, Any] = {
        "codec": codec,
        "target": target,
        "scale": profile.global_max,
        "bit_depth": profile.bit_depth,
    }
    patches = np.stack([generate_scene("fire", 5000 + seed).image for seed in range(count)])
    label = f"bpp={target.bpp:g}" if target.bpp is not None else f"quality={target.quality}"
    alone = [compress_raster(patch, **options) for patch in patches]
    together = compress_patches(patches, **options)
    return [
        PatchRow(
            codec,
            label,
            1,
            float(np.mean([s.header.rate_bytes for s in alone])),
            float(np.mean([link_bytes(s, codec) for s in alone])),
            psnr_db(patches, np.stack([s.reconstruction for s in alone]), profile.global_max),
        ),
        PatchRow(
            codec,
            label,
            count,
            together.header.rate_bytes / count,
            link_bytes(together, codec) / count,
            together.psnr_db,
        ),
    ]


def patch_table(rows: list[PatchRow]) -> str:
    """A text table: bytes per patch alone and together."""
    lines = [
        f"{'codec':<15}{'target':<10}{'together':>9}{'container B':>13}{'link B':>9}"
        f"{'link bpp':>10}{'PSNR dB':>9}"
    ]
    for r in rows:
        lines.append(
            f"{r.codec:<15}{r.target:<10}{r.together:>9d}{r.container_bytes:>13.1f}"
            f"{r.link_bytes:>9.1f}{r.link_bpp:>10.3f}{r.psnr:>9.2f}"
        )
    return "\n".join(lines)
