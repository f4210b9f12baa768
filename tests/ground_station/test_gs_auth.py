"""Only requests signed with the satellite's key, fresh and unreplayed, reach the protocol."""

from __future__ import annotations

import json
import time

from gs_support import LINK_KEY, Link

from shared.protocol.signing import HEADER_SIGNATURE, sign_request

CREATE = {
    "transfer_id": "t-auth",
    "scene_id": "s",
    "total_bytes": 10,
    "sha256": "ab" * 32,
    "chunk_bytes": 1024,
    "priority": 0,
    "task": "fire",
    "codec": "jpeg2000",
    "header": {},
}


def _post(link: Link, headers: dict[str, str], body: bytes) -> int:
    answer = link.client.post("/v1/transfers", content=body, headers=headers)
    if answer.status_code == 401:
        assert answer.json()["error"] == "AuthenticationError"
    return answer.status_code


def test_signed_request_is_accepted(link: Link) -> None:
    assert link.post_json("/v1/transfers", CREATE).status_code == 201


def test_unsigned_request_is_401_and_creates_nothing(link: Link) -> None:
    body = json.dumps(CREATE).encode()
    assert _post(link, {"Content-Type": "application/json"}, body) == 401
    assert link.client.get("/v1/transfers/t-auth").status_code == 404


def test_bad_signature_is_401(link: Link) -> None:
    body = json.dumps(CREATE).encode()
    headers = sign_request(b"not-the-link-key-at-all", "sat-1", "POST", "/v1/transfers", body)
    assert _post(link, headers, body) == 401
    headers = sign_request(LINK_KEY.encode(), "sat-1", "POST", "/v1/transfers", body)
    headers[HEADER_SIGNATURE] = "0" * 64
    assert _post(link, headers, body) == 401


def test_body_swapped_after_signing_is_refused_and_nothing_created(link: Link) -> None:
    body = json.dumps(CREATE).encode()
    headers = sign_request(LINK_KEY.encode(), "sat-1", "POST", "/v1/transfers", body)
    other = json.dumps({**CREATE, "transfer_id": "t-evil"}).encode()
    assert _post(link, headers, other) == 422  # authentic headers, body not theirs
    assert link.client.get("/v1/transfers/t-evil").status_code == 404


def test_stale_request_is_401(link: Link) -> None:
    body = json.dumps(CREATE).encode()
    headers = sign_request(
        LINK_KEY.encode(), "sat-1", "POST", "/v1/transfers", body, now=time.time() - 301
    )
    assert _post(link, headers, body) == 401


def test_replayed_request_is_401(link: Link) -> None:
    body = json.dumps(CREATE).encode()
    headers = sign_request(LINK_KEY.encode(), "sat-1", "POST", "/v1/transfers", body)
    headers["Content-Type"] = "application/json"
    assert _post(link, headers, body) == 201
    assert _post(link, headers, body) == 401
    metrics = link.client.get("/metrics").text
    assert "eodl_ground_auth_failures_total 1.0" in metrics


def test_reads_are_public_but_a_sent_signature_is_checked(link: Link) -> None:
    assert link.client.get("/v1/transfers").status_code == 200
    headers = sign_request(b"not-the-link-key-at-all", "sat-1", "GET", "/v1/transfers", b"")
    assert link.client.get("/v1/transfers", headers=headers).status_code == 401
    assert link.request("GET", "/v1/transfers").status_code == 200


def test_private_reads_need_a_signature(make_link) -> None:
    link = make_link(public_reads=False)
    assert link.client.get("/v1/transfers").status_code == 401
    assert link.request("GET", "/v1/transfers?limit=5").status_code == 200
    assert link.client.get("/healthz").status_code == 200
