"""The plan report: once per pass the satellite tells the ground what the pass carries.

The ground has no channel to the satellite but the downlink, so the plan travels down it: one
small signed ``POST /v1/plans`` (the same key, timeouts and emulated link as the chunks; its
bytes are reserved in the pass's budget). It is best effort: a report that fails is retried at
the next re-plan of the same pass and dropped when the pass ends; the ground keeps one row per
``plan_id`` (satellite key id and pass), so a retried report is not counted twice.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from satellite_node.link.emulator import LinkEmulator, LinkInterruptedError
from shared.protocol.chunks import REQUEST_OVERHEAD_BYTES
from shared.protocol.plans import PlanReport
from shared.protocol.routes import PLANS
from shared.protocol.signing import sign_request

LOG = logging.getLogger(__name__)
_RETRY_STATUS = {401, 408, 425, 429, 507}


def report_body(view: dict[str, Any], satellite: str, max_bytes: int) -> bytes:
    """The report's JSON (a :class:`~shared.protocol.plans.PlanReport`, the model the ground
    validates), its scene list cut (alerts first, as planned) to fit ``max_bytes``.

    Raises:
        pydantic.ValidationError: the applier's view does not make a valid report (a bug).
    """
    report = PlanReport.model_validate(
        {
            **view,
            "plan_id": f"{satellite}:{view['pass_key']}",
            "satellite": satellite,
            "sent_at": time.time(),
            "f1_expected_sum": round(sum(s["f1_expected"] for s in view["scenes"]), 4),
            "scene_count": len(view["scenes"]),
        }
    )
    body = report.model_dump_json().encode()
    while len(body) > max_bytes and report.scenes:
        report = report.model_copy(update={"scenes": report.scenes[:-1]})
        body = report.model_dump_json().encode()
    return body


class PlanReporter:
    """Signed plan reports to the ground.

    Args:
        ground_url: the ground's base URL (a path prefix is kept).
        key, key_id: the satellite's HMAC key and its id (the report's ``satellite``).
        timeout: httpx timeout.
        link: the emulated link the report's bytes cross.
        transport: an httpx transport (tests).
    """

    def __init__(
        self,
        ground_url: str,
        *,
        key: bytes,
        key_id: str,
        timeout: httpx.Timeout,
        link: LinkEmulator,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = ground_url.rstrip("/") + PLANS
        self._path = urlsplit(ground_url.rstrip("/")).path.rstrip("/") + PLANS
        self._key, self._key_id = key, key_id
        self._link = link
        self._http = httpx.Client(timeout=timeout, transport=transport)
        self.sent = 0

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __call__(self, view: dict[str, Any], stop: threading.Event) -> bool:
        """Send one pass's plan; True when the ground has it (or refused it for good)."""
        limit = max(256, int(view["report_reserve_bytes"]) - REQUEST_OVERHEAD_BYTES)
        body = report_body(view, self._key_id, limit)
        headers = sign_request(self._key, self._key_id, "POST", self._path, body)
        headers["Content-Type"] = "application/json"
        try:
            self._link.transmit(len(body) + REQUEST_OVERHEAD_BYTES, stop)
            response = self._http.post(self._url, content=body, headers=headers)
        except (LinkInterruptedError, httpx.HTTPError) as exc:
            LOG.info("plan report of %s not delivered, retried: %s", view["pass_key"], exc)
            return False
        if response.status_code >= 500 and response.status_code != 507:
            return False
        if response.status_code in _RETRY_STATUS:
            return False
        if response.status_code >= 400:
            LOG.warning("the ground refused the plan report: %s", response.text[:300])
        else:
            self.sent += 1
        return True
