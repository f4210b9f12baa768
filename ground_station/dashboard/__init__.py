"""The ground dashboard: transfers table, one transfer's imagery and metrics, and the charts.

Served by the ground station (``app.include_router(dashboard.router)``); vanilla JS and CSS
shipped in ``static/``, charts and panels rendered server-side with matplotlib (no CDN).
"""

from ground_station.dashboard.routes import router

__all__ = ["router"]
