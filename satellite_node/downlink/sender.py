"""The downlink sender: delivers queued containers by priority, chunked, resumable and signed.

Per scene: create the transfer (idempotent) or ask for its missing chunks, push each missing
chunk through the link emulation and PUT it, then commit. Only a receipt whose SHA-256 matches
the container releases it from the store. Every failure that a later try may fix (ground down,
slow, 5xx, pass over, damaged chunk) is retried without limit, with a backoff capped at a
couple of seconds inside a pass; between two chunks a more urgent scene pre-empts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Literal

from satellite_node.downlink.client import GroundClient, GroundRefusedError, GroundUnavailableError
from satellite_node.downlink.stats import SenderStats
from satellite_node.priority import wire_priority
from satellite_node.store import SceneRecord, SceneStore
from shared.errors import NotFoundError
from shared.link.emulator import LinkEmulator, LinkInterruptedError
from shared.protocol.chunks import chunk_bounds
from shared.protocol.messages import Receipt, TransferCreate, TransferStatus

LOG = logging.getLogger(__name__)
REQUEST_OVERHEAD_BYTES = 512  # request line and signed headers, charged to the link
Outcome = Literal["delivered", "preempted", "failed"]
__all__ = ["DownlinkSender", "SenderStats"]


class _Backoff:
    def __init__(self, cap_s: float, first_s: float = 0.1) -> None:
        self.cap_s, self.first_s, self.next_s = cap_s, first_s, first_s

    def step(self) -> float:
        wait, self.next_s = self.next_s, min(self.cap_s, self.next_s * 2)
        return wait

    def reset(self) -> None:
        self.next_s = self.first_s


def _expand(ranges: list[tuple[int, int]]) -> list[int]:
    return [i for start, end in ranges for i in range(start, end + 1)]


class DownlinkSender:
    """Send the store's queued scenes to the ground.

    Args:
        store: the onboard store.
        link: the emulated link every request goes through.
        client: the signed ground client.
        chunk_bytes_for: chunk size for a new transfer given the link rate (bit/s).
        backoff_cap_s: the longest wait between retries.
        stats: counters (shared with /metrics).
    """

    def __init__(
        self,
        store: SceneStore,
        link: LinkEmulator,
        client: GroundClient,
        *,
        chunk_bytes_for: Callable[[float], int],
        backoff_cap_s: float = 2.0,
        stats: SenderStats | None = None,
    ) -> None:
        self.store = store
        self.link = link
        self.client = client
        self.chunk_bytes_for = chunk_bytes_for
        self.backoff = _Backoff(backoff_cap_s)
        self.stats = stats or SenderStats()
        self.wake = threading.Event()
        self._created: set[str] = set()
        self._attempted: dict[str, set[int]] = {}

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set."""
        while not stop.is_set():
            record = self.store.next_to_send()
            if record is None:
                self.wake.wait(0.5)
                self.wake.clear()
                continue
            try:
                self.send_scene(record, stop)
            except LinkInterruptedError as exc:
                if exc.stopped:
                    return
                raise
            except Exception:  # a bug or a disk error must not end the downlink for good
                LOG.exception("sending scene %s failed unexpectedly; retrying", record.scene_id)
                self.stats.retry("internal_error")
                stop.wait(self.backoff.step())

    def send_scene(self, record: SceneRecord, stop: threading.Event) -> Outcome | None:
        """Deliver one scene, retrying until done, pre-empted, refused or stopped (None)."""
        record = self.store.mark_downlinking(
            record.scene_id, self.chunk_bytes_for(self.link.profile.rate_bps)
        )
        data = self.store.read_container(record.scene_id)
        while not stop.is_set():
            try:
                return self._attempt(record, data, stop)
            except LinkInterruptedError as exc:
                if exc.stopped:
                    raise
                self.stats.retry("link_interrupted")
            except GroundUnavailableError as exc:
                self.stats.retry(exc.reason)
                if exc.reason == "transfer_unknown":
                    self._created.discard(str(record.transfer_id))
                LOG.info("downlink of %s will be retried: %s", record.scene_id, exc)
                stop.wait(self.backoff.step())
            except GroundRefusedError as exc:
                LOG.error("ground refused scene %s: %s", record.scene_id, exc)
                self.store.mark_failed(record.scene_id, f"ground refused the transfer: {exc}")
                return "failed"
        return None

    def _request(self, nbytes: int, stop: threading.Event) -> None:
        self.link.transmit(nbytes + REQUEST_OVERHEAD_BYTES, stop)

    def _open(self, record: SceneRecord, data: bytes, stop: threading.Event) -> TransferStatus:
        transfer_id = str(record.transfer_id)
        if transfer_id in self._created:
            self._request(0, stop)
            return self.client.status(transfer_id)
        request = TransferCreate(
            transfer_id=transfer_id,
            scene_id=record.scene_id,
            total_bytes=len(data),
            sha256=str(record.container_sha256),
            chunk_bytes=int(record.chunk_bytes or 1),
            priority=wire_priority(record.priority),
            task=record.task,
            codec=str(record.codec_used),
            header=record.header or {},
        )
        body_bytes = len(request.model_dump_json())
        self._request(body_bytes, stop)
        status = self.client.create(request)
        self._created.add(transfer_id)
        return status

    def _attempt(self, record: SceneRecord, data: bytes, stop: threading.Event) -> Outcome:
        transfer_id = str(record.transfer_id)
        status = self._open(record, data, stop)
        self.backoff.reset()
        if status.receipt is None:
            for index in _expand(status.missing):
                if self.store.more_urgent_waiting(record.priority):
                    self.stats.count("preemptions")
                    LOG.info("scene %s pre-empted by a more urgent one", record.scene_id)
                    return "preempted"
                self._send_chunk(transfer_id, index, data, status.chunk_bytes, stop)
            receipt = self._commit(transfer_id, str(record.container_sha256), stop)
        else:
            receipt = status.receipt
        return self._finish(record, receipt)

    def _commit(self, transfer_id: str, sha256: str, stop: threading.Event) -> Receipt:
        self._request(80, stop)
        try:
            return self.client.commit(transfer_id, sha256)
        except GroundRefusedError as exc:
            if exc.status_code != 409:
                raise
            self._request(0, stop)
            if not self.client.status(transfer_id).missing:
                raise
            raise GroundUnavailableError(  # the ground lacks chunks: resend them, then commit
                f"commit of {transfer_id} found chunks missing: {exc}", reason="commit_incomplete"
            ) from exc

    def _send_chunk(
        self, transfer_id: str, index: int, data: bytes, chunk_bytes: int, stop: threading.Event
    ) -> None:
        start, end = chunk_bounds(index, len(data), chunk_bytes)
        attempted = self._attempted.setdefault(transfer_id, set())
        resent = index in attempted
        attempted.add(index)
        self._request(end - start, stop)
        self.client.put_chunk(transfer_id, index, data[start:end])
        self.backoff.reset()
        self.stats.chunk(end - start, resent=resent)

    def _finish(self, record: SceneRecord, receipt: Receipt) -> Outcome:
        if receipt.sha256 != record.container_sha256:
            raise GroundRefusedError(
                f"the receipt's SHA-256 {receipt.sha256} differs from the container's "
                f"{record.container_sha256}; the container is kept onboard",
                status_code=200,
            )
        try:
            self.store.mark_delivered(record.scene_id, receipt.model_dump(mode="json"))
        except NotFoundError:
            return "failed"
        self._attempted.pop(str(record.transfer_id), None)
        self.stats.count("delivered")
        LOG.info("scene %s delivered (receipt %s)", record.scene_id, receipt.receipt_id)
        return "delivered"
