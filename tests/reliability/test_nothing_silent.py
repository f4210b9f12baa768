"""Nothing dropped silently (guarantee 7) and priority (guarantee 5): a scene the ground keeps
refusing stays onboard and raises the overdue alarm after N passes; the counters say why; an
alert uploaded behind a backlog goes out before the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rel_support import ServerThread, ground_app, post_fire, satellite_app, wait_for

from satellite_node.alarms import passes_between
from satellite_node.link.profile import LinkProfile

pytestmark = pytest.mark.integration


def _metric(text: str, name: str) -> float:
    lines = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(lines[0].split()[-1]) if lines else 0.0


def test_passes_between_counts_pass_starts() -> None:
    profile = LinkProfile(pass_period_s=10, pass_duration_s=4)
    assert passes_between(profile, 0.5, 0.6) == 0
    assert passes_between(profile, 0.5, 35.0) == 3  # starts at 10, 20, 30
    assert passes_between(LinkProfile(), 0.0, 1e6) == 0  # always up: no passes


def test_an_undeliverable_scene_raises_the_overdue_alarm_and_is_kept(tmp_path: Path) -> None:
    # The ground is unreachable (nothing listens on port 9): every try fails, retried forever.
    app = satellite_app(
        tmp_path / "sat",
        "http://127.0.0.1:9",
        pass_period_s=0.4,
        pass_duration_s=0.2,
        alarm_passes=2,
    )
    with TestClient(app) as sat:
        scene_id = post_fire(sat, 1).json()["scene_id"]
        assert _metric(sat.get("/metrics").text, "eodl_sat_overdue_alarm") == 0.0
        text = wait_for(
            lambda: _metric(t := sat.get("/metrics").text, "eodl_sat_overdue_alarm") == 1.0 and t,
            20,
            "the overdue alarm",
        )
        view = sat.get(f"/v1/scenes/{scene_id}").json()
    retries = [line for line in text.splitlines() if line.startswith("eodl_sat_retries_total")]
    print(f"\noverdue alarm raised; scene {view['state']}, attempts {view['attempts']}; {retries}")
    assert _metric(text, "eodl_sat_scenes_overdue") == 1.0
    assert view["state"] in ("queued", "downlinking")  # kept, never dropped
    assert retries and sum(float(line.split()[-1]) for line in retries) >= 1


def test_an_alert_overtakes_a_backlog(tmp_path: Path) -> None:
    with ServerThread(ground_app(tmp_path / "ground")) as ground:
        # slow enough that the backlog (about 0.5 s of link time per scene) cannot drain while
        # the alert is being compressed
        app = satellite_app(tmp_path / "sat", ground.url, link_rate_bps=24_000)
        with TestClient(app) as sat:
            backlog = [post_fire(sat, seed, priority="low").json()["scene_id"] for seed in range(8)]
            alert = post_fire(sat, 100, priority="alert").json()["scene_id"]
            ids = [*backlog, alert]

            def delivered() -> list[dict[str, Any]] | None:
                views = [sat.get(f"/v1/scenes/{s}").json() for s in ids]
                return views if all(v["state"] == "delivered" for v in views) else None

            views = wait_for(
                delivered,
                90,
                "every scene to be delivered",
            )
    order = sorted(views, key=lambda v: v["delivered_at"])
    position = [v["scene_id"] for v in order].index(alert)
    print(f"\npriority: alert delivered {position + 1} of {len(ids)} (uploaded last)")
    # before it at most: the scene on the wire, the one the pipelined sender opened ahead, and
    # one that went while the alert was compressed; 5 or more of the 8 were overtaken
    assert position <= 3
