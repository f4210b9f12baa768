"""What a container costs beyond its entropy-coded data, in format version 1 against version 2.

For each task and codec the same scenes are coded once; the coded data is the part no framing
can remove (JPEG 2000: the tile's packet data between SOD and EOC; learned: the rANS strings).
Version 1 is priced as the satellite wrote it before version 2: the 55-byte header, the metadata
it sent (scene id, task, sensor, priority, rate target, creation time, the reconstruction's
SHA-256 and the onboard PSNR) and the learned payload's version-4 framing. Version 2 is what the
satellite writes now. The evaluation sidecar counts in neither.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from statistics import mean
from typing import Any

from shared.codecs.base import RateTarget
from shared.codecs.learned.codec import latent_layout
from shared.codecs.learned.gmm_coding import WAVEFRONT_MARKER
from shared.codecs.learned.payload import pack_legacy_payload, unpack_payload
from shared.codecs.registry import codec_info
from shared.compression import CompressedScene, compress_raster
from shared.sensors.profiles import get_profile
from shared.wire import unpack_container
from workbench.datasets.generate import generate_scene

#: (task, side in pixels, codec, target): the rates the demo and the planner fly.
CASES: tuple[tuple[str, int, str, RateTarget], ...] = (
    ("fire", 32, "jpeg2000", RateTarget(bpp=2.0)),
    ("fire", 32, "cheng2020-gmm", RateTarget(bpp=1.0)),
    ("cloud", 256, "jpeg2000", RateTarget(bpp=0.3)),
    ("cloud", 256, "cheng2020-gmm", RateTarget(bpp=0.2)),
    ("building", 128, "jpeg2000", RateTarget(bpp=0.5)),
    ("building", 128, "jpeg2000", RateTarget(lossless=True)),
    ("building", 128, "cheng2020-gmm", RateTarget(quality=3)),
)


@dataclass(frozen=True)
class OverheadRow:
    """Mean bytes per scene for one task, codec and target."""

    task: str
    codec: str
    target: str
    scenes: int
    pixels: int
    coded_bytes: float
    v1_bytes: float
    v2_bytes: float

    @property
    def v1_overhead(self) -> float:
        """Version-1 bytes beyond the coded data."""
        return self.v1_bytes - self.coded_bytes

    @property
    def v2_overhead(self) -> float:
        """Version-2 bytes beyond the coded data."""
        return self.v2_bytes - self.coded_bytes

    def bpp(self, size: float) -> float:
        """``size`` bytes in bits per spatial pixel."""
        return 8.0 * size / self.pixels

    def as_dict(self) -> dict[str, Any]:
        """The row with its derived figures, for ``--json``."""
        return {
            **asdict(self),
            "v1_overhead_bytes": self.v1_overhead,
            "v2_overhead_bytes": self.v2_overhead,
            "v1_bpp": self.bpp(self.v1_bytes),
            "v2_bpp": self.bpp(self.v2_bytes),
            "coded_bpp": self.bpp(self.coded_bytes),
        }


def _label(target: RateTarget) -> str:
    if target.lossless:
        return "lossless"
    return f"quality={target.quality}" if target.quality is not None else f"bpp={target.bpp:g}"


def coded_bytes(scene: CompressedScene, codec: str) -> int:
    """The entropy-coded bytes of a (version 2) scene: what no container format can remove."""
    container = unpack_container(scene.container)
    if codec == "jpeg2000":
        codestream = container.payload
        return len(codestream) - (codestream.index(b"\xff\x93") + 2) - 2  # SOD .. EOC
    layout = latent_layout(codec, scene.header.spec)
    strings = unpack_payload(container.payload, layout, codec).strings
    marker = len(WAVEFRONT_MARKER) if strings[0].startswith(WAVEFRONT_MARKER) else 0
    return sum(len(s) for s in strings) - marker


def _v1_bytes(scene: CompressedScene, raster: Any, codec: str, options: dict[str, Any]) -> int:
    """The scene as the version-1 satellite sent it (its metadata, version-4 learned framing)."""
    old = compress_raster(raster, container_version=1, **options)
    size = old.header.rate_bytes
    if codec_info(codec).kind == "learned":
        layout = latent_layout(codec, scene.header.spec)
        payload = unpack_container(old.container).payload
        legacy = pack_legacy_payload(unpack_payload(payload, layout, codec), layout)
        size += len(legacy) - len(payload)
    return size


def measure(task: str, side: int, codec: str, target: RateTarget, count: int) -> OverheadRow:
    """Code ``count`` generated scenes of ``task`` (cut to ``side``) both ways."""
    profile = get_profile(task)
    coded, v1, v2 = [], [], []
    for seed in range(count):
        image = generate_scene(task, 4000 + seed).image[:, :side, :side]
        metadata = {
            "scene_id": f"{task}-s4000-{seed:05d}",
            "task": task,
            "sensor": profile.sensor,
            "priority": "routine",
            "rate_target": _label(target),
        }
        options: dict[str, Any] = {
            "codec": codec,
            "target": target,
            "scale": profile.global_max,
            "bit_depth": profile.bit_depth,
        }
        scene = compress_raster(image, **options)
        coded.append(coded_bytes(scene, codec))
        v2.append(scene.header.rate_bytes)
        v1.append(_v1_bytes(scene, image, codec, {**options, "metadata": metadata}))
    return OverheadRow(
        task, codec, _label(target), count, side * side, mean(coded), mean(v1), mean(v2)
    )


def overhead_table(rows: list[OverheadRow]) -> str:
    """A text table: bytes and bpp per row, version 1 against version 2."""
    head = (
        f"{'task':<9}{'codec':<15}{'target':<12}{'coded B':>9}{'v1 B':>9}{'v2 B':>9}"
        f"{'v1 over':>9}{'v2 over':>9}{'coded bpp':>11}{'v1 bpp':>9}{'v2 bpp':>9}"
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"{r.task:<9}{r.codec:<15}{r.target:<12}{r.coded_bytes:>9.1f}{r.v1_bytes:>9.1f}"
            f"{r.v2_bytes:>9.1f}{r.v1_overhead:>9.1f}{r.v2_overhead:>9.1f}"
            f"{r.bpp(r.coded_bytes):>11.3f}{r.bpp(r.v1_bytes):>9.3f}{r.bpp(r.v2_bytes):>9.3f}"
        )
    return "\n".join(lines)
