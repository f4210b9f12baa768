"""The downlink sender: delivers queued containers by priority, chunked, resumable and signed.

Per scene: create the transfer (idempotent) or ask for its missing chunks, push each missing
chunk through the link emulation and PUT it (as many in flight as the link's bandwidth-delay
product needs, two at least: :mod:`.pipeline`), then commit.
Only a receipt whose SHA-256 matches the container releases it from the store. The link never
waits for a round trip between scenes: the next scenes are created on threads of their own
while the current one's chunks go out (enough of them to cover the round trip), and a scene
whose chunks are all started is committed on a thread of its own while the next one's chunks
follow. Every failure that a
later try may fix (ground down, slow, 5xx, pass over, damaged chunk) is retried without limit:
while the ground gives no answer at all (the link is down) it is tried every
``probe_every_s``, so a pass start is seen within a fraction of a second; a ground that answers
with an error gets a backoff capped at a couple of seconds. Before each chunk a more urgent
scene pre-empts, once the chunks already in flight are answered: its first chunk is the next
one started.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from satellite_node.downlink.background import Pending
from satellite_node.downlink.client import GroundClient, GroundRefusedError, GroundUnavailableError
from satellite_node.downlink.pipeline import UNREACHABLE_REASONS, ChunkPipeline
from satellite_node.downlink.stats import SenderStats
from satellite_node.downlink.transfer import Transfer, announcement
from satellite_node.link.emulator import LinkEmulator, LinkInterruptedError
from satellite_node.store import SceneRecord, SceneStore
from satellite_node.store.states import SceneState
from shared.errors import ConflictError, NotFoundError
from shared.protocol.chunks import REQUEST_OVERHEAD_BYTES
from shared.protocol.messages import Receipt

LOG = logging.getLogger(__name__)
Outcome = Literal["delivered", "committing", "preempted", "failed"]
_RETRIABLE = (LinkInterruptedError, GroundUnavailableError, GroundRefusedError)
__all__ = ["DownlinkSender", "SenderStats"]
MAX_AHEAD = 16  # scenes opened ahead at most
MAX_CLOSING = 64  # scenes being committed at once, at most
_AHEAD_S = 0.25  # link time queued beyond twice the round trip when opening ahead
_TICK_S = 0.05


@dataclass(frozen=True)
class _Ahead:
    """A scene being opened ahead: its container's size, and the transfer once opened."""

    nbytes: int
    pending: Pending[Transfer]


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
        self._ahead: dict[str, _Ahead] = {}  # scene id -> its transfer being opened ahead
        self._closing: dict[str, Pending[Outcome | None]] = {}  # scene id -> its commit
        self._idle_until = 0.0  # no scene to open ahead was found: look again after this

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set."""
        while not stop.is_set():
            self._reap()
            record = self.store.next_to_send(exclude=self._closing)
            if record is None or len(self._closing) >= MAX_CLOSING:
                self.wake.wait(_TICK_S if self._closing else 0.5)
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
        """Send one scene's chunks and start its commit, retrying until that is done, or it is
        pre-empted, refused or stopped (None)."""
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
                return self._refused(record, exc)
            except BaseException:  # never leave PUTs running under a retry that re-sends them
                self._settle(stop)
                raise
        return None

    def _refused(self, record: SceneRecord, exc: GroundRefusedError) -> Outcome:
        LOG.error("ground refused scene %s: %s", record.scene_id, exc)
        self.store.mark_failed(record.scene_id, f"ground refused the transfer: {exc}")
        return "failed"

    def _retry_later(
        self, record: SceneRecord, exc: GroundUnavailableError, stop: threading.Event
    ) -> None:
        self._count_retry(record, exc)
        unreachable = exc.reason in UNREACHABLE_REASONS
        stop.wait(self.probe_every_s if unreachable else self.backoff.step())

    def _count_retry(self, record: SceneRecord, exc: GroundUnavailableError) -> None:
        self.stats.retry(exc.reason)
        if exc.reason == "transfer_unknown":
            self._created.discard(str(record.transfer_id))
        LOG.info("downlink of %s will be retried: %s", record.scene_id, exc)

    def _settle(self, stop: threading.Event, transfer_id: str | None = None) -> None:
        """Wait for the PUTs in flight (their failures are already handled or moot)."""
        try:
            self.pipeline.drain(stop, transfer_id)
        except _RETRIABLE as exc:
            LOG.info("a chunk in flight failed while another error was handled: %s", exc)

    def _reap(self) -> None:
        """Forget the commits that ended (a failed one's scene is sendable again), and the
        scenes opened ahead that are no longer being sent (deleted, failed, or never opened)."""
        for scene_id in [s for s, pending in self._closing.items() if pending.done]:
            del self._closing[scene_id]
        for scene_id in list(self._ahead):
            try:
                gone = self.store.get(scene_id).state is not SceneState.DOWNLINKING
            except NotFoundError:
                gone = True
            if gone:
                del self._ahead[scene_id]

    def _take_ahead(self, record: SceneRecord, stop: threading.Event) -> Transfer | None:
        """The scene's transfer opened ahead, when it was and still holds its container."""
        ahead = self._ahead.pop(record.scene_id, None)
        if ahead is None:
            return None
        try:
            transfer = ahead.pending.wait(stop)
        except _RETRIABLE as exc:
            if getattr(exc, "stopped", False):
                raise
            LOG.info("scene %s was not opened ahead (%s); opening it now", record.scene_id, exc)
            return None
        same = (transfer.record.transfer_id, transfer.record.container_sha256)
        return transfer if same == (record.transfer_id, record.container_sha256) else None

    def _request(self, nbytes: int, stop: threading.Event) -> None:
        self.link.transmit(nbytes + REQUEST_OVERHEAD_BYTES, stop)

    def _open(self, record: SceneRecord, data: bytes, stop: threading.Event) -> Transfer:
        transfer_id = str(record.transfer_id)
        if transfer_id in self._created:
            self.pipeline.drain(stop, transfer_id)  # a pre-empted scene's chunks still on the way
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
                self.stats.count("preemptions")
                LOG.info("scene %s pre-empted by a more urgent one", record.scene_id)
                return "preempted"
            self._open_ahead(transfer, stop)
            self._send_chunk(transfer, stop)
        self._open_ahead(transfer, stop)
        self._closing[record.scene_id] = Pending(
            f"commit-{record.scene_id}", lambda: self._close(transfer, stop)
        )
        return "committing"

    def _open_ahead(self, current: Transfer, stop: threading.Event) -> None:
        """Open the next scenes on threads of their own, as many as the link needs to stay busy
        while their creates are answered: the bytes queued behind the current chunk cover at
        least twice the round trip, plus a quarter second."""
        wanted = self.link.profile.rate_bps / 8 * (2 * self.link.round_trip_s + _AHEAD_S)
        queued = current.todo_bytes + sum(ahead.nbytes for ahead in self._ahead.values())
        now = time.monotonic()
        while queued <= wanted and len(self._ahead) < MAX_AHEAD and now >= self._idle_until:
            busy = {current.record.scene_id, *self._ahead, *self._closing}
            record = self.store.next_to_send(exclude=busy)
            if record is None:
                self._idle_until = now + _AHEAD_S  # nothing more to open: look again later
                return
            try:
                record = self.store.mark_downlinking(
                    record.scene_id, self.chunk_bytes_for(self.link.profile.rate_bps)
                )
                data = self.store.read_container(record.scene_id)
            except (ConflictError, NotFoundError, OSError) as exc:  # held, deleted meanwhile
                LOG.info(
                    "scene %s not opened ahead (%s); it is sent in its turn", record.scene_id, exc
                )
                return
            opened = functools.partial(self._open, record, data, stop)
            pending = Pending(f"open-{record.scene_id}", opened)
            self._ahead[record.scene_id] = _Ahead(len(data), pending)
            queued += len(data)

    def _close(self, transfer: Transfer, stop: threading.Event) -> Outcome | None:
        """Commit once every chunk is answered (on its own thread); None: to send again."""
        record = transfer.record
        try:
            self.pipeline.drain(stop, transfer.transfer_id)
            receipt = self._commit(transfer.transfer_id, str(record.container_sha256), stop)
            return self._finish(record, receipt)
        except GroundRefusedError as exc:
            return self._refused(record, exc)
        except GroundUnavailableError as exc:
            self._count_retry(record, exc)
        except LinkInterruptedError as exc:
            if not exc.stopped:
                self.stats.retry("link_interrupted")
        finally:
            self.wake.set()
        return None

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
