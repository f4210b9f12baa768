r"""The scene state machine: the states a scene passes through onboard and every allowed move.

::

    received -> compressed -> queued -> downlinking -> delivered
                    \\-> held <-/  (the pass plan holds and releases; a held scene may be
                                   re-encoded in place, held -> held)
    any state before delivered -> failed (with the reason)

A move not in :data:`TRANSITIONS` is refused by the store with a ``ConflictError``: the scene
moved on (another thread took it), or the caller asked for something the machine never does.
"""

from __future__ import annotations

from enum import StrEnum


class SceneState(StrEnum):
    """Where a scene is onboard (the value is what the store and the API carry)."""

    RECEIVED = "received"  # raster stored durably, waiting for the compression worker
    COMPRESSED = "compressed"  # container written, raster still held
    HELD = "held"  # compressed, waiting for the pass plan to release it (SAT_PLAN=apply)
    QUEUED = "queued"  # waiting for the link
    DOWNLINKING = "downlinking"  # chunks going down; resumes after a restart
    DELIVERED = "delivered"  # the ground's receipt is stored: custody passed, files freed
    FAILED = "failed"  # with the reason; nothing is dropped silently


S = SceneState
#: Every move a scene may make. Re-entering ``downlinking`` resumes a transfer; re-entering
#: ``held`` is a re-encode of a held scene at the plan's rate.
TRANSITIONS: dict[SceneState, frozenset[SceneState]] = {
    S.RECEIVED: frozenset({S.COMPRESSED, S.FAILED}),
    S.COMPRESSED: frozenset({S.QUEUED, S.HELD, S.FAILED}),
    S.HELD: frozenset({S.HELD, S.QUEUED, S.FAILED}),
    S.QUEUED: frozenset({S.HELD, S.DOWNLINKING, S.FAILED}),
    S.DOWNLINKING: frozenset({S.DOWNLINKING, S.DELIVERED, S.FAILED}),
    S.DELIVERED: frozenset(),
    S.FAILED: frozenset(),
}
#: Every state, in the order a scene passes through them (the API lists them so).
SCENE_STATES: tuple[SceneState, ...] = tuple(SceneState)
#: Still waiting for delivery (counts against the queue).
UNDELIVERED: tuple[SceneState, ...] = (S.RECEIVED, S.COMPRESSED, S.HELD, S.QUEUED, S.DOWNLINKING)
#: Compressed and not yet delivered: what a pass may carry.
WAITING: tuple[SceneState, ...] = (S.HELD, S.QUEUED, S.DOWNLINKING)
#: Before a container is offered: a failure here releases every file of the scene.
EARLY: tuple[SceneState, ...] = (S.RECEIVED, S.COMPRESSED)
#: What the sender may take.
SENDABLE: tuple[SceneState, ...] = (S.QUEUED, S.DOWNLINKING)


def sources(target: SceneState) -> tuple[SceneState, ...]:
    """The states from which a scene may move to ``target``."""
    return tuple(state for state in SceneState if target in TRANSITIONS[state])
