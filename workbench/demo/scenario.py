"""The demo's scenario: scenes of every task, several codecs and rates, through the link."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from satellite_node.client import SatelliteClient, SceneRefused
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


def learned_qualities(task: str, limit: int = 2) -> list[int]:
    """The qualities a mission would fly for the task: of the shipped learned checkpoints'
    measured qualities, the ``limit`` lowest-rate ones that keep at least
    :data:`MISSION_PSNR_DB` on held-out scenes; without measurements, the lowest and highest.
    """
    from shared.codecs.learned.checkpoint import CheckpointStore

    bands = len(get_profile(task).band_names)
    entries = [e for e in CheckpointStore().candidates(LEARNED_CODEC, bands) if e.manifest.trained]
    entries = [e for e in entries if e.manifest.task in (task, None)] or entries
    measured = {
        q: e.manifest.metrics_at(q).get("psnr_db") for e in entries for q in e.manifest.qualities
    }
    good = sorted(q for q, psnr in measured.items() if psnr and psnr >= MISSION_PSNR_DB)
    if good:
        return good[:limit]
    qualities = sorted(measured)
    if len(qualities) <= limit:
        return qualities
    return [qualities[0], qualities[-1]]


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
