"""The docker-compose downlink on a real engine: build the images (on a local Debian base where
no registry is reachable), ``docker-compose up``, upload scenes of the three tasks through the
satellite's published port, and check that the ground processes each exactly once, across a
pass schedule run by the link container and a ``docker kill`` of the satellite mid-transfer;
then ``down`` and ``up`` lose nothing. Prints build times, image sizes, the time from ``up`` to
the first processed transfer and the goodput through the link container (``goodput.py``).

As root, with docker.io and docker-compose installed: ``make compose-test``. It starts its own
dockerd (``docker_engine.py``) and skips, saying why, where none can start. The images and the
build cache stay in that engine's data root (/var/lib/eodl-docker) so that the next run
reuses them; the containers, networks and volumes it made are removed.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import pytest
from docker_engine import BASE_IMAGE, Engine, engine_skip_reason, ensure_base_image, start_engine
from goodput import Figures, counter_at, measure
from netns_harness import ByteSampler
from ns_client import queued_times

from shared.protocol.tokens import new_token

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE = REPO_ROOT / "deploy" / "docker-compose.yml"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
PROJECT = "eodl-composetest"
LINK_KEY = "compose-test-link-key-0123456789"
IMAGES = {
    "satellite": "eodl-satellite:latest",
    "ground": "eodl-ground:latest",
    "postgres": "eodl-postgres:latest",
}
RATE_BPS = 2_000_000
PASS_PERIOD_S, PASS_DURATION_S = 20, 14  # 6 s outages, from the link container's start
NOISY_SIDE = 1024  # noisy 10-bit cloud scenes, lossless: about 1.4 MB (6 s of link) each
T = TypeVar("T")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    reason = engine_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    try:
        running = start_engine(tmp_path_factory.mktemp("dockerd"))
    except (RuntimeError, OSError) as exc:
        pytest.skip(f"no Docker engine can start here: {exc}")
    try:
        yield running
    finally:
        running.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(
    predicate: Callable[[], T | None], timeout_s: float, what: str, every_s: float = 1.0
) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _build(engine: Engine) -> dict[str, float]:
    """Build the images on the local base, PyPI only; seconds per image."""
    secret = ["--secret", f"id=pip-ca,src={CA_BUNDLE}"] if CA_BUNDLE.is_file() else []
    seconds = {}
    for service, tag in IMAGES.items():
        started = time.monotonic()
        engine.run(
            "build", "-f", f"deploy/Dockerfile.{service}", "-t", tag, *secret,
            "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "--build-arg", "TORCH_INDEX_URL=",
            str(REPO_ROOT), timeout_s=3600,
        )  # fmt: skip
        seconds[service] = time.monotonic() - started
    # the images a rebuild replaced (untagged, about 6.7 GB each with their own layers) go;
    # the build cache and the current images' layers stay for the next run
    engine.run("image", "prune", "--force")
    return seconds


def _image_sizes(engine: Engine) -> str:
    listed = engine.run("image", "ls", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}").stdout
    shared = engine.run("system", "df", "--format", "{{.Type}} {{.Size}}").stdout
    return "; ".join(listed.split("\n")[:-1]) + " | docker system df: " + shared.replace("\n", "; ")


UPLOADER_TOKEN, UPLOADER = new_token("compose-test", "uploader", alerts=True)
READER_TOKEN, READER = new_token("compose-reader", "reader")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Deployment:
    """The compose project under test: its settings, commands and the two published APIs."""

    def __init__(self, engine: Engine, folder: Path) -> None:
        self.engine = engine
        self.sat_port, self.ground_port = _free_port(), _free_port()
        self.env_file = folder / "compose.env"
        settings = {
            "SAT_LINK_KEY": LINK_KEY,
            "SATELLITE_PORT": self.sat_port,
            "GROUND_PORT": self.ground_port,
            "EODL_ENV_FILE": self.env_file,
            "LINK_RATE": "2mbit",
            "LINK_UPLINK_RATE": "256kbit",
            "LINK_PASS_PERIOD_S": PASS_PERIOD_S,
            "LINK_PASS_DURATION_S": PASS_DURATION_S,
            "SAT_CHUNK_BYTES": 262144,
            "GS_DEVICE": "cpu",
            # an outage drops SYNs silently: a probe gives up after 1 s and the next one
            # starts, so a pass start is seen within about a second (default 5 s)
            "SAT_CONNECT_TIMEOUT_S": 1,
            # the satellite admits an uploader (fire scenes are alerts), the ground a reader
            "SAT_API_TOKENS": f"[{UPLOADER.model_dump_json()}]",
            "GS_READ_TOKENS": f"[{READER.model_dump_json()}]",
        }
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        self.sat = httpx.Client(
            base_url=f"http://127.0.0.1:{self.sat_port}",
            timeout=60.0,
            headers=_bearer(UPLOADER_TOKEN),
        )
        self.ground = httpx.Client(
            base_url=f"http://127.0.0.1:{self.ground_port}",
            timeout=60.0,
            headers=_bearer(READER_TOKEN),
        )

    def compose(self, *args: str, timeout_s: float = 300.0) -> str:
        base = ["docker-compose", "-p", PROJECT, "--env-file", str(self.env_file)]
        return self.engine.run(*base, "-f", str(COMPOSE), *args, timeout_s=timeout_s).stdout

    def container(self, service: str) -> str:
        return self.compose("ps", "-q", service).strip()

    def pid(self, service: str) -> int:
        return int(
            self.engine.run("inspect", "-f", "{{.State.Pid}}", self.container(service)).stdout
        )

    def link_events(self) -> list[tuple[float, str, dict[str, str]]]:
        """The link container's events: (unix time, event, fields)."""
        logs = self.engine.run("logs", self.container("link")).stdout.splitlines()
        events = []
        for line in logs:
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "eodl-link:" and parts[1][0].isdigit():
                fields = dict(p.split("=", 1) for p in parts[3:] if "=" in p)
                events.append((float(parts[1]), parts[2], fields))
        return events

    def scenes(self) -> dict[str, dict[str, Any]]:
        answer = self.sat.get("/v1/scenes")
        answer.raise_for_status()
        return {s["scene_id"]: s for s in answer.json()["scenes"]}

    def transfers(self) -> list[dict[str, Any]]:
        answer = self.ground.get("/v1/transfers", params={"limit": 1000})
        answer.raise_for_status()
        return list(answer.json()["items"])

    def upload(self, raster: Path, task: str, mask: Path | None = None, **form: str) -> str:
        files = {"raster": (raster.name, raster.read_bytes(), "application/octet-stream")}
        if mask is not None:
            files["mask"] = (mask.name, mask.read_bytes(), "application/octet-stream")
        answer = self.sat.post("/v1/scenes", data={"task": task, **form}, files=files)
        assert answer.status_code == 202, f"{raster.name}: {answer.status_code} {answer.text}"
        return str(answer.json()["scene_id"])

    def wait_ready(self) -> None:
        """Both published APIs answer /readyz (``up -d`` returns once the satellite started)."""
        for client in (self.ground, self.sat):
            _wait(
                lambda c=client: c.get("/readyz").status_code == 200,
                180,
                f"{client.base_url}/readyz",
            )

    def all_processed(self, scene_ids: list[str]) -> list[dict[str, Any]] | None:
        transfers = [t for t in self.transfers() if t["scene_id"] in scene_ids]
        done = {t["scene_id"] for t in transfers if t["state"] in ("processed", "failed")}
        return transfers if done >= set(scene_ids) else None


def _task_scenes(folder: Path) -> list[tuple[str, Path, Path]]:
    """One synthetic scene of each task, with its truth mask (so the ground reports F1)."""
    from workbench.datasets.generate import write_dataset

    scenes = []
    for task in ("fire", "cloud", "building"):
        (entry,) = write_dataset(task, 1, 7, folder / task)
        raster = folder / task / f"{entry.id}.npy"
        scenes.append((task, raster, raster.with_name(f"{entry.id}.mask.npy")))
    return scenes


def _noisy_scenes(folder: Path, count: int, first_seed: int) -> list[Path]:
    """Noisy 10-bit cloud scenes: lossless JPEG 2000 cannot shrink them much (bytes to carry)."""
    paths = []
    for seed in range(first_seed, first_seed + count):
        rng = np.random.default_rng(seed)
        raster = (3000 + rng.integers(0, 1024, (1, NOISY_SIDE, NOISY_SIDE))).astype(np.uint16)
        path = folder / f"noisy-{seed}.npy"
        np.save(path, raster, allow_pickle=False)
        paths.append(path)
    return paths


def _upload_tasks(deployment: Deployment, tmp_path: Path) -> dict[str, str]:
    """One scene of each task, codec auto, with its mask; the task of each scene id."""
    return {
        deployment.upload(raster, task, mask, codec="auto"): task
        for task, raster, mask in _task_scenes(tmp_path)
    }


def _upload_for_goodput(
    deployment: Deployment, tmp_path: Path
) -> tuple[list[str], dict[str, float]]:
    """The netns test's five noisy lossless scenes; their ids, and when the first and last
    were queued (seen ready to send)."""
    noisy = _noisy_scenes(tmp_path, 5, 0)
    watched: dict[str, dict[str, float]] = {}
    url = str(deployment.sat.base_url).rstrip("/")
    before = len(deployment.scenes())
    watcher = threading.Thread(
        target=lambda: watched.update(
            q=queued_times(url, before + len(noisy), 120, _bearer(UPLOADER_TOKEN))
        )
    )
    watcher.start()
    ids = [deployment.upload(p, "cloud", codec="jpeg2000", lossless="true") for p in noisy]
    watcher.join(150)
    assert "q" in watched, "the scenes were not all queued within 120 s"
    return ids, watched["q"]


def _goodput(
    deployment: Deployment,
    ids: list[str],
    samples: list[tuple[float, int]],
    queued: dict[str, float],
) -> Figures:
    scenes = [s for i, s in deployment.scenes().items() if i in ids]
    events = deployment.link_events()
    ups = [t for t, name, _ in events if name in ("link-up", "shaped")][:1]
    ups += [t for t, name, _ in events if name == "link-up"]
    downs = [t for t, name, _ in events if name == "link-down"]
    t_end = max(s["delivered_at"] for s in scenes)
    payload = sum(s["container_bytes"] for s in scenes)
    return measure(RATE_BPS, payload, samples, ups, downs, queued["first"], t_end)


def _check_records(transfers: list[dict[str, Any]], by_task: dict[str, str]) -> str:
    """Every transfer processed, verified, with its figures; the task scenes with F1."""
    lines = []
    for transfer in transfers:
        assert transfer["state"] == "processed", (transfer["reason"], transfer)
        # a learned container carries its reconstruction check; a classical one (the noisy
        # lossless JPEG 2000 scenes) needs none in container version 2: null, never false
        learned = transfer["codec"] != "jpeg2000"
        assert transfer["digest_verified"] is (True if learned else None), transfer
        assert transfer["bpp"] is not None and transfer["bpp"] > 0, transfer
        if transfer["scene_id"] in by_task:
            assert transfer["task"] == by_task[transfer["scene_id"]]
            assert transfer["psnr_db"] is not None and transfer["f1_positive"] is not None, transfer
            lines.append(
                f"{transfer['task']}: {transfer['codec']} bpp {transfer['bpp']:.3f}, PSNR "
                f"{transfer['psnr_db']:.2f} dB, F1+ {transfer['f1_positive']:.3f}, F1 "
                f"{transfer['f1_macro']:.3f}"
            )
    return "; ".join(lines)


def _in_flight(deployment: Deployment, scene_ids: list[str]) -> str | None:
    """A scene being downlinked while the link is up (its last event is link-up)."""
    events = [name for _, name, _ in deployment.link_events() if name.startswith("link-")]
    if events and events[-1] != "link-up":
        return None
    scenes = deployment.scenes()
    return next((i for i in scene_ids if scenes[i]["state"] == "downlinking"), None)


def _kill_and_restart(deployment: Deployment, tmp_path: Path) -> tuple[list[str], str]:
    """Upload three more scenes, ``docker kill`` the satellite while one is in flight (the
    ground holds part of it), start it again; returns the scene ids and what happened."""
    ids = [
        deployment.upload(p, "cloud", codec="jpeg2000", lossless="true")
        for p in _noisy_scenes(tmp_path, 3, 100)
    ]
    victim = _wait(lambda: _in_flight(deployment, ids), 120, "a scene in flight", every_s=0.2)
    partial = _wait(
        lambda: next(
            (t for t in deployment.transfers() if t["scene_id"] == victim and t["received_chunks"]),
            None,
        ),
        30, "the first chunks of the scene in flight", every_s=0.2,
    )  # fmt: skip
    container = deployment.container("satellite")
    deployment.engine.run("kill", container)
    killed_at = time.monotonic()
    deployment.engine.run("start", container)
    deployment.wait_ready()
    back_s = time.monotonic() - killed_at
    assert set(ids) <= set(deployment.scenes()), "the onboard store lost scenes in the kill"
    note = (
        f"docker kill while scene {victim[:8]} was downlinking ({partial['received_chunks']} of"
        f" {partial['chunk_count']} chunks at the ground); ready again {back_s:.1f} s later"
    )
    return ids, note


def _check_exactly_once(deployment: Deployment, ids: list[str], by_task: dict[str, str]) -> str:
    transfers = _wait(lambda: deployment.all_processed(ids), 300, "every scene processed")
    _check_records(transfers, by_task)
    per_scene = Counter(t["scene_id"] for t in deployment.transfers())
    duplicates = {k: n for k, n in per_scene.items() if n > 1}
    assert not duplicates, f"scenes recorded more than once: {duplicates}"
    assert set(per_scene) == set(ids), "the ground holds scenes nobody uploaded, or misses some"
    processed = sum(1 for t in transfers if t["state"] == "processed")
    return f"{len(ids)} scenes uploaded, {processed} processed, {len(duplicates)} duplicates"


def _down_and_up(deployment: Deployment, ids: list[str]) -> str:
    """``down`` (volumes kept) and ``up`` again: the ground's records and the onboard store
    are the same as before."""

    def records() -> list[tuple[str, str]]:
        return sorted((t["transfer_id"], t["state"]) for t in deployment.transfers())

    before = records()
    deployment.compose("down", "--timeout", "10")
    deployment.compose("up", "-d", "--no-build")
    deployment.wait_ready()
    assert records() == before, "down and up lost or changed transfers"
    assert set(deployment.scenes()) == set(ids), "down and up lost onboard scenes"
    return f"down and up: {len(before)} transfers and {len(ids)} onboard scenes kept"


def _outage_bytes(figures: Figures, samples: list[tuple[float, int]]) -> int:
    """Bytes that reached the ground between passes: what the proxy's buffers held when the
    satellite side went down (counted as delivered, but not against the up time)."""
    gaps = zip([b for _, b in figures.passes[:-1]], [a for a, _ in figures.passes[1:]], strict=True)
    return sum(counter_at(samples, b) - counter_at(samples, a) for a, b in gaps)


def _outage_line(figures: Figures, samples: list[tuple[float, int]]) -> str:
    """The proxy queues up to 64 reads per direction (``_QUEUE_PIECES`` in
    workbench/link_proxy.py, up to 4 MiB): what it holds when the satellite side goes down
    still reaches the ground during the outage. Goodput without those bytes is a lower bound."""
    held = _outage_bytes(figures, samples)
    floor = (figures.payload_bytes - held) * 8 / (RATE_BPS * figures.up_s)
    return (
        f"; {held} bytes reached the ground during outages (held by the proxy); goodput "
        f"without them {100 * floor:.1f}%"
    )


def _goodput_line(figures: Figures, scenes: int) -> str:
    per_pass = ", ".join(f"{100 * share:.1f}%" for share in figures.pass_wire_shares())
    return (
        f"compose link at {RATE_BPS / 1e6:.1f} Mbit/s: {scenes} scenes, "
        f"{figures.payload_bytes} container bytes; goodput during passes "
        f"{figures.goodput_share * RATE_BPS / 1e6:.3f} Mbit/s = "
        f"{100 * figures.goodput_share:.1f}% of the shaped rate over {figures.up_s:.1f} s of "
        f"{len(figures.passes)} passes with data queued (wire {100 * figures.wire_share:.1f}%; "
        f"per pass {per_pass})"
        "; pass start to first byte: "
        + ", ".join(f"{d:.2f} s" for d in figures.first_byte_delays_s)
    )


@pytest.mark.timeout(5400)
def test_compose_downlink_end_to_end(engine: Engine, tmp_path: Path) -> None:
    base_s = ensure_base_image(engine)
    cold = engine.run("image", "inspect", *IMAGES.values(), check=False).returncode != 0
    build_s = _build(engine)
    made = f"made in {base_s:.0f} s" if base_s else "reused"
    print(
        f"\nbase image {BASE_IMAGE}: {made}; "
        f"{'cold' if cold else 'warm'} build: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in build_s.items())
        + f"\nimage sizes: {_image_sizes(engine)}"
    )
    deployment = Deployment(engine, tmp_path)
    try:
        _run_deployment(deployment, tmp_path)
    finally:
        deployment.compose("down", "-v", "--remove-orphans", "--timeout", "10")
    for kind in ("container", "volume", "network"):
        label = f"label=com.docker.compose.project={PROJECT}"
        left = engine.run(
            kind, "ls", "-q", *(["-a"] if kind == "container" else []), "--filter", label
        )
        assert not left.stdout.strip(), f"{kind}s left behind: {left.stdout.split()}"
    assert not engine.run("volume", "ls", "-q", "--filter", "dangling=true").stdout.strip(), (
        "anonymous volumes left behind"
    )


def _first_pass(
    deployment: Deployment, tmp_path: Path, up_at: float
) -> tuple[dict[str, str], list[str], str]:
    """The three tasks' scenes, then the goodput scenes once those are processed; the
    records, the dashboard, and the goodput through the link container."""
    by_task = _upload_tasks(deployment, tmp_path)
    _wait(
        lambda: any(t["state"] == "processed" for t in deployment.transfers()),
        300, "the first processed transfer",
    )  # fmt: skip
    first_s = time.monotonic() - up_at
    _wait(lambda: deployment.all_processed(list(by_task)), 300, "the task scenes processed")
    link_events = deployment.link_events()
    downlink_dev = next(f["dev"] for _, n, f in link_events if f.get("role") == "downlink")
    with ByteSampler(deployment.pid("link"), downlink_dev) as sampler:
        noisy, queued = _upload_for_goodput(deployment, tmp_path)
        ids = [*by_task, *noisy]
        transfers = _wait(lambda: deployment.all_processed(ids), 300, "every scene processed")
    figures = _goodput(deployment, noisy, sampler.samples, queued)
    records = _check_records(transfers, by_task)
    dashboard = deployment.ground.get("/")
    assert dashboard.status_code == 200 and "<html" in dashboard.text.lower()
    summary = deployment.ground.get("/v1/summary").json()["groups"]
    assert {g["task"] for g in summary} == {"fire", "cloud", "building"}
    assert figures.wire_share <= 1.0, f"more than the shaped rate crossed the link: {figures}"
    report = (
        f"up to the first processed transfer: {first_s:.1f} s\nrecords: {records}; "
        f"dashboard / answers {dashboard.status_code}; /v1/summary: {json.dumps(summary)}\n"
        + _goodput_line(figures, len(noisy))
        + _outage_line(figures, sampler.samples)
    )
    return by_task, ids, report


def _run_deployment(deployment: Deployment, tmp_path: Path) -> None:
    up_at = time.monotonic()
    deployment.compose("up", "-d", "--no-build")
    deployment.wait_ready()
    up_s = time.monotonic() - up_at
    by_task, ids, first_report = _first_pass(deployment, tmp_path, up_at)
    more, kill_note = _kill_and_restart(deployment, tmp_path)
    ids += more
    counted = _check_exactly_once(deployment, ids, by_task)
    kept = _down_and_up(deployment, ids)
    print(
        f"up -d until both APIs are ready: {up_s:.1f} s; {first_report}\n"
        f"kill and restart: {kill_note}; {counted}; {kept}"
    )
