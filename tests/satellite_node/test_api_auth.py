"""The satellite's API tokens, against a real uvicorn on loopback: no token 401 (before any
body byte is read), a lower role 403, each role exactly its rights, tokens hashed at rest,
and no start at all without tokens unless insecure mode is asked for by name."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sat_harness import ServerThread, raster_for, satellite_settings

from satellite_node.app import create_app
from satellite_node.client import SatelliteClient, SceneRefused
from shared.errors import ConfigurationError
from shared.protocol.scenes import SceneRequest
from shared.protocol.tokens import hash_token, new_token

NOWHERE = "http://127.0.0.1:9"
NEVER_UP = {"rate_bps": 2e6, "outages": [{"start_s": 0, "end_s": 1e9}]}


@pytest.fixture(scope="module")
def tokens() -> dict[str, Any]:
    made = {role: new_token(f"{role}-1", role) for role in ("reader", "uploader", "operator")}
    return {role: secret for role, (secret, _) in made.items()} | {
        "entries": [entry for _, entry in made.values()]
    }


@pytest.fixture(scope="module")
def satellite(tmp_path_factory: pytest.TempPathFactory, tokens: dict[str, Any]) -> Iterator[str]:
    settings = satellite_settings(
        tmp_path_factory.mktemp("auth"),
        NOWHERE,
        run_sender=False,
        insecure_no_auth=False,
        api_tokens=tokens["entries"],
    )
    server = ServerThread(create_app(settings)).start()
    yield server.url
    server.stop()


def _as(url: str, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=30.0)


def _upload(url: str, token: str | None) -> httpx.Response:
    with SatelliteClient.connect(url, token=token) as client:
        try:
            client.upload(raster_for("fire", 1), SceneRequest(task="fire", bpp=4.0))
        except SceneRefused as refused:
            return httpx.Response(refused.status_code, json={"detail": refused.detail})
    return httpx.Response(202)


def test_without_a_token_every_route_but_the_probes_answers_401(satellite: str) -> None:
    with _as(satellite, None) as anonymous:
        for method, path in (
            ("GET", "/v1/scenes"),
            ("GET", "/v1/link"),
            ("GET", "/v1/plan"),
            ("GET", "/metrics"),
            ("PUT", "/v1/link"),
        ):
            answer = anonymous.request(method, path, json=NEVER_UP if method == "PUT" else None)
            assert answer.status_code == 401, (method, path, answer.text)
            assert answer.headers["www-authenticate"] == "Bearer"
            assert "Authorization: Bearer" in answer.json()["detail"]
        assert anonymous.get("/healthz").status_code == 200
        assert anonymous.get("/readyz").status_code == 200
    assert _upload(satellite, None).status_code == 401


def test_an_unknown_token_or_a_token_in_a_cookie_is_not_accepted(
    satellite: str, tokens: dict[str, Any]
) -> None:
    with _as(satellite, "not-a-token-of-this-satellite") as stranger:
        answer = stranger.get("/v1/scenes")
    assert answer.status_code == 401
    assert "-1" not in answer.text  # no configured token's name is disclosed
    cookie = httpx.get(f"{satellite}/v1/scenes", cookies={"token": tokens["operator"]})
    assert cookie.status_code == 401  # a browser's ambient credentials never count (no CSRF)


def test_each_role_has_exactly_its_rights(satellite: str, tokens: dict[str, Any]) -> None:
    assert _upload(satellite, tokens["reader"]).status_code == 403
    assert _upload(satellite, tokens["uploader"]).status_code == 202
    assert _upload(satellite, tokens["operator"]).status_code == 202
    with _as(satellite, tokens["reader"]) as reader:
        assert reader.get("/v1/scenes").json()["count"] == 2
        assert reader.get("/metrics").status_code == 200
        assert reader.put("/v1/link", json=NEVER_UP).status_code == 403
    with _as(satellite, tokens["uploader"]) as uploader:
        refused = uploader.put("/v1/link", json=NEVER_UP)  # the never-ending outage attack
        assert refused.status_code == 403 and "operator" in refused.json()["detail"]
        assert uploader.get("/v1/link").json()["profile"]["outages"] == []
    with _as(satellite, tokens["operator"]) as operator:
        assert operator.put("/v1/link", json={"rate_bps": 2e6}).status_code == 200


def _headers_only_upload(url: str, token: str | None = None) -> str:
    """POST /v1/scenes announcing 300 MiB but sending only the headers; the raw answer."""
    host, port = url.removeprefix("http://").split(":")
    head = (
        "POST /v1/scenes HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        + (f"Authorization: Bearer {token}\r\n" if token else "")
        + "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {300 * 1024**2}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(head.encode())  # the headers only: not one byte of the 300 MiB
        return connection.recv(65536).decode("latin-1")


def test_an_unauthenticated_upload_is_answered_before_its_body_is_sent(satellite: str) -> None:
    answer = _headers_only_upload(satellite)
    assert answer.startswith("HTTP/1.1 401"), answer
    assert "connection: close" in answer.lower()
    with httpx.Client(base_url=satellite) as probe:
        assert probe.get("/readyz").status_code == 200


def test_tokens_are_kept_as_hashes_and_the_cli_makes_them() -> None:
    secret, entry = new_token("ops", "operator")
    assert entry.sha256 == hash_token(secret) and secret not in entry.model_dump_json()
    assert json.loads(entry.model_dump_json()) | {"sha256": hash_token(secret)} == {
        "name": "ops",
        "role": "operator",
        "sha256": hash_token(secret),
        "alerts": False,
        "store_share": 1.0,
        "uploads_per_minute": None,
        "upload_bytes_per_minute": None,
    }
    with pytest.raises(ConfigurationError, match="roles: reader, uploader, operator"):
        new_token("ops", "admin")


def test_the_node_does_not_start_without_tokens_unless_told_to(tmp_path: Path) -> None:
    no_tokens = satellite_settings(tmp_path / "a", NOWHERE, insecure_no_auth=False)
    with pytest.raises(ConfigurationError, match="SAT_API_TOKENS"):
        create_app(no_tokens)
    insecure = satellite_settings(tmp_path / "b", NOWHERE, run_sender=False)
    assert insecure.insecure_no_auth
    create_app(insecure)  # explicit: starts (and logs a warning)


def _quota_node(tmp_path: Path, *entries: Any, capacity: int = 10**9) -> ServerThread:
    settings = satellite_settings(
        tmp_path,
        NOWHERE,
        run_sender=False,
        run_worker=False,
        insecure_no_auth=False,
        api_tokens=list(entries),
        capacity_bytes=capacity,
    )
    return ServerThread(create_app(settings)).start()


def _accepted(url: str, token: str, task: str = "fire", seed: int = 1) -> Any:
    with SatelliteClient.connect(url, token=token) as client:
        return client.upload(raster_for(task, seed), SceneRequest(task=task, bpp=4.0))


def test_an_alert_needs_the_alert_right(tmp_path: Path) -> None:
    plain_secret, plain = new_token("field-team", "uploader")
    alert_secret, alerter = new_token("fire-desk", "uploader", alerts=True)
    server = _quota_node(tmp_path, plain, alerter)
    try:
        lowered = _accepted(server.url, plain_secret)  # fire defaults to alert
        assert lowered.priority == "high"
        assert "may not send alerts" in lowered.notes[0]
        kept = _accepted(server.url, alert_secret)
        assert kept.priority == "alert" and kept.notes == []
        with SatelliteClient.connect(server.url, token=alert_secret) as client:
            assert client.scene(lowered.scene_id).priority == "high"
            assert client.scene(lowered.scene_id).uploader == "field-team"
    finally:
        server.stop()


def test_no_uploader_holds_more_than_its_share_of_the_store(tmp_path: Path) -> None:
    one_scene = raster_for("fire", 1).nbytes + 128  # .npy bytes, header included
    greedy_secret, greedy = new_token("greedy", "uploader", store_share=0.5)
    other_secret, other = new_token("other", "uploader", store_share=0.5)
    server = _quota_node(tmp_path, greedy, other, capacity=3 * one_scene)
    try:
        _accepted(server.url, greedy_secret, seed=1)
        with pytest.raises(SceneRefused, match="over its share") as refused:
            _accepted(server.url, greedy_secret, seed=2)
        assert refused.value.status_code == 429
        assert _accepted(server.url, other_secret, seed=3).state == "received"
    finally:
        server.stop()


def test_upload_rates_are_limited_per_token_before_the_body(tmp_path: Path) -> None:
    limited_secret, limited = new_token("limited", "uploader", uploads_per_minute=2)
    small_secret, small = new_token("small", "uploader", upload_bytes_per_minute=1000)
    server = _quota_node(tmp_path, limited, small)
    try:
        _accepted(server.url, limited_secret, seed=1)
        _accepted(server.url, limited_secret, seed=2)
        answer = _headers_only_upload(server.url, limited_secret)
        assert answer.startswith("HTTP/1.1 429"), answer
        retry = re.search(r"retry-after: (\d+)", answer.lower())
        assert retry is not None and 1 <= int(retry.group(1)) <= 30  # one upload every 30 s
        with pytest.raises(SceneRefused, match="alone is more than") as too_big:
            _accepted(server.url, small_secret)
        assert too_big.value.status_code == 429
    finally:
        server.stop()
