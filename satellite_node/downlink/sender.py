"""The downlink sender: delivers queued containers by priority, chunked, resumable and signed.

Per scene: create the transfer (idempotent) or ask for its missing chunks, push each missing
chunk through the link emulation and PUT it (as many in flight as the link's bandwidth-delay
product needs, two at least: :mod:`.pipeline`), then commit.
Only a receipt whose SHA-256 matches the container releases it from the store. While the last
chunks of a scene are answered and it is committed, the next scene is already opened and its
first chunk is on the link, so the link does not idle between scenes. Every failure that a
later try may fix (ground down, slow, 5xx, pass over, damaged chunk) is retried without limit:
while the ground gives no answer at all (the link is down) it is tried every
``probe_every_s``, so a pass start is seen within a fraction of a second; a ground that answers
with an error gets a backoff capped at a couple of seconds. Before each chunk a more urgent
scene pre-empts, once the chunks already in flight (at most one chunk's bytes) are answered.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Literal

from satellite_node.downlink.client import GroundClient, GroundRefusedError, GroundUnavailableError
from satellite_node.downlink.pipeline import UNREACHABLE_REASONS, ChunkPipeline
from satellite_node.downlink.stats import SenderStats
from satellite_node.downlink.transfer import Transfer, announcement, next_after
from satellite_node.link.emulator import LinkEmulator, LinkInterruptedError
from satellite_node.store import SceneRecord, SceneStore
from satellite_node.store.states import SENDABLE
from shared.errors import NotFoundError
from shared.protocol.chunks import REQUEST_OVERHEAD_BYTES
from shared.protocol.messages import Receipt

LOG = logging.getLogger(__name__)
Outcome = Literal["delivered", "preempted", "failed"]
_RETRIABLE = (LinkInterruptedError, GroundUnavailableError, GroundRefusedError)
__all__ = ["DownlinkSender", "SenderStats"]


class _Backoff:
    def __init__(self, cap_s: float, first_s: float = 0.1) -> None:
        self.cap_s, self.first_s, self.next_s = cap_s, first_s, first_s

    def step(self) -> float:
        wait, self.next_s = self.next_s, min(self.cap_s, self.next_s * 2)
        return wait

    def reset(self) -> None:
        self.next_s = self.first_s


class DownlinkSender:
    """Send the store's queued scenes to the ground.

    Args:
        store: the onboard store.
        link: the emulated link every request goes through.
        client: the signed ground client.
        chunk_bytes_for: chunk size for a new transfer given the link rate (bit/s).
        backoff_cap_s: the longest wait between retries after an error answer.
        probe_every_s: the wait between tries while the ground does not answer at all.
        chunks_in_flight: the fewest chunk PUTs allowed outstanding at once (1: one at a time
            unless the link's bandwidth-delay product needs more).
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
        probe_every_s: float = 0.1,
        chunks_in_flight: int = 2,
        stats: SenderStats | None = None,
    ) -> None:
        self.store = store
        self.link = link
        self.client = client
        self.chunk_bytes_for = chunk_bytes_for
        self.backoff = _Backoff(backoff_cap_s)
        self.stats = stats or SenderStats()
        self.probe_every_s = probe_every_s
        self.pipeline = ChunkPipeline(
            client,
            self.stats,
            depth=chunks_in_flight,
            probe_every_s=probe_every_s,
            round_trip_s=lambda: link.round_trip_s,
            rate_bps=lambda: link.profile.rate_bps,
        )
        self.wake = threading.Event()
        self._created: set[str] = set()
        self._attempted: dict[str, set[int]] = {}
        self._ahead: Transfer | None = None

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
        transfer = self._take_ahead(record, stop)
        if transfer is None:
            record = self.store.mark_downlinking(
                record.scene_id, self.chunk_bytes_for(self.link.profile.rate_bps)
            )
            data = self.store.read_container(record.scene_id)
        else:
            record, data = transfer.record, transfer.data
        while not stop.is_set():
            try:
                opened = transfer or self._open(record, data, stop)
                transfer = None
                return self._attempt(opened, stop)
            except LinkInterruptedError as exc:
                self._settle(stop)
                if exc.stopped:
                    raise
                self.stats.retry("link_interrupted")
            except GroundUnavailableError as exc:
                self._settle(stop)
                self._retry_later(record, exc, stop)
            except GroundRefusedError as exc:
                self._settle(stop)
                LOG.error("ground refused scene %s: %s", record.scene_id, exc)
                self.store.mark_failed(record.scene_id, f"ground refused the transfer: {exc}")
                return "failed"
            except BaseException:  # never leave PUTs running under a retry that re-sends them
                self._settle(stop)
                raise
        return None

    def _retry_later(
        self, record: SceneRecord, exc: GroundUnavailableError, stop: threading.Event
    ) -> None:
        self.stats.retry(exc.reason)
        if exc.reason == "transfer_unknown":
            self._created.discard(str(record.transfer_id))
        LOG.info("downlink of %s will be retried: %s", record.scene_id, exc)
        unreachable = exc.reason in UNREACHABLE_REASONS
        stop.wait(self.probe_every_s if unreachable else self.backoff.step())

    def _settle(self, stop: threading.Event, transfer_id: str | None = None) -> None:
        """Wait for the PUTs in flight (their failures are already handled or moot)."""
        if transfer_id is None:
            self._ahead = None
        try:
            self.pipeline.drain(stop, transfer_id)
        except _RETRIABLE as exc:
            LOG.info("a chunk in flight failed while another error was handled: %s", exc)

    def _take_ahead(self, record: SceneRecord, stop: threading.Event) -> Transfer | None:
        ahead, self._ahead = self._ahead, None
        if ahead is None or ahead.record.scene_id == record.scene_id:
            return ahead
        self._settle(stop, ahead.transfer_id)  # a more urgent scene came first; resume later
        return None

    def _request(self, nbytes: int, stop: threading.Event) -> None:
        self.link.transmit(nbytes + REQUEST_OVERHEAD_BYTES, stop)

    def _open(self, record: SceneRecord, data: bytes, stop: threading.Event) -> Transfer:
        transfer_id = str(record.transfer_id)
        if transfer_id in self._created:
            self._request(0, stop)
            return Transfer.opened(record, data, self.client.status(transfer_id))
        request = announcement(record, data)
        self._request(len(request.model_dump_json()), stop)
        status = self.client.create(request)
        self._created.add(transfer_id)
        return Transfer.opened(record, data, status)

    def _attempt(self, transfer: Transfer, stop: threading.Event) -> Outcome:
        record = transfer.record
        self.backoff.reset()
        if transfer.status.receipt is not None:
            return self._finish(record, transfer.status.receipt)
        while transfer.todo:
            if self.store.more_urgent_waiting(record.priority):
                self.pipeline.drain(stop, transfer.transfer_id)
                self.stats.count("preemptions")
                LOG.info("scene %s pre-empted by a more urgent one", record.scene_id)
                return "preempted"
            self._send_chunk(transfer, stop)
        self._open_ahead(transfer, stop)
        self.pipeline.drain(stop, transfer.transfer_id)
        receipt = self._commit(transfer.transfer_id, str(record.container_sha256), stop)
        return self._finish(record, receipt)

    def _open_ahead(self, current: Transfer, stop: threading.Event) -> None:
        """Open the next scene and start its first chunk while ``current`` is finished."""
        record = next_after(self.store, current.record.scene_id)
        if record is None or record.state not in SENDABLE:
            return
        try:
            record = self.store.mark_downlinking(
                record.scene_id, self.chunk_bytes_for(self.link.profile.rate_bps)
            )
            ahead = self._open(record, self.store.read_container(record.scene_id), stop)
        except LinkInterruptedError as exc:
            if exc.stopped:
                raise
            return
        except Exception as exc:  # an optimisation only: the scene is sent in its turn
            LOG.info("scene %s not opened ahead (%s); it is sent in its turn", record.scene_id, exc)
            return
        self._ahead = ahead
        if ahead.todo:
            self._send_chunk(ahead, stop)

    def _send_chunk(self, transfer: Transfer, stop: threading.Event) -> None:
        index = transfer.todo[0]
        chunk = transfer.chunk(index)
        attempted = self._attempted.setdefault(transfer.transfer_id, set())
        self.stats.started(transfer.record.scene_id, index)
        try:
            self.link.transmit(len(chunk) + REQUEST_OVERHEAD_BYTES, stop, round_trip=False)
        except LinkInterruptedError:
            self.stats.count("chunks_cut")  # the whole chunk goes again: at most one per cut
            raise
        resent = index in attempted
        self.pipeline.send(transfer.transfer_id, index, chunk, resent=resent, stop=stop)
        attempted.add(index)
        transfer.todo.pop(0)
        self.backoff.reset()

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
