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
    """Guarantee 5, defined so that it can fail: once the alert is queued (compressed), the
    next chunk the sender starts is the alert's first; chunks already in flight finish. The
    one allowance is the store's commit: a chunk decided in the instant between the alert's
    queue time and its commit (at most one, within 0.1 s) may still go first."""
    with ServerThread(ground_app(tmp_path / "ground")) as ground:
        # slow enough that the backlog (about 0.5 s of link time per scene) cannot drain while
        # the alert is being compressed; 256-byte chunks: each scene takes about eight, so a
        # sender that finished its current scene first would start several before the alert
        app = satellite_app(
            tmp_path / "sat", ground.url, link_rate_bps=24_000, chunk_bytes=256, plan="advise"
        )
        with TestClient(app) as sat:
            backlog = [post_fire(sat, seed, priority="low").json()["scene_id"] for seed in range(8)]
            journal = app.state.context.sender.stats.chunk_starts
            wait_for(lambda: len(journal) >= 2, 30, "the backlog's chunks to be on the wire")
            alert = post_fire(sat, 100, priority="alert").json()["scene_id"]
            ids = [*backlog, alert]

            def delivered() -> list[dict[str, Any]] | None:
                views = [sat.get(f"/v1/scenes/{s}").json() for s in ids]
                return views if all(v["state"] == "delivered" for v in views) else None

            views = wait_for(delivered, 90, "every scene to be delivered")
            started = list(journal)
    queued_at = next(v["queued_at"] for v in views if v["scene_id"] == alert)
    first = next(t for t, scene, index in started if scene == alert and index == 0)
    between = [(t, s) for t, s, _ in started if queued_at < t < first and s != alert]
    order = [v["scene_id"] for v in sorted(views, key=lambda v: v["delivered_at"])]
    print(
        f"\npriority: alert queued, its first chunk {1000 * (first - queued_at):.0f} ms later; "
        f"{len(between)} other chunks started in between; delivered {order.index(alert) + 1} "
        f"of {len(ids)} (uploaded last)"
    )
    assert any(t < queued_at for t, _, _ in started)  # the backlog was being sent already
    assert len(between) <= 1 and all(t - queued_at < 0.1 for t, _ in between), between
