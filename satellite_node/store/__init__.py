"""The onboard store: scene records in SQLite (WAL, synchronous=FULL), files written atomically."""

from satellite_node.store.records import SceneRecord
from satellite_node.store.scenes import ContainerInfo, RecoveryReport, SceneStore

__all__ = ["ContainerInfo", "RecoveryReport", "SceneRecord", "SceneStore"]
