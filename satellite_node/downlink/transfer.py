"""One scene's transfer as the sender holds it, and its announcement to the ground."""

from __future__ import annotations

from dataclasses import dataclass, field

from satellite_node.priority import wire_priority
from satellite_node.store import SceneRecord
from shared.protocol.chunks import chunk_bounds
from shared.protocol.messages import TransferCreate, TransferStatus


def _expand(ranges: list[tuple[int, int]]) -> list[int]:
    return [i for start, end in ranges for i in range(start, end + 1)]


@dataclass
class Transfer:
    """A scene being sent: its container, the ground's view of it, the chunks still to start.

    Attributes:
        record: the scene (state ``downlinking``).
        data: the container's bytes.
        status: the ground's answer when the transfer was opened.
        todo: missing chunk indices not started yet, in order.
    """

    record: SceneRecord
    data: bytes
    status: TransferStatus
    todo: list[int] = field(default_factory=list)

    @classmethod
    def opened(cls, record: SceneRecord, data: bytes, status: TransferStatus) -> Transfer:
        """A transfer the ground has opened: the chunks it still misses are to send."""
        todo = [] if status.receipt is not None else _expand(status.missing)
        return cls(record, data, status, todo)

    @property
    def todo_bytes(self) -> int:
        """Bytes of the chunks not started yet."""
        size, total = self.status.chunk_bytes, len(self.data)
        return sum(min(size, total - index * size) for index in self.todo)

    @property
    def transfer_id(self) -> str:
        """The ground's id of this transfer."""
        return str(self.record.transfer_id)

    def chunk(self, index: int) -> bytes:
        """The bytes of chunk ``index``."""
        start, end = chunk_bounds(index, len(self.data), self.status.chunk_bytes)
        return self.data[start:end]


def announcement(record: SceneRecord, data: bytes) -> TransferCreate:
    """The ``POST /v1/transfers`` body that creates the scene's transfer."""
    return TransferCreate(
        transfer_id=str(record.transfer_id),
        scene_id=record.scene_id,
        total_bytes=len(data),
        sha256=str(record.container_sha256),
        chunk_bytes=int(record.chunk_bytes or 1),
        priority=wire_priority(record.priority),
        task=record.task,
        codec=str(record.codec_used),
        header=record.header or {},
    )
