"""Plan reports: the satellite's pass plan, signed, kept once per plan id, shown newest first."""

from __future__ import annotations

import json
from typing import Any

from gs_support import Link

from satellite_node.planner.passes import PassLedger, ReleasedScene
from satellite_node.planner.report import report_body


def satellite_report(
    pass_key: str = "pass-12.000", scenes: int = 2, budget_bytes: int = 16_000
) -> dict[str, Any]:
    """A report exactly as the satellite builds it from a pass ledger."""
    ledger = PassLedger(
        key=pass_key,
        planned_at_s=7.5,
        pass_start_s=10.0,
        pass_end_s=12.0,
        budget_bytes=budget_bytes,
        report_reserve_bytes=2_000,
        carried={"c" * 32: 1_000},
        link_bits_at_start=0,
    )
    for i in range(scenes):
        sid = f"{i:02x}{'a' * 30}"
        ledger.released[sid] = ReleasedScene(
            sid, "cloud", 2, i == 0, "jpeg2000", 0.25, 2_100, 3_500, 0.77, True
        )
    ledger.deferred = ["d" * 32]
    return dict(json.loads(report_body(ledger.view(), "sat-1", 1_500)))


def test_a_signed_plan_is_kept_and_shown_with_its_budget_use(link: Link) -> None:
    assert link.client.get("/v1/plans/latest").status_code == 404
    report = satellite_report()
    answer = link.post_json("/v1/plans", report)
    assert answer.status_code == 200, answer.text
    again = link.post_json("/v1/plans", {**report, "budget_bytes": 1})  # a retried report
    assert again.json() == answer.json()
    latest = link.client.get("/v1/plans/latest").json()
    assert latest["plan_id"] == "sat-1:pass-12.000" and latest["budget_bytes"] == 16_000
    assert [s["scene_id"] for s in latest["scenes"]] == [f"{i:02x}{'a' * 30}" for i in range(2)]
    assert latest["budget_used"] == (7_000 + 1_000) / 16_000
    assert latest["deferred"] == ["d" * 32] and latest["f1_expected_sum"] == 1.54


def test_the_newest_plan_comes_first(link: Link) -> None:
    for key in ("pass-2.000", "pass-7.000", "pass-12.000"):
        assert link.post_json("/v1/plans", satellite_report(key)).status_code == 200
    keys = [p["pass_key"] for p in link.client.get("/v1/plans").json()]
    assert keys == ["pass-12.000", "pass-7.000", "pass-2.000"]
    assert link.client.get("/v1/plans/latest").json()["pass_key"] == "pass-12.000"


def test_a_long_plan_is_cut_to_its_reserve_alerts_kept(link: Link) -> None:
    report = satellite_report(scenes=40)
    assert len(json.dumps(report, separators=(",", ":"))) <= 1_500
    assert report["scene_count"] == 40 and report["scenes"][0]["alert"]
    assert link.post_json("/v1/plans", report).status_code == 200


def test_unsigned_or_malformed_plans_are_refused(link: Link) -> None:
    body = json.dumps(satellite_report()).encode()
    unsigned = link.client.post("/v1/plans", content=body)
    assert unsigned.status_code == 401
    bad = link.post_json("/v1/plans", {**satellite_report(), "budget_bytes": -5})
    assert bad.status_code == 422 and "budget_bytes" in bad.json()["detail"]
    assert link.client.get("/v1/plans/latest").status_code == 404


def test_a_pass_over_a_fast_link_keeps_its_budget(link: Link) -> None:
    """10 Gbit/s for 10 minutes is 750 GB: beyond a 32-bit column (PostgreSQL refused it)."""
    report = satellite_report("pass-600.000", budget_bytes=750_000_000_000)
    assert link.post_json("/v1/plans", report).status_code == 200
    assert link.client.get("/v1/plans/latest").json()["budget_bytes"] == 750_000_000_000
