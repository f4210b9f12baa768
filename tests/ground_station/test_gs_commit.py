"""Commit is custody: verified, durable before the answer, idempotent, and it survives restarts."""

from __future__ import annotations

import hashlib

from gs_support import Link, Scene

from ground_station.db import TransferRecord


def test_commit_before_all_chunks_is_409(link: Link, scene: Scene) -> None:
    link.create("t1", scene.data)
    link.put_chunk("t1", 0, scene.data[:1024])
    answer = link.commit("t1", scene.sha256)
    assert answer.status_code == 409
    assert "missing" in answer.json()["detail"]


def test_commit_with_wrong_sha_is_422(link: Link, scene: Scene) -> None:
    link.create("t1", scene.data)
    link.send_all("t1", scene.data)
    answer = link.commit("t1", hashlib.sha256(b"other").hexdigest())
    assert answer.status_code == 422
    assert answer.json()["error"] == "IntegrityError"
    assert link.client.get("/v1/transfers/t1").json()["state"] == "receiving"


def test_announced_sha_that_the_bytes_do_not_match_is_422(link: Link, scene: Scene) -> None:
    wrong = hashlib.sha256(b"not the container").hexdigest()
    link.create("t1", scene.data, sha256=wrong)
    link.send_all("t1", scene.data)
    answer = link.commit("t1", wrong)
    assert answer.status_code == 422
    view = link.client.get("/v1/transfers/t1").json()
    assert view["state"] == "receiving" and view["received_chunks"] == 0  # resend afresh


def test_commit_returns_the_same_receipt_every_time(link: Link, scene: Scene) -> None:
    receipt = link.upload("t1", scene.data)
    assert receipt["sha256"] == scene.sha256
    assert receipt["total_bytes"] == len(scene.data)
    assert receipt["transfer_id"] == "t1"
    assert link.commit("t1", scene.sha256).json() == receipt
    assert link.commit("t1", "00" * 32).status_code == 409
    # chunks re-sent after custody are duplicates, not new data
    assert link.put_chunk("t1", 0, scene.data[:1024]).json()["status"] == "duplicate"


def test_receipt_is_durable_before_the_answer(link: Link, scene: Scene) -> None:
    receipt = link.upload("t1", scene.data)
    ground = link.client.app.state.context
    with ground.sessions() as session:
        record = session.get(TransferRecord, "t1")
        assert record is not None and record.receipt_id == receipt["receipt_id"]
    container = ground.store.container_path("t1").read_bytes()
    assert hashlib.sha256(container).hexdigest() == scene.sha256


def test_receipts_survive_a_restart_and_processing_resumes(
    make_link, scene: Scene, tmp_path
) -> None:
    first = make_link(tmp_path)
    first.client.app.state.context.processing.stop()  # commit while nothing processes
    receipt = first.upload("t1", scene.data)
    assert first.client.get("/v1/transfers/t1").json()["state"] == "committed"
    first.close()

    second = make_link(tmp_path)
    assert second.commit("t1", scene.sha256).json() == receipt
    view = second.wait("t1")
    assert view["state"] == "processed", view["reason"]
    assert view["receipt"] == receipt
