"""Create and chunk upload: idempotent, CRC-checked before writing, bounded in size."""

from __future__ import annotations

from pathlib import Path

from gs_support import CHUNK, Link, Scene

from shared.protocol.chunks import HEADER_CHUNK_CRC32C, crc32c_hex
from shared.protocol.signing import sign_request


def _chunk_files(data_dir: Path, transfer_id: str) -> list[str]:
    folder = data_dir / "transfers" / transfer_id / "chunks"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_create_is_idempotent_and_reports_received_chunks(link: Link, scene: Scene) -> None:
    first = link.create("t1", scene.data)
    assert first.status_code == 201
    assert first.json()["missing"] == [[0, first.json()["chunk_count"] - 1]]
    assert link.put_chunk("t1", 0, scene.data[:CHUNK]).json()["status"] == "stored"
    again = link.create("t1", scene.data)
    assert again.status_code == 200
    assert again.json()["received_chunks"] == 1
    assert again.json()["missing"] == [[1, again.json()["chunk_count"] - 1]]


def test_create_same_id_other_sha_is_409(link: Link, scene: Scene) -> None:
    assert link.create("t1", scene.data).status_code == 201
    answer = link.create("t1", scene.data + b"x")
    assert answer.status_code == 409
    assert answer.json()["error"] == "ConflictError"


def test_create_refuses_bad_ids_and_oversize(make_link, scene: Scene) -> None:
    link = make_link(max_transfer_bytes=1000)
    for bad in ("../etc", "a/b", ".x"):
        assert link.create(bad, scene.data).status_code == 422
    assert link.create("big", scene.data).status_code == 413
    assert link.create("t1", scene.data[:900], chunk_bytes=10**9).status_code == 413
    assert link.create("t2", scene.data[:900], codec="zip").status_code == 422


def test_crc_mismatch_is_422_and_nothing_is_written(link: Link, scene: Scene, tmp_path) -> None:
    link.create("t1", scene.data)
    chunk = scene.data[:CHUNK]
    answer = link.put_chunk("t1", 0, chunk, crc=crc32c_hex(chunk[:-1] + b"\0"))
    assert answer.status_code == 422
    assert "CRC32C" in answer.json()["detail"]
    assert _chunk_files(tmp_path, "t1") == []
    assert link.client.get("/v1/transfers/t1").json()["received_chunks"] == 0
    missing_header = link.request("PUT", "/v1/transfers/t1/chunks/0", chunk)
    assert missing_header.status_code == 422
    assert 'outcome="crc_fault"} 1.0' in link.client.get("/metrics").text


def test_duplicate_chunk_is_acknowledged_as_duplicate(link: Link, scene: Scene) -> None:
    link.create("t1", scene.data)
    chunk = scene.data[:CHUNK]
    assert link.put_chunk("t1", 0, chunk).json() == {
        "transfer_id": "t1",
        "index": 0,
        "status": "stored",
    }
    assert link.put_chunk("t1", 0, chunk).json()["status"] == "duplicate"
    other = bytes(b ^ 0xFF for b in chunk)
    assert link.put_chunk("t1", 0, other).status_code == 409


def test_out_of_range_and_wrong_length_are_422(link: Link, scene: Scene) -> None:
    link.create("t1", scene.data)
    count = link.client.get("/v1/transfers/t1").json()["chunk_count"]
    assert link.put_chunk("t1", count, b"x").status_code == 422
    assert link.put_chunk("t1", -1, b"x").status_code == 422
    assert link.put_chunk("t1", 0, scene.data[: CHUNK - 1]).status_code == 422


def test_chunk_over_the_limit_is_413_before_reading(make_link, scene: Scene, tmp_path) -> None:
    link = make_link(max_chunk_bytes=CHUNK)
    link.create("t1", scene.data)
    big = scene.data[: CHUNK + 1]
    answer = link.put_chunk("t1", 0, big)
    assert answer.status_code == 413
    assert answer.json()["error"] == "PayloadTooLargeError"
    assert _chunk_files(tmp_path, "t1") == []


def test_declared_length_is_checked_without_reading(make_link, scene: Scene) -> None:
    link = make_link(max_chunk_bytes=CHUNK)
    link.create("t1", scene.data)
    path = "/v1/transfers/t1/chunks/0"
    chunk = scene.data[:CHUNK]
    headers = sign_request(link.key, "sat-1", "PUT", path, chunk)

    def body():  # a streamed body: the server sees only the declared length up front
        yield chunk
        raise AssertionError("the ground read past a Content-Length over its limit")

    headers.update({HEADER_CHUNK_CRC32C: crc32c_hex(chunk), "Content-Length": str(10**9)})
    answer = link.client.put(path, content=body(), headers=headers)
    assert answer.status_code == 413


def test_unknown_transfer_is_404(link: Link) -> None:
    assert link.put_chunk("nope", 0, b"x").status_code == 404
    assert link.client.get("/v1/transfers/nope").status_code == 404
    assert link.client.get("/v1/transfers/nope").json()["error"] == "NotFoundError"
