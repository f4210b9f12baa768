"""Exactly-once effect under replay (guarantee 2) and request authentication (guarantee 8),
against a real in-process ground station."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rel_support import LINK_KEY, SignedClient, fire_container, wait_for

from shared.protocol.chunks import HEADER_CHUNK_CRC32C, chunk_bounds, chunk_count, crc32c_hex
from shared.protocol.signing import sign_request

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def ground(tmp_path: Path) -> Iterator[SignedClient]:
    from ground_station.app import create_app
    from ground_station.settings import GroundSettings

    settings = GroundSettings(
        data_dir=tmp_path / "ground",
        link_key=LINK_KEY,
        device="cpu",
        min_free_bytes=0,
        public_reads=True,
    )
    with TestClient(create_app(settings)) as client:
        yield SignedClient(client)


def _chunk(data: bytes, index: int, chunk_bytes: int = 1024) -> bytes:
    start, stop = chunk_bounds(index, len(data), chunk_bytes)
    return data[start:stop]


def test_every_chunk_and_commit_twice_gives_one_processed_transfer(ground: SignedClient) -> None:
    data = fire_container(1)
    sha = hashlib.sha256(data).hexdigest()
    create = ground.create_body("t-replay", data)
    answers = [ground.request("POST", "/v1/transfers", create, **JSON) for _ in range(2)]
    assert [a.status_code for a in answers] == [201, 200]
    chunks = chunk_count(len(data), 1024)
    assert chunks >= 2
    outcomes = []
    for index in list(range(chunks)) * 2 + [0]:  # every chunk sent twice, the first thrice
        body = _chunk(data, index)
        path = f"/v1/transfers/t-replay/chunks/{index}"
        answer = ground.request("PUT", path, body, **{HEADER_CHUNK_CRC32C: crc32c_hex(body)})
        assert answer.status_code == 200, answer.text
        outcomes.append(answer.json().get("duplicate", answer.json().get("status")))
    commit = json.dumps({"sha256": sha}).encode()
    receipts = [
        ground.request("POST", "/v1/transfers/t-replay/commit", commit, **JSON) for _ in range(3)
    ]
    assert {r.status_code for r in receipts} == {200}
    assert len({json.dumps(r.json(), sort_keys=True) for r in receipts}) == 1  # same receipt
    assert receipts[0].json()["sha256"] == sha
    view = wait_for(
        lambda: (
            (v := ground.client.get("/v1/transfers/t-replay").json())["state"]
            in ("processed", "failed")
            and v
        ),
        120,
        "the replayed transfer to be processed",
    )
    assert view["state"] == "processed", view
    listing = ground.client.get("/v1/transfers").json()
    assert listing["total"] == 1 and listing["items"][0]["transfer_id"] == "t-replay"
    metrics = ground.client.get("/metrics").text
    print(f"\nreplay: {chunks} chunks x2 (+1), 3 commits -> 1 transfer; outcomes {outcomes}")
    # the counter, not its help text (which always names "duplicate"): every replayed chunk
    assert _counter(metrics, 'eodl_ground_chunks_total{outcome="duplicate"}') == chunks + 1
    assert _counter(metrics, 'eodl_ground_chunks_total{outcome="stored"}') == chunks


def _counter(metrics: str, sample: str) -> float:
    """The value of one Prometheus sample line, 0 when the series does not exist yet."""
    for line in metrics.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_byte_identical_replay_of_a_signed_request_is_401(ground: SignedClient) -> None:
    data = fire_container(2)
    create = ground.create_body("t-nonce", data)
    headers = ground.signed("POST", "/v1/transfers", create, **JSON)
    assert ground.send("POST", "/v1/transfers", create, headers).status_code == 201
    body = _chunk(data, 0)
    path = "/v1/transfers/t-nonce/chunks/0"
    chunk_headers = ground.signed("PUT", path, body, **{HEADER_CHUNK_CRC32C: crc32c_hex(body)})
    assert ground.send("PUT", path, body, chunk_headers).status_code == 200
    for method, target, payload, signed in (
        ("POST", "/v1/transfers", create, headers),
        ("PUT", path, body, chunk_headers),
    ):
        replay = ground.send(method, target, payload, signed)
        assert replay.status_code == 401, replay.text
        assert "replay" in replay.text.lower() or "nonce" in replay.text.lower()


@pytest.mark.parametrize("age_s", [301.0, -301.0, 3600.0])
def test_stale_or_future_requests_are_401(ground: SignedClient, age_s: float) -> None:
    create = ground.create_body("t-stale", fire_container(3))
    headers = sign_request(
        LINK_KEY.encode(), "sat-1", "POST", "/v1/transfers", create, now=time.time() - age_s
    )
    answer = ground.send("POST", "/v1/transfers", create, {**headers, **JSON})
    assert answer.status_code == 401, answer.text
    assert ground.client.get("/v1/transfers/t-stale").status_code == 404


def test_unsigned_or_wrongly_signed_writes_are_401(ground: SignedClient) -> None:
    create = ground.create_body("t-unsigned", fire_container(4))
    assert ground.send("POST", "/v1/transfers", create, JSON).status_code == 401
    forged = SignedClient(ground.client, key="another-key-of-16-bytes-or-more")
    assert forged.request("POST", "/v1/transfers", create, **JSON).status_code == 401
    tampered = ground.signed("POST", "/v1/transfers", create, **JSON)
    damaged = ground.send("POST", "/v1/transfers", create + b" ", tampered)
    # authentic headers over a body that no longer matches their digest: refused as damage
    assert damaged.status_code == 422 and damaged.json()["error"] == "IntegrityError"
    assert ground.client.get("/v1/transfers/t-unsigned").status_code == 404


@pytest.mark.parametrize(
    "bad_id", ["../etc/passwd", "..", "a/b", "a\\b", ".hidden", "x" * 129, "", "é", "a b"]
)
def test_path_traversal_ids_are_refused(ground: SignedClient, bad_id: str) -> None:
    data = fire_container(5)
    body = json.loads(ground.create_body("t-ok", data))
    for field in ("transfer_id", "scene_id"):
        payload = json.dumps({**body, field: bad_id}).encode()
        answer = ground.request("POST", "/v1/transfers", payload, **JSON)
        assert answer.status_code == 422, (field, bad_id, answer.status_code, answer.text)
    assert ground.client.get("/v1/transfers").json()["total"] == 0


def test_a_replay_is_refused_after_a_restart_and_by_another_receiver(tmp_path: Path) -> None:
    """The replay memory lives in the ground's database: a new process on the same database
    (a restart, or a second receiver) refuses a request the first one accepted."""
    from ground_station.app import create_app
    from ground_station.settings import GroundSettings

    settings = GroundSettings(
        data_dir=tmp_path / "ground", link_key=LINK_KEY, device="cpu", min_free_bytes=0
    )
    data = fire_container(3)
    with TestClient(create_app(settings)) as first:
        ground = SignedClient(first)
        create = ground.create_body("t-restart", data)
        headers = ground.signed("POST", "/v1/transfers", create, **JSON)
        assert ground.send("POST", "/v1/transfers", create, headers).status_code == 201
        with TestClient(create_app(settings)) as second:  # another receiver, same database
            again = SignedClient(second).send("POST", "/v1/transfers", create, headers)
            assert again.status_code == 401 and "replay" in again.text.lower(), again.text
    with TestClient(create_app(settings)) as restarted:
        replay = SignedClient(restarted).send("POST", "/v1/transfers", create, headers)
        assert replay.status_code == 401 and "replay" in replay.text.lower(), replay.text
        fresh_headers = SignedClient(restarted).signed("POST", "/v1/transfers", create, **JSON)
        fresh = SignedClient(restarted).send("POST", "/v1/transfers", create, fresh_headers)
        assert fresh.status_code in (200, 201), fresh.text  # the same create, freshly signed
