"""``GET /v1/plan``: the next pass's budget and scenes, real container sizes, alerts first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sat_harness import raster_for, satellite_settings, upload, wait_states

from satellite_node.app import create_app

NOWHERE = "http://127.0.0.1:9"  # the sender is off: scenes stay queued


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = satellite_settings(tmp_path, NOWHERE, run_sender=False)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _queue(client: TestClient) -> dict[str, dict]:
    ids = []
    for task, seed, bpp in (("cloud", 1, "0.5"), ("cloud", 2, "0.5"), ("fire", 3, "2")):
        response = upload(client, raster_for(task, seed), task, bpp=bpp)
        assert response.status_code == 202
        ids.append(response.json()["scene_id"])
    views = wait_states(client, ids, ("queued", "failed"), 90)
    assert all(v["state"] == "queued" for v in views)
    return {v["scene_id"]: v for v in views}


def test_plan_fits_the_pass_sends_alerts_first_and_uses_real_sizes(client: TestClient) -> None:
    views = _queue(client)
    fire = next(v for v in views.values() if v["task"] == "fire")
    clouds = [v for v in views.values() if v["task"] == "cloud"]
    budget = fire["container_bytes"] + clouds[0]["container_bytes"] + 10  # room for one cloud
    now = client.get("/v1/link").json()["elapsed_s"]
    rate_bps = 8000.0
    window = {"start_s": now + 5, "end_s": now + 5 + budget * 8 / rate_bps}
    assert (
        client.put("/v1/link", json={"rate_bps": rate_bps, "windows": [window]}).status_code == 200
    )
    plan = client.get("/v1/plan").json()
    assert plan["budget_bytes"] == pytest.approx(budget, abs=2)
    assert plan["planned_bytes"] <= plan["budget_bytes"]
    assert plan["scenes"][0]["scene_id"] == fire["scene_id"] and plan["scenes"][0]["alert"]
    for planned in plan["scenes"]:  # the bytes that will cross the link, not an estimate
        assert planned["container_bytes"] == views[planned["scene_id"]]["container_bytes"]
        assert planned["measured_bytes"]
    assert len(plan["scenes"]) == 2 and len(plan["deferred"]) == 1
    assert plan["f1_expected_sum"] > 0
    # which F1 curves the plan used: measured where the shipped table has them
    assert plan["curve_sources"]["fire/jpeg2000"].startswith("measured")


def test_without_a_pass_left_nothing_is_planned(client: TestClient) -> None:
    _queue(client)
    now = client.get("/v1/link").json()["elapsed_s"]
    past = {"start_s": 0.0, "end_s": max(now - 0.5, 0.001)}
    client.put("/v1/link", json={"rate_bps": 1e6, "windows": [past]})
    plan = client.get("/v1/plan").json()
    assert plan["budget_bytes"] == 0 and plan["scenes"] == [] and len(plan["deferred"]) == 3
    assert client.get("/v1/plan", params={"horizon_s": -1}).status_code == 422
