"""Ground reads, against a real uvicorn on loopback: closed by default; open to the
satellite's signature, a reader token, or a dashboard session cookie got by signing in once;
the cookie is HttpOnly and SameSite=Strict, cannot be forged, expires, and never writes."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gs_support import ground_settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "satellite_node"))
from sat_harness import ServerThread  # noqa: E402

from ground_station.api.access import COOKIE, issue_session, session_key  # noqa: E402
from ground_station.app import create_app  # noqa: E402
from shared.protocol.tokens import new_token  # noqa: E402

READER_TOKEN, READER = new_token("analyst", "reader")
READS = ("/v1/transfers", "/v1/summary", "/v1/plans", "/metrics", "/dashboard/charts/link.png")


@pytest.fixture(scope="module")
def ground(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("reads")
    settings = ground_settings(
        root / "gs",
        public_reads=False,
        read_tokens=[READER],
        segmenter_dir=root / "none",
    )
    server = ServerThread(create_app(settings)).start()
    yield server.url
    server.stop()


def _client(url: str, **kwargs: Any) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=30.0, follow_redirects=False, **kwargs)


def test_reads_are_closed_by_default(ground: str) -> None:
    with _client(ground) as anonymous:
        for path in READS:
            answer = anonymous.get(path)
            assert answer.status_code == 401, (path, answer.text)
            assert "/signin" in answer.json()["detail"]
        page = anonymous.get("/")
        assert page.status_code == 303 and page.headers["location"] == "/signin?next=/"
        assert anonymous.get("/dashboard/static/dashboard.css").status_code == 200
        assert anonymous.get("/signin").status_code == 200
        assert anonymous.get("/readyz").status_code == 200


def test_a_reader_token_opens_reads_and_an_unknown_one_does_not(ground: str) -> None:
    with _client(ground, headers={"Authorization": f"Bearer {READER_TOKEN}"}) as reader:
        for path in READS:
            assert reader.get(path).status_code == 200, path
    with _client(ground, headers={"Authorization": "Bearer not-a-token"}) as stranger:
        assert stranger.get("/v1/transfers").status_code == 401


def test_signing_in_sets_a_strict_httponly_session_that_opens_reads(ground: str) -> None:
    with _client(ground) as browser:
        wrong = browser.post("/signin", data={"token": "guess"})
        assert wrong.status_code == 401 and 'role="alert">' in wrong.text
        assert COOKIE not in browser.cookies
        answer = browser.post("/signin?next=/transfers/x-1", data={"token": READER_TOKEN})
        assert answer.status_code == 303 and answer.headers["location"] == "/transfers/x-1"
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
        assert browser.get("/v1/transfers").status_code == 200
        assert browser.get("/").status_code == 200
        created = browser.post("/v1/transfers", json={"transfer_id": "t-1"})
        assert created.status_code == 401  # a session reads; every write stays signed
        assert browser.post("/signout").status_code == 303
        assert browser.get("/v1/transfers").status_code == 401


def test_a_forged_tampered_or_expired_session_is_refused(ground: str) -> None:
    key = session_key(b"0123456789abcdef-not-the-key")
    forged = issue_session("analyst", key, 3600)
    with _client(ground, cookies={COOKIE: forged}) as forger:
        assert forger.get("/v1/transfers").status_code == 401
    with _client(ground) as browser:
        browser.post("/signin", data={"token": READER_TOKEN})
        value = browser.cookies[COOKIE]
    body, mac = value.split(".")
    with _client(ground, cookies={COOKIE: f"{body}x.{mac}"}) as tamperer:
        assert tamperer.get("/v1/transfers").status_code == 401
    from gs_support import LINK_KEY

    expired = issue_session("analyst", session_key(LINK_KEY.encode()), 60, now=time.time() - 120)
    with _client(ground, cookies={COOKIE: expired}) as late:
        assert late.get("/v1/transfers").status_code == 401


def test_sign_in_never_redirects_off_the_site(ground: str) -> None:
    with _client(ground) as browser:
        for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
            answer = browser.post(f"/signin?next={target}", data={"token": READER_TOKEN})
            assert answer.status_code == 303 and answer.headers["location"] == "/", target
