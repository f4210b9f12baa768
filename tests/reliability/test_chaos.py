"""Chaos: scenes flow through the link while a driver SIGKILLs the satellite and the ground at
random instants and takes the link down and up; afterwards every accepted scene is delivered
exactly once, uncorrupted (guarantees 1, 2, 3 and 4 under crashes)."""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from rel_support import (
    Service,
    ground_service,
    satellite_service,
    scenes,
    transfers,
    upload_fire,
    wait_for,
)

pytestmark = pytest.mark.integration


@dataclass
class ChaosRun:
    """What the driver did and saw."""

    accepted: list[str] = field(default_factory=list)
    kills: dict[str, int] = field(default_factory=lambda: {"satellite": 0, "ground": 0})
    link_flaps: int = 0
    restart_s: list[float] = field(default_factory=list)


def _upload_some(sat: Service, run: ChaosRun, rng: random.Random, count: int) -> None:
    for _ in range(count):
        seed = len(run.accepted) * 7919 + rng.randrange(1000)
        try:
            answer = upload_fire(sat.url, seed, lossless="true", bpp="", timeout_s=15)
        except httpx.HTTPError:
            continue  # the satellite is down: not accepted, so not owed
        if answer.status_code == 202:
            run.accepted.append(str(answer.json()["scene_id"]))


def _flap_link(sat: Service, rng: random.Random) -> bool:
    """Put one outage of 0.3-1.5 s on the satellite's link clock, starting now."""
    try:
        view = httpx.get(f"{sat.url}/v1/link", timeout=5).json()
        now = float(view["elapsed_s"])
        profile = dict(view["profile"])
        profile["outages"] = [{"start_s": now, "end_s": now + rng.uniform(0.3, 1.5)}]
        return httpx.put(f"{sat.url}/v1/link", json=profile, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _drive(sat: Service, ground: Service, kills: int, seed: int) -> ChaosRun:
    """Kill a random service at a random instant ``kills`` times, uploading in between."""
    rng, run = random.Random(seed), ChaosRun()
    deadline = time.monotonic() + 60 * max(1, kills)
    for _ in range(kills):
        assert time.monotonic() < deadline, "the chaos driver overran its time budget"
        _upload_some(sat, run, rng, rng.randint(1, 3))
        if rng.random() < 0.4:
            run.link_flaps += _flap_link(sat, rng)
        time.sleep(rng.uniform(0.05, 1.2))
        victim = sat if rng.random() < 0.5 else ground
        victim.kill9()
        run.kills["satellite" if victim is sat else "ground"] += 1
        time.sleep(rng.uniform(0.0, 0.5))
        started = time.monotonic()
        victim.start()
        run.restart_s.append(time.monotonic() - started)
    return run


def _check(sat: Service, ground: Service, run: ChaosRun, timeout_s: float) -> dict[str, Any]:
    def all_delivered() -> dict[str, dict[str, Any]] | None:
        held = scenes(sat.url)
        return held if all(held[s]["state"] == "delivered" for s in run.accepted) else None

    held = wait_for(all_delivered, timeout_s, "every accepted scene to be delivered", 0.5)
    by_scene: dict[str, list[dict[str, Any]]] = {}
    for record in transfers(ground.url):
        by_scene.setdefault(record["scene_id"], []).append(record)
    lost = [s for s in run.accepted if s not in by_scene]
    duplicated = [s for s, records in by_scene.items() if len(records) > 1]
    corrupted = [
        s
        for s in run.accepted
        if s in by_scene
        and (
            by_scene[s][0]["sha256"] != held[s]["container_sha256"]
            or by_scene[s][0]["state"] == "failed"
        )
    ]
    return {"lost": lost, "duplicated": duplicated, "corrupted": corrupted, "held": by_scene}


def _chaos(tmp_path: Path, kills: int, seed: int, settle_s: float) -> None:
    ground = ground_service(tmp_path / "ground", tmp_path / "ground.log").start()
    sat = satellite_service(
        tmp_path / "sat", ground.url, tmp_path / "sat.log", link_rate_bps=400_000
    ).start()
    started = time.monotonic()
    try:
        run = _drive(sat, ground, kills, seed)
        result = _check(sat, ground, run, settle_s)
        processed = wait_for(
            lambda: all(t["state"] in ("processed", "failed") for t in transfers(ground.url)),
            settle_s,
            "the ground to process every transfer",
            0.5,
        )
    finally:
        sat.kill9()
        ground.kill9()
    wall_s = time.monotonic() - started
    print(
        f"\nchaos: {len(run.accepted)} scenes, kills {run.kills}, link flaps {run.link_flaps}, "
        f"lost {len(result['lost'])}, duplicated {len(result['duplicated'])}, "
        f"corrupted {len(result['corrupted'])}, restart mean "
        f"{sum(run.restart_s) / len(run.restart_s):.1f} s, wall {wall_s:.0f} s"
    )
    assert processed and len(run.accepted) >= kills
    assert result["lost"] == [] and result["duplicated"] == [] and result["corrupted"] == []
    assert list((tmp_path / "sat" / "containers").glob("*.eodl")) == []


def test_chaos_a_handful_of_kills_loses_nothing(tmp_path: Path) -> None:
    _chaos(tmp_path, kills=int(os.environ.get("EODL_CHAOS_KILLS", "4")), seed=11, settle_s=90)


@pytest.mark.slow
def test_chaos_fifty_kills_loses_nothing(tmp_path: Path) -> None:
    _chaos(tmp_path, kills=50, seed=2026, settle_s=300)
