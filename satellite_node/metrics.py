"""Prometheus metrics of one satellite app (its own registry, read from the store at scrape)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from satellite_node.alarms import overdue_count
from satellite_node.downlink.stats import SenderStats
from satellite_node.link.emulator import LinkEmulator
from satellite_node.priority import PRIORITY_NAMES, priority_name
from satellite_node.store import SceneStore


class SatelliteCollector(Collector):
    """Queue depth per priority, bytes pending and sent, retries, link use, oldest scene age."""

    def __init__(
        self, store: SceneStore, link: LinkEmulator, stats: SenderStats, alarm_passes: int = 3
    ) -> None:
        self.store, self.link, self.stats = store, link, stats
        self.alarm_passes = alarm_passes

    def _gauge(self, name: str, doc: str, value: float) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, doc, value=value)

    def collect(self) -> Iterator[Metric]:
        """The store's and the sender's figures, read at scrape time."""
        depth = GaugeMetricFamily(
            "eodl_sat_queue_depth", "Undelivered scenes per priority", labels=["priority"]
        )
        depths = self.store.queue_depths()
        for rank in sorted(set(PRIORITY_NAMES.values()) | set(depths)):
            depth.add_metric([priority_name(rank)], depths.get(rank, 0))
        yield depth
        yield self._gauge(
            "eodl_sat_bytes_pending",
            "Container bytes queued for the downlink",
            self.store.bytes_pending(),
        )
        yield self._gauge(
            "eodl_sat_store_used_bytes", "Bytes held by the onboard store", self.store.used_bytes()
        )
        oldest = self.store.oldest_undelivered_at()
        yield self._gauge(
            "eodl_sat_oldest_undelivered_age_seconds",
            "Age of the oldest undelivered scene (0 when none)",
            0.0 if oldest is None else max(0.0, time.time() - oldest),
        )
        overdue = overdue_count(self.link, self.store.undelivered_created_at(), self.alarm_passes)
        yield self._gauge(
            "eodl_sat_scenes_overdue",
            f"Undelivered scenes that have waited more than {self.alarm_passes} passes",
            overdue,
        )
        yield self._gauge(
            "eodl_sat_overdue_alarm",
            "1 while any scene is overdue (SAT_ALARM_PASSES)",
            float(overdue > 0),
        )
        yield self._gauge(
            "eodl_sat_link_utilisation",
            "Share of the link rate used during up time (last 10 s)",
            self.link.utilisation(),
        )
        yield self._gauge(
            "eodl_sat_link_in_pass", "1 while a pass is on", float(self.link.in_pass())
        )
        yield CounterMetricFamily(
            "eodl_sat_link_bytes_lost",
            "Bytes of transmissions a pass end or an outage cut short (sent again)",
            value=float(self.link.bytes_lost),
        )
        snap = self.stats.snapshot()
        for name, doc in (
            ("bytes_sent", "Chunk bytes acknowledged by the ground"),
            ("chunks_sent", "Chunks acknowledged by the ground"),
            ("chunks_resent", "Chunks sent again after a failed try"),
            ("delivered", "Scenes delivered with a receipt"),
            ("preemptions", "Transfers paused for a more urgent scene"),
            ("chunks_cut", "Chunk transmissions a pass end or an outage cut short"),
        ):
            yield CounterMetricFamily(f"eodl_sat_{name}", doc, value=float(snap[name]))  # type: ignore[arg-type]
        yield self._gauge(
            "eodl_sat_window_chunks",
            "Chunk PUTs allowed in flight (the link's bandwidth-delay product, at least 2)",
            float(snap["window_chunks"]),  # type: ignore[arg-type]
        )
        yield self._gauge(
            "eodl_sat_round_trip_seconds",
            "The shortest recent chunk round trip, last byte out to answer (0: none yet)",
            float(snap["round_trip_s"]),  # type: ignore[arg-type]
        )
        yield self._gauge(
            "eodl_sat_chunks_in_flight_peak",
            "The most chunk PUTs outstanding at once since start",
            float(snap["peak_in_flight"]),  # type: ignore[arg-type]
        )
        retries = CounterMetricFamily(
            "eodl_sat_retries", "Retried requests by reason", labels=["reason"]
        )
        for reason, count in sorted(dict(snap["retries"]).items()):  # type: ignore[call-overload]
            retries.add_metric([reason], count)
        yield retries


def build_registry(
    store: SceneStore, link: LinkEmulator, stats: SenderStats, alarm_passes: int = 3
) -> CollectorRegistry:
    """A fresh registry holding this app's collector (never the process-global one)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SatelliteCollector(store, link, stats, alarm_passes))
    return registry
