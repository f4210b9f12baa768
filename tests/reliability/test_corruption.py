"""Integrity (guarantee 3): bytes flipped on the wire by the corrupting proxy are all caught
(CRC32C per chunk), a container that passes every CRC but not its SHA-256 is never committed,
and nothing corrupted is ever decoded."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rel_support import (
    ServerThread,
    SignedClient,
    fire_container,
    ground_app,
    post_fire,
    satellite_app,
    transfers,
    wait_for,
)

from shared.protocol.chunks import HEADER_CHUNK_CRC32C, chunk_bounds, chunk_count, crc32c_hex
from workbench.link_proxy import FaultProfile, LinkProxy, ProxyThread

pytestmark = pytest.mark.integration
SCENES = 6


def _all_in(views: list[dict[str, Any]], states: tuple[str, ...]) -> list[dict[str, Any]] | None:
    return views if views and all(v["state"] in states for v in views) else None


def test_every_flipped_byte_is_detected_and_nothing_corrupted_is_decoded(tmp_path: Path) -> None:
    profile = FaultProfile(corrupt_rate=0.35, corrupt_bytes=3, reset_rate=0.05, seed=7)
    with ServerThread(ground_app(tmp_path / "ground")) as ground:
        proxy = LinkProxy("127.0.0.1", ground.port, profile)
        with ProxyThread(proxy):
            proxied = f"http://127.0.0.1:{proxy.port}"
            with TestClient(satellite_app(tmp_path / "sat", proxied)) as sat:
                ids = [post_fire(sat, seed).json()["scene_id"] for seed in range(SCENES)]
                views = wait_for(
                    lambda: _all_in(
                        [sat.get(f"/v1/scenes/{s}").json() for s in ids], ("delivered",)
                    ),
                    120,
                    "every scene to be delivered through the corrupting proxy",
                )
                metrics = sat.get("/metrics").text
            records = wait_for(
                lambda: _all_in(transfers(ground.url), ("processed", "failed")),
                120,
                "the ground to process every transfer",
            )
            counters = proxy.counters.snapshot()
    answers = dict(counters["answers_to_corrupted"])  # type: ignore[arg-type]
    print(
        f"\ncorruption: proxy {counters['corrupted']} corrupted, {counters['resets']} reset, "
        f"answers to corrupted {answers}; sender retries: "
        + " ".join(line for line in metrics.splitlines() if line.startswith("eodl_sat_retries"))
    )
    assert int(counters["corrupted"]) >= 3  # type: ignore[call-overload]
    # The HMAC covers the body digest, so a flipped body byte fails the signature (401) before
    # the CRC32C (422) is even looked at; either way nothing is stored.
    assert answers and set(answers) <= {401, 422}, answers
    sha = {v["scene_id"]: v["container_sha256"] for v in views}
    assert len(records) == SCENES
    assert all(r["state"] == "processed" and r["sha256"] == sha[r["scene_id"]] for r in records)


def test_a_container_with_valid_crcs_but_wrong_sha256_is_never_committed(tmp_path: Path) -> None:
    data = fire_container(9)
    forged = bytearray(data)
    forged[len(forged) // 2] ^= 0xFF  # damaged before chunking: every CRC32C will hold
    with TestClient(ground_app(tmp_path / "ground")) as client:
        ground = SignedClient(client)
        create = ground.create_body("t-sha", data)  # announces the true SHA-256
        headers = {"Content-Type": "application/json"}
        assert ground.request("POST", "/v1/transfers", create, **headers).status_code == 201
        for index in range(chunk_count(len(forged), 1024)):
            start, stop = chunk_bounds(index, len(forged), 1024)
            body = bytes(forged[start:stop])
            path = f"/v1/transfers/t-sha/chunks/{index}"
            answer = ground.request("PUT", path, body, **{HEADER_CHUNK_CRC32C: crc32c_hex(body)})
            assert answer.status_code == 200
        body = bytes(forged[:1024])
        path = "/v1/transfers/t-sha/chunks/0"
        wrong_crc = crc32c_hex(body[:-1] + bytes([body[-1] ^ 1]))
        answer = ground.request("PUT", path, body, **{HEADER_CHUNK_CRC32C: wrong_crc})
        assert answer.status_code == 422 and "crc" in answer.text.lower(), answer.text
        commit = json.dumps({"sha256": hashlib.sha256(data).hexdigest()}).encode()
        answer = ground.request("POST", "/v1/transfers/t-sha/commit", commit, **headers)
        assert answer.status_code in (409, 422), answer.text
        assert "sha" in answer.text.lower()
        view = client.get("/v1/transfers/t-sha").json()
        assert view["state"] not in ("processed", "committed", "processing"), view
        assert view.get("receipt") is None
