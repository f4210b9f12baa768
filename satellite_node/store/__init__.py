"""The onboard store: scene records in SQLite (WAL, synchronous=FULL), files written atomically.

A scene's life is the state machine of :mod:`satellite_node.store.states`; every change is a
move it allows (:mod:`satellite_node.store.db`).
"""

from satellite_node.store.records import NewScene, SceneRecord
from satellite_node.store.scenes import ContainerInfo, RecoveryReport, SceneStore
from satellite_node.store.states import SceneState

__all__ = ["ContainerInfo", "NewScene", "RecoveryReport", "SceneRecord", "SceneState", "SceneStore"]
