"""The demo's scenario: scenes of every task, several codecs and rates, through the link."""

from __future__ import annotations

import csv
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from satellite_node.client import SatelliteClient, SceneRefused
from satellite_node.planner.curves import shipped_curves_path
from shared.errors import EODownlinkError
from shared.protocol.scenes import SceneRequest
from shared.sensors.profiles import TASKS, get_profile
from workbench.datasets.generate import generate_scenes

#: JPEG 2000 target rates per task, in bpp (container bits over H x W). Fire patches are 32x32,
#: so a J2K main header alone costs about 0.6 bpp there: their ladder starts higher.
JPEG2000_BPP: dict[str, tuple[float, ...]] = {
    "fire": (2.0, 4.0),
    "cloud": (0.5, 1.5),
    "building": (1.0, 4.0),
}
LEARNED_CODEC = "cheng2020-gmm"
#: The PSNR a mission keeps at least, on held-out scenes, when it picks learned rates to fly.
MISSION_PSNR_DB = 30.0
#: The share of the clean segmenter's F1+ a mission wants kept when it flies for segmentation.
MISSION_F1_SHARE = 0.8
TERMINAL_STATES = ("processed", "failed")


class DemoTimeoutError(EODownlinkError, TimeoutError):
    """Transfers did not all finish within the demo's time limit."""


@dataclass(frozen=True)
class Upload:
    """One scene sent through the satellite with one codec setting."""

    task: str
    codec: str
    rate_field: str
    rate_value: str
    scene_name: str


def rate_plan(task: str, learned_qualities: list[int]) -> list[tuple[str, str, str]]:
    """(codec, rate field, rate value) for each upload of a scene of ``task``."""
    plan = [("jpeg2000", "bpp", f"{bpp:g}") for bpp in JPEG2000_BPP[task]]
    plan += [(LEARNED_CODEC, "quality", str(q)) for q in learned_qualities]
    return plan


def learned_qualities(task: str) -> list[int]:
    """The qualities a mission would fly for the task (see :func:`choose_qualities`), from the
    shipped learned checkpoints' held-out PSNR and the shipped F1 curves."""
    from shared.codecs.learned.checkpoint import CheckpointStore

    bands = len(get_profile(task).band_names)
    entries = [e for e in CheckpointStore().candidates(LEARNED_CODEC, bands) if e.manifest.trained]
    entries = [e for e in entries if e.manifest.task in (task, None)] or entries
    psnr = {
        q: e.manifest.metrics_at(q).get("psnr_db") for e in entries for q in e.manifest.qualities
    }
    return choose_qualities(psnr, *measured_f1(task))


def choose_qualities(
    psnr_db: Mapping[int, float | None],
    f1_positive: Mapping[int, float],
    clean_f1: float | None,
) -> list[int]:
    """Two qualities: one for the picture, one for the segmentation.

    The picture's is the lowest-rate quality keeping :data:`MISSION_PSNR_DB` on held-out
    scenes. The segmentation's, among those, is the lowest-rate one whose measured F1+ keeps
    :data:`MISSION_F1_SHARE` of the clean segmenter's, or the best-F1 one where none does; when
    both are one quality, or no F1 was measured, the next quality up. Without PSNR figures: the
    lowest and the highest quality.
    """
    good = sorted(q for q, p in psnr_db.items() if p is not None and p >= MISSION_PSNR_DB)
    if not good:
        qualities = sorted(psnr_db)
        return qualities if len(qualities) <= 2 else [qualities[0], qualities[-1]]
    measured = [q for q in good if q in f1_positive]
    keeping = [q for q in measured if clean_f1 and f1_positive[q] >= MISSION_F1_SHARE * clean_f1]
    if keeping:
        segmentation = keeping[0]
    elif measured:
        segmentation = max(measured, key=lambda q: (f1_positive[q], -q))
    else:
        segmentation = good[0]
    if segmentation == good[0]:
        return good[:2]
    return [good[0], segmentation]


def measured_f1(task: str) -> tuple[dict[int, float], float | None]:
    """({quality: F1+} of the learned codec, the clean segmenter's F1+) from the shipped F1
    curves (``eodl evaluate f1-curve``); empty where none were measured."""
    path = shipped_curves_path()
    if not path.is_file():
        return {}, None
    with path.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["task"] == task]
    f1 = {int(r["quality"]): float(r["f1_positive"]) for r in rows if r["codec"] == LEARNED_CODEC}
    clean = [float(r["f1_positive"]) for r in rows if r["codec"] == "uncompressed"]
    return f1, (clean[0] if clean else None)


def upload_scenes(satellite_url: str, token: str, scenes_per_task: int, seed: int) -> list[Upload]:
    """Generate scenes and upload each one per codec setting through the REST API, with an
    uploader's ``token``."""
    uploads: list[Upload] = []
    with SatelliteClient.connect(satellite_url, token=token, timeout_s=60.0) as satellite:
        for task in TASKS:
            qualities = learned_qualities(task)
            for scene in generate_scenes(task, scenes_per_task, seed):
                for codec, field, value in rate_plan(task, qualities):
                    request = SceneRequest.model_validate(
                        {"task": task, "codec": codec, field: value}
                    )
                    try:
                        satellite.upload(scene.image, request, mask=scene.mask)
                    except SceneRefused as exc:
                        raise EODownlinkError(
                            f"the satellite refused a {task} scene ({codec} {field}={value}): {exc}"
                        ) from exc
                    uploads.append(Upload(task, codec, field, value, scene.scene_id))
    return uploads


def wait_for_transfers(
    ground_url: str, reader_token: str, expected: int, timeout_s: float
) -> list[dict[str, Any]]:
    """Poll the ground (with a reader token) until ``expected`` transfers have ended."""
    deadline = time.monotonic() + timeout_s
    items: list[dict[str, Any]] = []
    headers = {"Authorization": f"Bearer {reader_token}"}
    with httpx.Client(base_url=ground_url, timeout=30.0, headers=headers) as client:
        while time.monotonic() < deadline:
            body = client.get("/v1/transfers", params={"limit": 1000}).json()
            items = body["items"]
            done = [t for t in items if t["state"] in TERMINAL_STATES]
            if len(done) >= expected:
                return done
            time.sleep(1.0)
    raise DemoTimeoutError(
        f"only {len([t for t in items if t['state'] in TERMINAL_STATES])} of {expected} "
        f"transfers ended within {timeout_s:.0f} s; see the service logs"
    )
