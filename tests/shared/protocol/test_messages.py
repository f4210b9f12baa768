"""Protocol bodies: ids cannot traverse paths, digests are well-formed, unknown fields refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.protocol.messages import CommitRequest, TransferCreate, TransferStatus, is_valid_id

SHA = "ab" * 32


def _create(**overrides: object) -> TransferCreate:
    fields: dict[str, object] = dict(
        transfer_id="t-1",
        scene_id="fire_0001.a",
        total_bytes=10,
        sha256=SHA,
        chunk_bytes=4,
        priority=1,
        task="fire",
        codec="jpeg2000",
        header={"bands": 1},
    )
    fields.update(overrides)
    return TransferCreate.model_validate(fields)


def test_a_trailing_newline_is_not_a_valid_id() -> None:
    # "$" also matches before a final newline: ids are checked with fullmatch
    assert is_valid_id("transfer-1") and not is_valid_id("transfer-1\n")


def test_valid_create() -> None:
    assert _create().scene_id == "fire_0001.a"


@pytest.mark.parametrize(
    "bad_id", ["", "../etc", "a/b", ".hidden", "-x", "a b", "x" * 129, "a\\b", "é", "abc\n"]
)
def test_unsafe_ids_are_refused(bad_id: str) -> None:
    with pytest.raises(ValidationError):
        _create(transfer_id=bad_id)
    with pytest.raises(ValidationError):
        _create(scene_id=bad_id)


def test_bad_digest_and_sizes_are_refused() -> None:
    for overrides in (
        {"sha256": "AB" * 32},
        {"sha256": "ab"},
        {"total_bytes": 0},
        {"chunk_bytes": 0},
    ):
        with pytest.raises(ValidationError):
            _create(**overrides)
    with pytest.raises(ValidationError):
        CommitRequest.model_validate({"sha256": "zz" * 32})


def test_unknown_request_field_is_refused() -> None:
    with pytest.raises(ValidationError):
        _create(totl_bytes=3)


def test_status_round_trips_through_json() -> None:
    status = TransferStatus(
        transfer_id="t",
        scene_id="s",
        state="receiving",
        total_bytes=9,
        chunk_bytes=4,
        chunk_count=3,
        received_chunks=1,
        missing=[(1, 2)],
    )
    again = TransferStatus.model_validate_json(status.model_dump_json())
    assert again == status
    assert again.missing == [(1, 2)]
