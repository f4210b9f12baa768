"""The satellite's API tokens, against a real uvicorn on loopback: no token 401 (before any
body byte is read), a lower role 403, each role exactly its rights, tokens hashed at rest,
and no start at all without tokens unless insecure mode is asked for by name."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sat_harness import ServerThread, raster_for, satellite_settings

from satellite_node.app import create_app
from satellite_node.auth import hash_token, new_token
from satellite_node.client import SatelliteClient, SceneRefused
from shared.errors import ConfigurationError
from shared.protocol.scenes import SceneRequest

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


def test_an_unauthenticated_upload_is_answered_before_its_body_is_sent(satellite: str) -> None:
    host, port = satellite.removeprefix("http://").split(":")
    head = (
        "POST /v1/scenes HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {300 * 1024**2}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(head.encode())  # the headers only: not one byte of the 300 MiB
        answer = connection.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.1 401"), answer
    assert "connection: close" in answer.lower()
    with httpx.Client(base_url=satellite) as probe:
        assert probe.get("/readyz").status_code == 200


def test_tokens_are_kept_as_hashes_and_the_cli_makes_them() -> None:
    secret, entry = new_token("ops", "operator")
    assert entry.sha256 == hash_token(secret) and secret not in entry.model_dump_json()
    assert json.loads(entry.model_dump_json()) == {
        "name": "ops",
        "role": "operator",
        "sha256": hash_token(secret),
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
