"""The dashboard's caches and locks belong to one app, never to the module."""

from __future__ import annotations

from ground_station.dashboard.state import DashboardState


def test_a_chart_is_reused_only_for_the_same_transfers() -> None:
    state = DashboardState()
    state.keep_chart("psnr-bpp", (3, "t-3"), b"png-3")
    assert state.cached_chart("psnr-bpp", (3, "t-3")) == b"png-3"
    assert state.cached_chart("psnr-bpp", (4, "t-4")) is None  # a new transfer: redraw
    assert state.cached_chart("f1-bpp", (3, "t-3")) is None


def test_two_apps_share_no_cache_and_no_lock() -> None:
    first, second = DashboardState(), DashboardState()
    first.keep_chart("link", (1,), b"png")
    assert second.cached_chart("link", (1,)) is None
    assert first.panel_lock("t-1") is not second.panel_lock("t-1")
    assert first.panel_lock("t-1") is first.panel_lock("t-1")
