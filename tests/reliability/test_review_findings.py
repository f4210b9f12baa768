"""The smaller findings of the security review (issue 19, item 7), each reproduced against a
real uvicorn on loopback: what used to go wrong, and the right answer now, with the service
still healthy afterwards."""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import struct
import time
from collections.abc import Iterator

import httpx
import pytest
from rel_support import (
    ServerThread,
    SignedClient,
    fire_raster,
    ground_app,
    npy,
    satellite_app,
    wait_for,
)

from shared.wire import HEADER_SIZE, compute_checksum, read_header

pytestmark = pytest.mark.integration
NOWHERE = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def ground(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    root = tmp_path_factory.mktemp("findings")
    with ServerThread(ground_app(root / "ground", segmenter_dir=root / "none")) as server:
        yield server


@pytest.fixture(scope="module")
def satellite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    root = tmp_path_factory.mktemp("findings-sat")
    with ServerThread(satellite_app(root / "sat", NOWHERE, run_sender=False)) as server:
        yield server


def _healthy(*servers: ServerThread) -> bool:
    return all(httpx.get(f"{s.url}/readyz", timeout=5).status_code == 200 for s in servers)


def test_an_id_with_a_trailing_newline_is_refused_not_stuck(ground: ServerThread) -> None:
    with httpx.Client(base_url=ground.url, timeout=10) as client:
        signer = SignedClient(client)
        data = b"x" * 100
        body = signer.create_body("t-1\n", data)
        answer = signer.request(
            "POST", "/v1/transfers", body, **{"Content-Type": "application/json"}
        )
    assert answer.status_code == 422, answer.text
    assert _healthy(ground)


def test_a_superscript_digit_priority_is_a_422_not_a_500(satellite: ServerThread) -> None:
    files = {"raster": ("scene.npy", npy(fire_raster(1)), "application/octet-stream")}
    form = {"task": "fire", "codec": "jpeg2000", "bpp": "4", "priority": "\u00b2"}
    answer = httpx.post(f"{satellite.url}/v1/scenes", data=form, files=files, timeout=30)
    assert answer.status_code == 422 and "priority" in answer.json()["detail"], answer.text
    assert _healthy(satellite)


def test_a_link_profile_with_a_thousand_outages_is_refused(satellite: ServerThread) -> None:
    outages = [{"start_s": 2 * k, "end_s": 2 * k + 1} for k in range(1000)]
    started = time.perf_counter()
    answer = httpx.put(f"{satellite.url}/v1/link", json={"outages": outages}, timeout=30)
    refused_s = time.perf_counter() - started
    assert answer.status_code == 422, answer.text
    started = time.perf_counter()
    assert httpx.get(f"{satellite.url}/v1/link", timeout=30).status_code == 200
    link_s = time.perf_counter() - started
    print(f"\n1,000 outages: 422 in {refused_s:.2f} s; GET /v1/link then {link_s:.3f} s")


def test_an_unknown_key_id_is_refused_without_naming_the_valid_ones(ground: ServerThread) -> None:
    with httpx.Client(base_url=ground.url, timeout=10) as client:
        stranger = SignedClient(client, key_id="someone-else")
        answer = stranger.request("GET", "/v1/transfers/t-9")
    assert answer.status_code == 401 and "unknown key id" in answer.text
    assert "sat-1" not in answer.text


def _nested_container(depth: int) -> bytes:
    """A real version-1 container whose metadata nests ``depth`` lists deep (lengths and CRC
    right). Version 2's metadata goes through the same parser (test_wire_container_v2)."""
    from shared.codecs.base import RateTarget
    from shared.compression import compress_raster

    lossless = RateTarget(lossless=True)
    base = compress_raster(  # version 1: its fixed header is patched below
        fire_raster(5),
        codec="jpeg2000",
        target=lossless,
        scale=16383.0,
        bit_depth=14,
        container_version=1,
    )
    data = bytes(base.container)
    header = read_header(data)
    digest = hashlib.sha256(b"reconstruction").hexdigest()
    blob = b'{"reconstruction_sha256":"' + digest.encode() + b'","x":'
    blob += b"[" * depth + b"]" * depth + b"}"
    raw = bytearray(data[: HEADER_SIZE + header.payload_bytes] + blob)
    struct.pack_into("<I", raw, 43, len(blob))  # the metadata's length
    struct.pack_into("<I", raw, 51, compute_checksum(bytes(raw)))
    return bytes(raw)


def test_deeply_nested_metadata_fails_one_transfer_as_a_container_error(
    ground: ServerThread,
) -> None:
    from shared.protocol.chunks import HEADER_CHUNK_CRC32C, crc32c_hex

    data = _nested_container(20_000)
    headers = {"Content-Type": "application/json"}
    with httpx.Client(base_url=ground.url, timeout=30) as client:
        signer = SignedClient(client)
        body = signer.create_body("t-deep", data, chunk_bytes=len(data))
        assert signer.request("POST", "/v1/transfers", body, **headers).status_code == 201
        crc = {HEADER_CHUNK_CRC32C: crc32c_hex(data)}
        assert signer.request("PUT", "/v1/transfers/t-deep/chunks/0", data, **crc).status_code in (
            200,
            201,
        )
        commit = json.dumps({"sha256": hashlib.sha256(data).hexdigest()}).encode()
        assert (
            signer.request("POST", "/v1/transfers/t-deep/commit", commit, **headers).status_code
            == 200
        )
        view = wait_for(
            lambda: (v := client.get("/v1/transfers/t-deep").json())["state"] == "failed" and v,
            60,
            "the nested container to fail",
        )
        metrics = client.get("/metrics").text
    assert "nests too deeply" in view["reason"], view
    crashes = [line for line in metrics.splitlines() if 'kind="crash"' in line]
    assert all(line.endswith(" 0.0") for line in crashes), crashes
    assert _healthy(ground)


def _abandon(server: ServerThread, head: bytes, caplog: pytest.LogCaptureFixture) -> str:
    """Send ``head`` (headers that announce 100,000 bytes, and a few of them), hang up, and
    return what the service logged."""
    host, port = server.url.removeprefix("http://").split(":")
    with caplog.at_level(logging.INFO):
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(head)
        time.sleep(1.0)
    return caplog.text


def test_an_aborted_body_is_logged_in_one_line(
    ground: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    head = b"PUT /v1/transfers/t-gone/chunks/0 HTTP/1.1\r\nHost: x\r\n"
    logged = _abandon(ground, head + b"Content-Length: 100000\r\n\r\n" + b"y" * 10, caplog)
    assert "Traceback" not in logged
    assert _healthy(ground)


def test_an_aborted_upload_is_logged_in_one_line_on_the_satellite(
    satellite: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    head = b"POST /v1/scenes HTTP/1.1\r\nHost: x\r\n"
    head += b"Content-Type: multipart/form-data; boundary=x\r\n"
    logged = _abandon(satellite, head + b"Content-Length: 100000\r\n\r\n--x\r\n", caplog)
    assert "Traceback" not in logged
    assert _healthy(satellite)
