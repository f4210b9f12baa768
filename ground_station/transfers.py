"""The protocol's state machine on the ground: create, chunk, status, commit (custody).

Everything here is blocking (files, fsync, database) and runs in FastAPI's thread pool, never in
an ``async`` handler. Idempotency: a repeated create returns the stored transfer, a repeated
chunk answers ``duplicate``, a repeated commit returns the same receipt.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy.exc
from sqlalchemy.orm import Session, sessionmaker

from ground_station.db import TransferRecord, iso, utcnow
from ground_station.metrics import GroundMetrics
from ground_station.store import TransferStore
from shared.codecs.registry import codec_info
from shared.errors import (
    ConfigurationError,
    ConflictError,
    IntegrityError,
    NotFoundError,
    PayloadTooLargeError,
)
from shared.protocol.chunks import chunk_bounds, chunk_count, crc32c_hex, missing_ranges
from shared.protocol.messages import ChunkAck, CommitRequest, Receipt, TransferCreate
from shared.sensors.profiles import get_profile

MAX_CHUNKS = 65536


@dataclass(frozen=True)
class TransferLimits:
    """Size limits of the protocol routes."""

    max_chunk_bytes: int
    max_transfer_bytes: int


def get_record(session: Session, transfer_id: str, lock: bool = False) -> TransferRecord:
    """The record of ``transfer_id``; with ``lock``, its row is locked until the session ends
    (``SELECT ... FOR UPDATE`` on PostgreSQL, where receivers in other processes may hold the
    same transfer; SQLite has one writer and ignores it).

    Raises:
        NotFoundError: no such transfer.
    """
    record = session.get(TransferRecord, transfer_id, with_for_update=lock)
    if record is None:
        raise NotFoundError(
            f"no transfer {transfer_id!r} on this ground station; create it with POST /v1/transfers"
        )
    return record


def _receipt(record: TransferRecord, receipt_id: str) -> Receipt:
    return Receipt(
        transfer_id=record.transfer_id,
        scene_id=record.scene_id,
        sha256=record.sha256,
        total_bytes=record.total_bytes,
        receipt_id=receipt_id,
        committed_at=iso(record.committed_at) or "",
    )


def receipt_of(record: TransferRecord) -> Receipt | None:
    """The custody receipt of a committed transfer, None before commit."""
    return None if record.receipt_id is None else _receipt(record, record.receipt_id)


class TransferService:
    """Create, receive, inspect and commit transfers.

    Args:
        sessions: the database's session factory.
        store: the chunk and container files.
        metrics: counters to update.
        limits: size limits.
        on_committed: called with the transfer id and priority once its receipt is durable
            (it queues the transfer for processing); None where this process only reads.

    Receiver state lives in the database and the store, so several receivers (processes, on
    several machines) may take requests for the same transfer: a thread lock orders this
    process's requests for a transfer and a row lock orders them across processes.
    """

    def __init__(
        self,
        sessions: sessionmaker,
        store: TransferStore,
        metrics: GroundMetrics,
        limits: TransferLimits,
        on_committed: Callable[[str, int], None] | None,
    ) -> None:
        self.sessions = sessions
        self.store = store
        self.metrics = metrics
        self.limits = limits
        self.on_committed = on_committed
        self._create_lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def _lock(self, transfer_id: str) -> threading.Lock:
        with self._create_lock:
            return self._locks.setdefault(transfer_id, threading.Lock())

    def _check_announcement(self, body: TransferCreate) -> None:
        if body.total_bytes > self.limits.max_transfer_bytes:
            raise PayloadTooLargeError(
                f"transfer of {body.total_bytes} bytes announced; the ground accepts at most "
                f"{self.limits.max_transfer_bytes} (GS_MAX_TRANSFER_BYTES)"
            )
        if body.chunk_bytes > self.limits.max_chunk_bytes:
            raise PayloadTooLargeError(
                f"chunks of {body.chunk_bytes} bytes announced; the ground accepts at most "
                f"{self.limits.max_chunk_bytes} per chunk: use smaller chunks"
            )
        if chunk_count(body.total_bytes, body.chunk_bytes) > MAX_CHUNKS:
            raise ConfigurationError(
                f"{body.total_bytes} bytes in chunks of {body.chunk_bytes} makes more than "
                f"{MAX_CHUNKS} chunks; use larger chunks"
            )
        codec_info(body.codec)
        get_profile(body.task)

    def create(self, body: TransferCreate) -> tuple[str, bool]:
        """Create a transfer, or find the identical one already there.

        Returns:
            The transfer id and whether it was created now.

        Raises:
            ConflictError: the id exists with another SHA-256, size or chunk size.
            PayloadTooLargeError: the transfer or its chunks exceed the limits.
            ConfigurationError: unknown codec or task, or too many chunks.
        """
        self._check_announcement(body)
        with self._create_lock, self.sessions() as session:
            existing = session.get(TransferRecord, body.transfer_id)
            if existing is not None:
                same = (existing.sha256, existing.total_bytes, existing.chunk_bytes) == (
                    body.sha256,
                    body.total_bytes,
                    body.chunk_bytes,
                )
                if not same:
                    raise ConflictError(
                        f"transfer {body.transfer_id!r} exists with other content (SHA-256, size "
                        "or chunk size); use a new transfer id for other bytes"
                    )
                return body.transfer_id, False
            session.add(_new_record(body))
            try:
                session.commit()
            except sqlalchemy.exc.IntegrityError:  # another receiver created it just now
                session.rollback()
                raced = True
            else:
                raced = False
        if raced:  # compare with the one that won, as any repeated create is
            return self.create(body)
        return body.transfer_id, True

    def put_chunk(self, transfer_id: str, index: int, data: bytes, crc: str | None) -> ChunkAck:
        """Verify one chunk's CRC32C and size, then store it atomically.

        Raises:
            NotFoundError: no such transfer.
            ConfigurationError: the index is out of range (422).
            IntegrityError: CRC32C header missing or wrong, or the chunk's length is not the
                one its index implies (422); nothing is written.
            ConflictError: another chunk with that index is already stored.
        """
        # the transfer's lock keeps a chunk from landing while a commit assembles and cleans up
        with self._lock(transfer_id), self.sessions() as session:
            record = get_record(session, transfer_id, lock=True)
            start, stop = chunk_bounds(index, record.total_bytes, record.chunk_bytes)
            self._verify_chunk(transfer_id, index, data, crc, stop - start)
            if record.state != "receiving":
                self.metrics.chunks.labels(outcome="duplicate").inc()
                return ChunkAck(transfer_id=transfer_id, index=index, status="duplicate")
            stored = self.store.write_chunk(transfer_id, index, data)
            if stored and record.first_chunk_at is None:
                record.first_chunk_at = utcnow()
                session.commit()
        self.metrics.chunks.labels(outcome="stored" if stored else "duplicate").inc()
        if stored:
            self.metrics.bytes_received.inc(len(data))
        return ChunkAck(
            transfer_id=transfer_id, index=index, status="stored" if stored else "duplicate"
        )

    def _verify_chunk(
        self, transfer_id: str, index: int, data: bytes, crc: str | None, expected_len: int
    ) -> None:
        if not crc:
            raise IntegrityError(
                f"chunk {index} has no X-EODL-Chunk-CRC32C header; send crc32c_hex(chunk)"
            )
        actual = crc32c_hex(data)
        if crc.strip().lower() != actual:
            self.metrics.chunks.labels(outcome="crc_fault").inc()
            raise IntegrityError(
                f"chunk {index} of {transfer_id}: CRC32C is {actual}, header says {crc}; "
                "it was corrupted in transit and was not stored: send it again"
            )
        if len(data) != expected_len:
            raise IntegrityError(
                f"chunk {index} of {transfer_id} is {len(data)} bytes; its index implies "
                f"{expected_len}: split the container with chunk_bounds()"
            )

    def received(self, record: TransferRecord) -> tuple[int, list[tuple[int, int]]]:
        """How many chunks are in, and the missing ranges (none once committed)."""
        count = chunk_count(record.total_bytes, record.chunk_bytes)
        if record.state != "receiving":
            return count, []
        have = self.store.received(record.transfer_id)
        return len(have), missing_ranges(have, count)

    def commit(self, transfer_id: str, body: CommitRequest) -> Receipt:
        """Assemble, verify and durably record a complete transfer; answer its receipt.

        The receipt is in the database (synchronous commit) before it is returned: it is custody.

        Raises:
            NotFoundError: no such transfer.
            IntegrityError: the SHA-256 differs from the announced one or from the bytes (422).
            ConflictError: chunks are missing, or a committed transfer is re-committed with
                another SHA-256 (409).
        """
        with self._lock(transfer_id), self.sessions() as session:
            record = get_record(session, transfer_id, lock=True)
            receipt = receipt_of(record)
            if receipt is not None:
                if body.sha256 != record.sha256:
                    raise ConflictError(
                        f"transfer {transfer_id!r} was committed with SHA-256 {record.sha256}; "
                        f"cannot commit it again as {body.sha256}"
                    )
                return receipt
            self._assemble(record, body)
            now = utcnow()
            record.state = "committed"
            record.receipt_id = uuid.uuid4().hex
            record.committed_at = now
            record.container_bytes = record.total_bytes
            first = record.first_chunk_at
            if first is not None:
                first = first if first.tzinfo else first.replace(tzinfo=now.tzinfo)
                record.link_seconds = (now - first).total_seconds()
            session.commit()
            receipt = _receipt(record, record.receipt_id)
            priority = record.priority
        self.store.drop_chunks(transfer_id)
        if self.on_committed is not None:
            self.on_committed(transfer_id, priority)
        return receipt

    def _assemble(self, record: TransferRecord, body: CommitRequest) -> None:
        if body.sha256 != record.sha256:
            raise IntegrityError(
                f"commit SHA-256 {body.sha256} differs from the announced {record.sha256}; "
                "commit with the SHA-256 of the container you announced"
            )
        count = chunk_count(record.total_bytes, record.chunk_bytes)
        missing = missing_ranges(self.store.received(record.transfer_id), count)
        if missing:
            raise ConflictError(
                f"transfer {record.transfer_id!r} is incomplete: chunk ranges {missing} are "
                "missing; upload them, then commit"
            )
        self.store.assemble(record.transfer_id, count, record.total_bytes, record.sha256)


def _new_record(body: TransferCreate) -> TransferRecord:
    return TransferRecord(
        transfer_id=body.transfer_id,
        scene_id=body.scene_id,
        task=body.task,
        codec=body.codec,
        priority=body.priority,
        total_bytes=body.total_bytes,
        chunk_bytes=body.chunk_bytes,
        sha256=body.sha256,
        announced_header=dict(body.header),
        state="receiving",
        created_at=utcnow(),
        attempts=0,
    )
