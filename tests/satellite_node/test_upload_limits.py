"""Uploads are bounded before they cost anything, on a real uvicorn on loopback (security
review, issue 19): a body over the limit is answered 413 while it streams (a 400 MiB upload
with a 256 MiB limit used to get its 413 only after all of it had arrived), and a compressed
raster or mask is refused on its declared size before it is decoded (a 941 KB deflate TIFF
used to expand to 22000 x 22000, +1 GB, before its 422)."""

from __future__ import annotations

import io
import select
import socket
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tifffile
from sat_harness import ServerThread, free_port, satellite_settings

from satellite_node.app import FORM_OVERHEAD_BYTES, create_app

MAX_UPLOAD = 16 * 1024 * 1024  # per file (x4 decoded: 64 MiB, above both bombs below)
BODY_LIMIT = 2 * MAX_UPLOAD + FORM_OVERHEAD_BYTES
BLOCK = 64 * 1024
#: The start of a multipart body whose file part then runs on: the parser accepts every block.
PREAMBLE = (
    b'--x\r\nContent-Disposition: form-data; name="raster"; filename="big.npy"\r\n'
    b"Content-Type: application/octet-stream\r\n\r\n"
)


@pytest.fixture(scope="module")
def satellite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    data = tmp_path_factory.mktemp("sat")
    ground = f"http://127.0.0.1:{free_port()}"  # nobody listens: nothing is downlinked
    server = ServerThread(create_app(satellite_settings(data, ground, max_upload_bytes=MAX_UPLOAD)))
    yield server.start()
    server.stop()


def _post_until_answered(
    port: int, headers: dict[str, str], body_bytes: int, chunked: bool
) -> tuple[bytes, int]:
    """Send a POST block by block, stopping as soon as the server answers.

    Returns the answer's first bytes and how many body bytes were sent before it came.
    """
    head = "POST /v1/scenes HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    sent, answer = 0, b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0.002 if sent < body_bytes else 1.0)
            if readable:
                answer = sock.recv(65536)
                break
            if sent >= body_bytes:
                continue
            block = PREAMBLE + b"\0" * (BLOCK - len(PREAMBLE)) if sent == 0 else b"\0" * BLOCK
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
            except (BrokenPipeError, ConnectionResetError):
                answer = sock.recv(65536)
                break
            sent += len(block)
        answer += _rest(sock)
    return answer, sent


def _rest(sock: socket.socket) -> bytes:
    """What the server still sends before it closes the connection (the 413 closes it)."""
    rest = b""
    sock.settimeout(5)
    try:
        while chunk := sock.recv(65536):
            rest += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return rest


def test_a_declared_oversize_body_is_refused_before_it_is_read(satellite: ServerThread) -> None:
    declared = 400 * 1024 * 1024
    headers = {"Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(declared)}
    # only the headers are sent: the answer comes without a byte of the body
    answer, sent = _post_until_answered(satellite.port, headers, 0, chunked=False)
    assert sent == 0 and answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"SAT_MAX_UPLOAD_BYTES" in answer and b"Content-Length 419430400" in answer


def test_a_chunked_oversize_body_is_cut_off_at_the_limit(satellite: ServerThread) -> None:
    headers = {"Content-Type": "multipart/form-data; boundary=x", "Transfer-Encoding": "chunked"}
    total = 64 * 1024 * 1024
    answer, sent = _post_until_answered(satellite.port, headers, total, chunked=True)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    # cut off at the limit, plus what loopback socket buffers held: far from the 64 MiB offered
    assert sent < BODY_LIMIT + 16 * 1024 * 1024


def test_the_service_stays_healthy_and_stores_nothing(satellite: ServerThread) -> None:
    with httpx.Client(base_url=satellite.url, timeout=10) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/v1/scenes").json()["count"] == 0


def test_a_body_within_the_limit_is_still_read(satellite: ServerThread, tmp_path: Path) -> None:
    # an upload just under the per-file limit reaches the route: refused there for its
    # content (not a raster), not by the body limit
    files = {"raster": ("scene.npy", b"\0" * (MAX_UPLOAD - 1024), "application/octet-stream")}
    with httpx.Client(base_url=satellite.url, timeout=10) as client:
        response = client.post("/v1/scenes", data={"task": "fire"}, files=files)
    assert response.status_code == 422, response.text


def _upload_traced(
    satellite: ServerThread, task: str, files: dict[str, tuple[str, bytes, str]]
) -> tuple[httpx.Response, float]:
    """Upload through the real server; the answer and the peak of Python-visible allocations
    (numpy's included) meanwhile, in MB."""
    with httpx.Client(base_url=satellite.url, timeout=30) as client:
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            response = client.post("/v1/scenes", data={"task": task}, files=files)
            return response, tracemalloc.get_traced_memory()[1] / 1e6
        finally:
            tracemalloc.stop()


def _deflate_tiff(path: Path, shape: tuple[int, int], dtype: str) -> bytes:
    tifffile.imwrite(path, np.zeros(shape, dtype), compression="zlib")
    return path.read_bytes()


def test_a_compressed_tiff_bomb_is_refused_on_its_tags(
    satellite: ServerThread, tmp_path: Path
) -> None:
    # 5000 x 5000 uint16 (50 MB decoded) in a few kB of deflate: cloud scenes stop at 4096
    bomb = _deflate_tiff(tmp_path / "bomb.tif", (5000, 5000), "uint16")
    assert len(bomb) < MAX_UPLOAD
    response, peak_mb = _upload_traced(
        satellite, "cloud", {"raster": ("bomb.tif", bomb, "image/tiff")}
    )
    assert response.status_code == 422, response.text
    assert "declares a 5000x5000 image, above the largest accepted 4096x4096" in response.text
    assert peak_mb < 20  # the 50 MB image was never decoded


def test_a_mask_is_checked_against_its_raster_before_it_is_decoded(
    satellite: ServerThread, tmp_path: Path
) -> None:
    raster = io.BytesIO()
    np.save(raster, np.zeros((1, 32, 32), np.uint16))
    bomb = _deflate_tiff(tmp_path / "mask.tif", (4096, 4096), "uint8")  # 16 MB decoded
    files = {
        "raster": ("patch.npy", raster.getvalue(), "application/octet-stream"),
        "mask": ("mask.tif", bomb, "image/tiff"),
    }
    response, peak_mb = _upload_traced(satellite, "fire", files)
    assert response.status_code == 422, response.text
    assert "declares a 4096x4096 image, but it must be 32x32" in response.text
    assert peak_mb < 12  # the 16 MB mask was never decoded
